/**
 * bench:soak's flags as a user meets them: the bench is run (it stops at the arguments, before
 * starting anything) and a bad value exits 2 naming the flag. The soak's pure part (growth slopes,
 * log classification) has its own tests beside it, `npx vitest run --root bench/soak`: test/ may
 * not import bench/ (DESIGN.md).
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..', '..');
const RUN = join(REPO, 'bench', 'soak', 'run.ts');

function bench(args: readonly string[]) {
  return spawnSync(process.execPath, [RUN, ...args], { cwd: REPO, encoding: 'utf8', timeout: 20_000, env: { ...process.env, NODE_OPTIONS: '' } });
}

test('--help lists every flag', () => {
  const run = bench(['--help']);
  assert.equal(run.status, 0, run.stderr);
  for (const flag of ['--duration', '--warmup', '--sample-interval', '--seed', '--out']) assert.match(run.stdout, new RegExp(flag));
});

test('bad values exit 2 and name the flag', () => {
  const refused: Array<[string[], RegExp]> = [
    [['--duration', '30s'], /--duration must be from 1m to 24h/],
    [['--duration', 'soon'], /--duration: invalid duration/],
    [['--duration', '4m', '--warmup', '3m'], /--warmup must be at most half the duration/],
    [['--duration', '2m', '--sample-interval', '30s'], /--sample-interval must be from 1s to a tenth of the duration/],
    [['--seed', '1.5'], /--seed must be an integer/],
    [['--runs', '3'], /Unknown option '--runs'/],
  ];
  for (const [argv, message] of refused) {
    const run = bench(argv);
    assert.equal(run.status, 2, `${argv.join(' ')}: exit ${run.status}; ${run.stderr}`);
    assert.match(run.stderr, message, argv.join(' '));
  }
});

/**
 * bench:faults as a user meets it: the bench is run (no root needed, it stops at the arguments);
 * --help lists every cell, and an unknown cell or a senseless point exits 2 naming the flag,
 * before any host is built.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..', '..');
const RUN = join(REPO, 'bench', 'faults', 'run.ts');
const CELLS = ['corrupt-parent', 'kill-peers', 'stall-parent', 'scheduler-kill', 'seed-kill', 'origin-5xx', 'origin-reset', 'origin-stall', 'daemon-restart', 'disk-full', 'netem'];

function bench(args: readonly string[]) {
  return spawnSync(process.execPath, [RUN, ...args], { cwd: REPO, encoding: 'utf8', timeout: 20_000, env: { ...process.env, NODE_OPTIONS: '' } });
}

test('--help lists every cell and the flags that shape them', () => {
  const run = bench(['--help']);
  assert.equal(run.status, 0, run.stderr);
  for (const word of [...CELLS, '--faults', '--at', '--fault-seconds', '--restart-after', '--netem', '--peers', '--size']) assert.match(run.stdout, new RegExp(word));
});

test('an unknown cell or a senseless point exits 2 and names the flag', () => {
  const refused: Array<[string[], RegExp]> = [
    [['--faults', 'kill-peers,meteor'], /--faults: unknown fault "meteor"/],
    [['--faults', ','], /--faults must name at least one fault/],
    [['--at', '1'], /--at must be a fraction/],
    [['--size', '4MiB'], /--size must be more than 4MiB/],
    [['--peers', '1'], /--peers must be an integer from 2/],
  ];
  for (const [args, message] of refused) {
    const run = bench(args);
    assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message);
  }
});

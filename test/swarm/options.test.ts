/**
 * bench:swarm's disruption flags as a user meets them: the bench is run (no root needed, it stops
 * at the arguments) and a senseless combination exits 2 naming the flag, before any host is built.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..', '..');
const RUN = join(REPO, 'bench', 'swarm', 'run.ts');

function bench(args: readonly string[]) {
  return spawnSync(process.execPath, [RUN, ...args], { cwd: REPO, encoding: 'utf8', timeout: 20_000, env: { ...process.env, NODE_OPTIONS: '' } });
}

test('--help lists the slow-peer, kill and data-plane flags', () => {
  const run = bench(['--help']);
  assert.equal(run.status, 0, run.stderr);
  for (const flag of ['--slow-peers', '--slow-rate', '--kill-peers', '--kill-at', '--relay', '--no-keep-alive', '--stripes', '--mtls']) assert.match(run.stdout, new RegExp(flag));
});

test('senseless --slow-* and --kill-* combinations exit 2 and name the flag', () => {
  const refused: Array<[string[], RegExp]> = [
    [['--slow-peers', '2'], /--slow-peers needs --slow-rate/],
    [['--slow-rate', '10mbit'], /--slow-rate needs --slow-peers/],
    [['--slow-peers', '2', '--slow-rate', '200mbit'], /--slow-rate must be below --rate/],
    [['--peers', '4', '--slow-peers', '5', '--slow-rate', '10mbit'], /--slow-peers must be an integer from 0 to 4/],
    [['--peers', '4', '--kill-peers', '4'], /--kill-peers must be an integer from 0 to 3/],
    [['--kill-peers', '1', '--kill-at', '1'], /--kill-at must be a fraction/],
    [['--kill-peers', '1', '--kill-at', 'half'], /--kill-at must be a fraction/],
    [['--kill-at', '0.5'], /--kill-at needs --kill-peers/],
    [['--stripes', '17'], /--stripes must be an integer from 0 to 16/],
    [['--mtls=yes'], /--mtls/],
  ];
  for (const [argv, message] of refused) {
    const run = bench(argv);
    assert.equal(run.status, 2, `${argv.join(' ')}: exit ${run.status}; ${run.stderr}`);
    assert.match(run.stderr, message, argv.join(' '));
  }
});

test('--mtls is a known flag (accepted before the size check), for bench:swarm', () => {
  const run = bench(['--mtls', '--size', '1MiB']);
  assert.equal(run.status, 2, run.stderr);
  assert.match(run.stderr, /--size must be more than 4MiB/);
});

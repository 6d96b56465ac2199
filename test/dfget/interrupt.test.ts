/** dfget stopped half way: Ctrl-C then a rerun that resumes, and --timeout against an origin that stalls. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { taskIdOf } from '../../api/index.ts';
import { assertFileEquals, exists } from '../support/engine.ts';
import { dfget, errorLines, STACK_FRAME, startDfget } from '../support/cli.ts';
import { content, MiB, Origin } from '../support/origin.ts';
import { tempDir, waitFor } from '../support/temp.ts';

const PIECE = 4 * MiB;
const PIECES = 6;

test('SIGINT stops dfget with exit 130 and no output; the rerun fetches only the missing pieces', async (t) => {
  const dir = await tempDir(t, 'df-sigint-');
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());
  const body = content(PIECES * PIECE - 1000, 60);
  origin.setFile('/file', body);
  // Pieces 0 and 1 arrive at once, the rest trickle: the interrupt lands with some pieces stored.
  for (let n = 2; n < PIECES; n++) {
    origin.fault({ kind: 'throttle', match: { rangeStart: n * PIECE }, chunkBytes: 64 * 1024, delayMs: 50 });
  }
  const cacheHome = join(dir, 'cache');
  const out = join(dir, 'out', 'file.bin');
  await mkdir(join(dir, 'out'));
  const args = [origin.url(), '-O', out, '--piece-length', '4MiB', '--concurrent-piece-count', '2'];
  const taskId = taskIdOf({ url: origin.url(), pieceLength: PIECE });
  const journal = join(cacheHome, 'dragonfly', 'dfget', 'metadata', 'tasks', taskId.slice(0, 3), `${taskId}.pieces`);
  // The store's journal: one JSON line per finished piece, `dropped` lines forget one.
  const storedPieces = async () => {
    const pieces = new Set<number>();
    for (const line of (await readFile(journal, 'utf8').catch(() => '')).split('\n')) {
      if (!line.endsWith('}')) continue;
      const entry = JSON.parse(line) as { number: number; dropped?: boolean };
      if (entry.dropped) pieces.delete(entry.number);
      else pieces.add(entry.number);
    }
    return [...pieces].sort((a, b) => a - b);
  };

  const first = startDfget(args, { cacheHome });
  await waitFor('two stored pieces', async () => (await storedPieces()).length >= 2);
  first.child.kill('SIGINT');
  const interrupted = await first.result;
  assert.equal(interrupted.code, 130, interrupted.stderr);
  assert.match(interrupted.stderr, /interrupted/);
  assert.doesNotMatch(interrupted.stderr, STACK_FRAME);
  assert.equal(await exists(out), false, 'nothing under the final name');
  assert.deepEqual(await readdir(join(dir, 'out')), [], 'no temporary file left beside it either');

  const stored = await storedPieces();
  assert.ok(stored.length >= 2 && stored.length < PIECES, `stored pieces: ${stored.join(',')}`);
  origin.clearFaults();
  origin.resetLog();
  const rerun = await dfget(args, { cacheHome });
  assert.equal(rerun.code, 0, rerun.stderr);
  await assertFileEquals(out, body);
  const missing = Array.from({ length: PIECES }, (_, n) => n).filter((n) => !stored.includes(n));
  assert.deepEqual(
    origin.pieceStarts().sort((a, b) => a - b),
    missing.map((n) => n * PIECE),
  );
});

test('--timeout 1s against an origin that stalls: exit 1 and a line saying it timed out', async (t) => {
  const dir = await tempDir(t, 'df-timeout-');
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());
  origin.setFile('/file', content(9 * MiB, 61)).fault({ kind: 'stall', match: { rangeStart: PIECE }, times: Infinity });
  const out = join(dir, 'out.bin');
  const result = await dfget([origin.url(), '-O', out, '--timeout', '1s', '--piece-length', '4MiB'], {
    cacheHome: join(dir, 'cache'),
  });
  assert.equal(result.code, 1, result.stderr);
  assert.doesNotMatch(result.stderr, STACK_FRAME);
  const lines = errorLines(result.stderr);
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0]!, /timed out/);
  assert.equal(await exists(out), false);
});

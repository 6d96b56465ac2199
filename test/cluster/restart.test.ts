/**
 * A dfdaemon killed mid-download and started again on the same store: the pieces it had finished
 * are kept and not fetched again (the origin's request log shows only the missing ones).
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { taskIdOf } from '../../api/index.ts';
import { startCluster } from '../support/cluster.ts';
import { dfgetThrough, downloadTraffic, restartDaemon } from '../support/daemon.ts';
import { startDfget } from '../support/cli.ts';
import { assertFileEquals } from '../support/engine.ts';
import { content, MiB } from '../support/origin.ts';
import { waitFor } from '../support/temp.ts';

const PIECE = 4 * MiB;
const PIECES = 8;

test('a daemon killed mid-download and restarted keeps its finished pieces: they are not fetched again', { timeout: 180_000 }, async (t) => {
  // No seed: the peer goes to the origin itself, so the origin's log shows every piece it fetched.
  const c = await startCluster(t, { peers: 1, seed: false });
  const body = content(PIECES * PIECE - 999, 301);
  c.origin.setFile('/file', body);
  // Pieces 0-2 come at once, the rest trickle, so the kill lands with some pieces stored.
  for (let n = 3; n < PIECES; n++) c.origin.fault({ kind: 'throttle', match: { rangeStart: n * PIECE }, chunkBytes: 64 * 1024, delayMs: 100 });
  const peer = c.peers[0]!;
  const url = c.origin.url('/file');
  const out = join(c.dir, 'out.bin');

  const first = startDfget([url, '-O', out, '--endpoint', peer.socketPath], { cacheHome: c.cacheHome, timeoutMs: 100_000 });
  await waitFor('three stored pieces', async () => (await downloadTraffic(peer)).back_to_source >= 3 * PIECE, 60_000);
  await peer.proc.kill();
  const interrupted = await first.result;
  assert.equal(interrupted.code, 1, 'dfget fails when its daemon dies');
  assert.match(interrupted.stderr, /dfget: error: /);

  // What the daemon had recorded when it died: its journal, one JSON line per finished piece.
  const taskId = taskIdOf({ url });
  const journal = await readFile(join(peer.storageDir, 'metadata', 'tasks', taskId.slice(0, 3), `${taskId}.pieces`), 'utf8');
  const kept = new Set<number>();
  for (const line of journal.split('\n')) {
    if (!line.endsWith('}')) continue;
    const entry = JSON.parse(line) as { number: number; dropped?: boolean };
    if (entry.dropped) kept.delete(entry.number);
    else kept.add(entry.number);
  }
  assert.ok(kept.size >= 3 && kept.size < PIECES, `kept pieces: ${[...kept].join(',')}`);
  c.origin.clearFaults();
  c.origin.resetLog();
  await restartDaemon(t, peer);
  const rerun = await dfgetThrough(peer, [url, '-O', out], { cacheHome: c.cacheHome });
  assert.equal(rerun.code, 0, rerun.stderr);
  await assertFileEquals(out, body);
  const missing = Array.from({ length: PIECES }, (_, n) => n).filter((n) => !kept.has(n));
  assert.deepEqual(
    c.origin.pieceStarts().sort((a, b) => a - b),
    missing.map((n) => n * PIECE),
    'exactly the pieces missing at the kill were fetched, each once',
  );
  const traffic = await downloadTraffic(peer);
  assert.equal(traffic.local_peer, [...kept].reduce((sum, n) => sum + Math.min(PIECE, body.length - n * PIECE), 0), 'the kept pieces count as local');
});

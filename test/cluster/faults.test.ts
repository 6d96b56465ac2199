/**
 * Faults in a real cluster: a parent killed mid-download, the scheduler down before and during a
 * download, the seed peer down. Parents are slowed with upload.bandwidthLimit (a real limiter in
 * the daemon), so the kill lands while pieces are still moving.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startCluster } from '../support/cluster.ts';
import { dfgetThrough, downloadTraffic } from '../support/daemon.ts';
import { startDfget } from '../support/cli.ts';
import { assertFileEquals } from '../support/engine.ts';
import { content, MiB } from '../support/origin.ts';
import { waitFor } from '../support/temp.ts';

const LENGTH = 32 * MiB;
/** 64 Mbit/s per parent: a 32 MiB file takes seconds, so a kill lands mid-download. */
const SLOW = { upload: { bandwidthLimit: '64Mbps' } };

test('a parent killed mid-download: the child finishes from the other parents, nothing more from the origin', { timeout: 180_000 }, async (t) => {
  const c = await startCluster(t, { peers: 3, config: SLOW });
  const body = content(LENGTH, 201);
  c.origin.setFile('/file', body);
  const url = c.origin.url('/file');
  const [p1, p2, p3] = c.peers as [(typeof c.peers)[number], (typeof c.peers)[number], (typeof c.peers)[number]];
  for (const [peer, name] of [[p1, 'out-1'], [p2, 'out-2']] as const) {
    const result = await dfgetThrough(peer, [url, '-O', join(c.dir, name)], { cacheHome: c.cacheHome });
    assert.equal(result.code, 0, result.stderr);
  }
  const originPieces = c.origin.pieceStarts().length;

  const run = startDfget([url, '-O', join(c.dir, 'out-3'), '--endpoint', p3.socketPath], { cacheHome: c.cacheHome, timeoutMs: 120_000 });
  // The scheduler picks the parents; the one killed is a peer it picked (not the seed).
  const offered = await p3.proc.waitForLine((line) => line.msg === 'scheduler: candidate parents', 60_000);
  const victim = [p1, p2].find((peer) => (offered.parents as string[]).some((id) => id.startsWith(`${peer.hostId}-`)));
  assert.ok(victim, `a normal peer among the parents: ${(offered.parents as string[]).join(', ')}`);
  await waitFor('the third peer to have some pieces', async () => (await downloadTraffic(p3)).remote_peer >= 4 * MiB, 60_000);
  await victim.proc.kill();
  const result = await run.result;
  assert.equal(result.code, 0, result.stderr);
  await assertFileEquals(join(c.dir, 'out-3'), body);
  assert.equal(c.origin.pieceStarts().length, originPieces, 'no piece was fetched from the origin again');
  assert.equal((await downloadTraffic(p3)).back_to_source, 0);
});

test('the scheduler down before a download: the peer downloads from the origin by itself', { timeout: 120_000 }, async (t) => {
  const c = await startCluster(t, { peers: 1 });
  const body = content(12 * MiB + 5, 202);
  c.origin.setFile('/file', body);
  await c.scheduler.proc.kill();
  const peer = c.peers[0]!;
  const result = await dfgetThrough(peer, [c.origin.url('/file'), '-O', join(c.dir, 'out')], { cacheHome: c.cacheHome });
  assert.equal(result.code, 0, result.stderr);
  await assertFileEquals(join(c.dir, 'out'), body);
  assert.equal((await downloadTraffic(peer)).back_to_source, body.length);
  assert.ok(peer.proc.lines.some((line) => line.msg === 'scheduler unavailable; finishing from the origin'));
});

test('the scheduler down during a download: the peer finishes anyway, with a correct file', { timeout: 120_000 }, async (t) => {
  const c = await startCluster(t, { peers: 1, config: SLOW });
  const body = content(LENGTH, 203);
  c.origin.setFile('/file', body);
  const peer = c.peers[0]!;
  const run = startDfget([c.origin.url('/file'), '-O', join(c.dir, 'out'), '--endpoint', peer.socketPath], { cacheHome: c.cacheHome, timeoutMs: 100_000 });
  await waitFor('the peer to have some pieces', async () => {
    const traffic = await downloadTraffic(peer);
    return traffic.remote_peer + traffic.back_to_source >= 4 * MiB;
  }, 60_000);
  await c.scheduler.proc.kill();
  const result = await run.result;
  assert.equal(result.code, 0, result.stderr);
  await assertFileEquals(join(c.dir, 'out'), body);
  const traffic = await downloadTraffic(peer);
  assert.equal(traffic.remote_peer + traffic.back_to_source, body.length);
});

test('the seed peer killed while a peer downloads from it: the peer goes back to the origin and finishes', { timeout: 120_000 }, async (t) => {
  const c = await startCluster(t, { peers: 1, config: SLOW });
  const body = content(LENGTH, 204);
  c.origin.setFile('/file', body);
  const peer = c.peers[0]!;
  const run = startDfget([c.origin.url('/file'), '-O', join(c.dir, 'out'), '--endpoint', peer.socketPath], { cacheHome: c.cacheHome, timeoutMs: 100_000 });
  await waitFor('the peer to have pieces from the seed', async () => (await downloadTraffic(peer)).remote_peer >= 4 * MiB, 60_000);
  await c.seed!.proc.kill();
  const result = await run.result;
  assert.equal(result.code, 0, result.stderr);
  await assertFileEquals(join(c.dir, 'out'), body);
  const traffic = await downloadTraffic(peer);
  assert.ok(traffic.remote_peer > 0 && traffic.back_to_source > 0, `some from the seed, the rest from the origin: ${JSON.stringify(traffic)}`);
  assert.equal(traffic.remote_peer + traffic.back_to_source, body.length);
});

test('the seed peer down before anything is asked: peers go back to source', { timeout: 120_000 }, async (t) => {
  const c = await startCluster(t, { peers: 1 });
  const body = content(12 * MiB, 205);
  c.origin.setFile('/file', body);
  // Killed, not stopped: the scheduler still believes in it and triggers it.
  await c.seed!.proc.kill();
  const peer = c.peers[0]!;
  const result = await dfgetThrough(peer, [c.origin.url('/file'), '-O', join(c.dir, 'out')], { cacheHome: c.cacheHome });
  assert.equal(result.code, 0, result.stderr);
  await assertFileEquals(join(c.dir, 'out'), body);
  assert.equal((await downloadTraffic(peer)).back_to_source, body.length);
});

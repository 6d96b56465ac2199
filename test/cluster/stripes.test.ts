/**
 * The striped forest end to end, all real processes: a dfscheduler with `scheduler.stripes`, a seed
 * dfdaemon and peers that download the same file at once. Each peer is told a plan (one parent per
 * stripe), the origin still sends each piece once, the peers feed one another, and a peer killed
 * mid-download costs its children only a switch to their backups. Parents are slowed with
 * upload.bandwidthLimit (a real limiter in the daemon) so downloads overlap and the kill lands
 * while pieces move.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startCluster } from '../support/cluster.ts';
import { downloadTraffic, type DaemonHandle } from '../support/daemon.ts';
import { startDfget } from '../support/cli.ts';
import { assertFileEquals } from '../support/engine.ts';
import { content, MiB } from '../support/origin.ts';
import { waitFor } from '../support/temp.ts';

const PIECE = 4 * MiB;
const LENGTH = 32 * MiB;
const STRIPES = 2;
const CONFIG = { upload: { bandwidthLimit: '96Mbps' }, download: { keepAlive: true } };

function plansOf(peer: DaemonHandle): Array<Record<string, unknown>> {
  return peer.proc.lines.filter((line) => line.msg === 'scheduler: candidate parents' || line.msg === 'scheduler: new parents mid-round');
}

test(`stripes ${STRIPES}: a seed and four peers at once each follow a plan; the origin sends each piece once and the peers feed one another`, { timeout: 180_000 }, async (t) => {
  const c = await startCluster(t, { peers: 4, schedulerConfig: { scheduler: { stripes: STRIPES } }, config: CONFIG });
  const body = content(LENGTH, 301);
  c.origin.setFile('/striped.bin', body);
  const url = c.origin.url('/striped.bin');
  const runs = c.peers.map((peer, i) => startDfget([url, '-O', join(c.dir, `out-${i + 1}`), '--endpoint', peer.socketPath], { cacheHome: c.cacheHome, timeoutMs: 150_000 }));
  const results = await Promise.all(runs.map((run) => run.result));
  results.forEach((result, i) => assert.equal(result.code, 0, `peer-${i + 1}: ${result.stderr}`));
  for (let i = 1; i <= c.peers.length; i++) await assertFileEquals(join(c.dir, `out-${i}`), body);

  const starts = c.origin.pieceStarts('/striped.bin').sort((a, b) => a - b);
  assert.deepEqual(starts, Array.from({ length: LENGTH / PIECE }, (_, n) => n * PIECE), 'the origin sent each piece exactly once');
  let fromPeers = 0;
  for (const peer of c.peers) {
    const traffic = await downloadTraffic(peer);
    assert.equal(traffic.back_to_source, 0, `${peer.name} fetched nothing from the origin`);
    assert.equal(traffic.remote_peer, LENGTH, `${peer.name} got every piece from parents`);
    const plans = plansOf(peer).filter((line) => line.stripes === STRIPES);
    assert.ok(plans.length > 0, `${peer.name} was told a striped plan: ${JSON.stringify(plansOf(peer))}`);
    const parents = new Set(plans.flatMap((line) => line.parents as string[]));
    if ([...parents].some((id) => !id.includes('-seed'))) fromPeers++;
  }
  // Each peer forwards in one stripe: all but the first placed have another peer as a parent.
  assert.ok(fromPeers >= c.peers.length - 1, `peers with a peer among their stripe parents: ${fromPeers}`);
});

test(`stripes ${STRIPES}: a peer killed mid-download; every survivor finishes with the right bytes and nothing more from the origin`, { timeout: 180_000 }, async (t) => {
  const c = await startCluster(t, { peers: 4, schedulerConfig: { scheduler: { stripes: STRIPES } }, config: CONFIG });
  const body = content(LENGTH, 302);
  c.origin.setFile('/striped.bin', body);
  const url = c.origin.url('/striped.bin');
  const runs = c.peers.map((peer, i) => startDfget([url, '-O', join(c.dir, `out-${i + 1}`), '--endpoint', peer.socketPath], { cacheHome: c.cacheHome, timeoutMs: 150_000 }));
  // The victim: a peer that some other peer was told to use as a stripe parent.
  const isParentOfAnother = (candidate: DaemonHandle) =>
    c.peers.some((peer) => peer !== candidate && plansOf(peer).some((line) => (line.parents as string[]).some((id) => id.startsWith(`${candidate.hostId}-`))));
  await waitFor("a peer named as another peer's parent", () => c.peers.some(isParentOfAnother), 60_000);
  const victim = c.peers.find(isParentOfAnother)!;
  await waitFor('the victim to hold a piece', async () => (await downloadTraffic(victim)).remote_peer >= PIECE, 60_000);
  const originBefore = c.origin.pieceStarts('/striped.bin').length;
  await victim.proc.kill();
  const index = c.peers.indexOf(victim);
  const results = await Promise.all(runs.map((run) => run.result));
  for (const [i, result] of results.entries()) {
    if (i === index) continue;
    assert.equal(result.code, 0, `peer-${i + 1}: ${result.stderr}`);
    await assertFileEquals(join(c.dir, `out-${i + 1}`), body);
  }
  // The seed may still be fetching from the origin when the kill lands; nothing is fetched twice.
  const starts = c.origin.pieceStarts('/striped.bin');
  assert.equal(new Set(starts).size, starts.length, `no piece from the origin twice (before the kill: ${originBefore})`);
});

import assert from 'node:assert/strict';
import { test } from 'vitest';
import { GarbageCollector, peerLeaveReason, type GcOptions } from '../gc.ts';
import { NOOP_LOGGER } from '../log.ts';
import { createSchedulerMetrics } from '../metrics.ts';
import { PeerState } from '../resource/fsm.ts';
import { World } from './fixtures.ts';

const OPTIONS: GcOptions = {
  pieceDownloadTimeoutMs: 1_800_000,
  peerGCIntervalMs: 10_000,
  peerTTLMs: 86_400_000,
  taskGCIntervalMs: 1_800_000,
  hostGCIntervalMs: 300_000,
  hostTTLMs: 3_600_000,
};

test('peer leave reasons', () => {
  const w = new World();
  const cases: readonly [string, PeerState, (now: number) => number, { pieceAgo?: number; updatedAgo?: number; hostAgo?: number }, boolean][] = [
    ['fresh running peer', PeerState.Running, (n) => n, {}, false],
    ['running, no piece for 31 min', PeerState.Running, (n) => n, { pieceAgo: 31 * 60_000 }, true],
    ['back to source, no piece for 31 min', PeerState.BackToSource, (n) => n, { pieceAgo: 31 * 60_000 }, true],
    ['succeeded, no piece for 31 min', PeerState.Succeeded, (n) => n, { pieceAgo: 31 * 60_000 }, false],
    ['not updated for 25 h', PeerState.Succeeded, (n) => n, { updatedAgo: 25 * 3_600_000 }, true],
    ['host silent for 2 h', PeerState.Succeeded, (n) => n, { hostAgo: 2 * 3_600_000 }, true],
    ['failed', PeerState.Failed, (n) => n, {}, true],
  ];
  cases.forEach(([name, state, , ago, leaves], i) => {
    const peer = w.peer(`p${i}`, state);
    const now = w.now + 10 * 3_600_000 * 3;
    peer.pieceUpdatedAt = now - (ago.pieceAgo ?? 0);
    peer.updatedAt = now - (ago.updatedAgo ?? 0);
    peer.host.updatedAt = now - (ago.hostAgo ?? 0);
    assert.equal(peerLeaveReason(peer, now, OPTIONS) !== undefined, leaves, name);
  });
});

test('peers over the per-task limit: idle succeeded ones leave', () => {
  const w = new World();
  const peers = Array.from({ length: 301 }, (_, i) => w.peer(`p${i}`, PeerState.Succeeded));
  assert.equal(peerLeaveReason(peers[0]!, w.now, OPTIONS), 'task has too many peers and this one serves nobody');
  const child = w.peer('child', PeerState.ReceivedNormal);
  w.task.addPeerEdge(peers[1]!, child);
  assert.equal(peerLeaveReason(peers[1]!, w.now, OPTIONS), undefined);
});

test('two rounds: Leave, then removal; then the empty task; hosts by announce interval', () => {
  const w = new World();
  const left: string[] = [];
  const gc = new GarbageCollector({ resources: w.resources, options: OPTIONS, metrics: createSchedulerMetrics(), log: NOOP_LOGGER, now: () => w.now, onPeerLeave: (p) => left.push(p.id) });
  const failed = w.peer('failed', PeerState.Failed);
  gc.collectPeers(w.now);
  assert.equal(failed.state, PeerState.Leave);
  assert.deepEqual(left, ['failed']);
  assert.ok(w.resources.peers.has('failed'));
  gc.collectPeers(w.now);
  assert.ok(!w.resources.peers.has('failed'));
  gc.collectTasks(w.now);
  assert.equal(w.resources.tasks.size, 0);

  w.resources.announceHost({ ...w.host('h1').info }, 1000, w.now);
  gc.collectHosts(w.now + 1999);
  assert.ok(w.resources.hosts.has('h1'));
  gc.collectHosts(w.now + 2001);
  assert.ok(!w.resources.hosts.has('h1'));
  gc.start();
  gc.stop();
});

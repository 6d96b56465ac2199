import assert from 'node:assert/strict';
import { test } from 'vitest';
import { peerLeaveReason } from '../gc.ts';
import { NOOP_LOGGER } from '../log.ts';
import { PeerEvent, PeerState } from '../resource/fsm.ts';
import type { AnnounceResponse, Peer } from '../resource/peer.ts';
import { rejectReason } from '../scheduling/filter.ts';
import { Scheduling, type SchedulingOptions } from '../scheduling/scheduler.ts';
import { rootOf } from '../scheduling/striping.ts';
import { PEER_COUNT_LIMIT_FOR_TASK } from '../resource/task.ts';
import { World } from './fixtures.ts';

const OPTIONS: SchedulingOptions = { retryLimit: 5, retryBackToSourceLimit: 4, retryIntervalMs: 1, filterParentLimit: 15, candidateParentLimit: 3, stripes: 4 };

type Normal = Extract<AnnounceResponse, { type: 'normal' }>;

function lastPlan(w: World, id: string): Normal {
  const last = w.sent.get(id)!.at(-1)!;
  assert.equal(last.type, 'normal');
  return last as Normal;
}

/** A seed downloading from the origin and `n` peers scheduled in order. */
async function striped(n: number, options: Partial<SchedulingOptions> = {}) {
  const w = new World();
  const seed = w.peer('seed', PeerState.BackToSource, { hostExtra: { type: 'seed' } });
  const scheduling = new Scheduling({ ...OPTIONS, ...options }, NOOP_LOGGER);
  const peers: Peer[] = [];
  for (let i = 0; i < n; i++) {
    const peer = w.peer(`p${i}`, PeerState.ReceivedNormal);
    assert.equal(await scheduling.scheduleCandidateParents(peer, new Set([peer.id])), 'normal');
    peers.push(peer);
  }
  return { w, seed, scheduling, peers };
}

test('root: the seed peer once it serves, else the earliest peer from the origin or done; never a host that shares nothing', () => {
  const cases: readonly [string, (w: World) => void, string | undefined][] = [
    ['nobody serves yet', (w) => w.peer('a', PeerState.ReceivedNormal), undefined],
    ['a seed registered, not started', (w) => w.peer('s', PeerState.ReceivedNormal, { hostExtra: { type: 'seed' } }), undefined],
    ['a seed from the origin', (w) => {
      w.peer('a', PeerState.BackToSource);
      w.peer('s', PeerState.BackToSource, { hostExtra: { type: 'seed' } });
    }, 's'],
    ['no seed: the first from the origin', (w) => {
      w.peer('a', PeerState.Running, { pieces: 2 });
      w.peer('b', PeerState.BackToSource);
      w.now++;
      w.peer('c', PeerState.Succeeded);
    }, 'b'],
    ['a leech is skipped', (w) => {
      w.peer('a', PeerState.BackToSource, { hostExtra: { disableShared: true } });
      w.now++;
      w.peer('b', PeerState.Succeeded);
    }, 'b'],
  ];
  for (const [name, build, expected] of cases) {
    const w = new World();
    build(w);
    assert.equal(rootOf(w.task)?.id, expected, name);
  }
});

test('forest edges are not DAG edges: they count in the degrees and charge each parent its share of the load', async () => {
  const { w, seed, peers } = await striped(6);
  const task = w.task;
  for (const peer of peers) {
    assert.equal(task.dag.inDegree(peer.id), 0, `${peer.id}: no DAG edge`);
    const parents = new Set(lastPlan(w, peer.id).plan!.stripes.map((s) => s.parentId));
    assert.equal(task.inDegree(peer.id), parents.size, `${peer.id}: one edge per distinct parent`);
  }
  // Everyone's stripe parents, counted: what each host was charged.
  const charged = new Map<string, number>();
  for (const peer of peers) for (const s of lastPlan(w, peer.id).plan!.stripes) charged.set(s.parentId, (charged.get(s.parentId) ?? 0) + 1);
  const perStripe = peers[0]!.peakBandwidthUsage(task.pieceLength) / 4;
  for (const parent of [seed, ...peers]) {
    assert.equal(parent.host.txBandwidth, (charged.get(parent.id) ?? 0) * perStripe, `${parent.id}: projected tx`);
    assert.equal(task.outDegree(parent.id) > 0, charged.has(parent.id), `${parent.id}: serves someone`);
  }
  // A member that has parents counts as fed: a candidate before its first piece, as in the DAG.
  const outsider = w.peer('outsider', PeerState.ReceivedNormal);
  assert.equal(rejectReason(peers[0]!, outsider, new Set()), undefined);
  // Done children give their load back.
  for (const peer of peers) peer.fire(PeerEvent.DownloadSucceeded, w.now);
  for (const parent of [seed, ...peers]) {
    assert.equal(parent.host.txBandwidth, 0, `${parent.id}: load given back`);
    assert.equal(task.outDegree(parent.id), 0);
  }
});

test('a host that shares nothing is fed but never a parent', async () => {
  const w = new World();
  w.peer('seed', PeerState.BackToSource, { hostExtra: { type: 'seed' } });
  const scheduling = new Scheduling(OPTIONS, NOOP_LOGGER);
  const ids = ['p0', 'leech', 'p1', 'p2', 'p3', 'p4'];
  for (const id of ids) {
    const peer = w.peer(id, PeerState.ReceivedNormal, { hostExtra: { disableShared: id === 'leech' } });
    await scheduling.scheduleCandidateParents(peer, new Set([peer.id]));
  }
  for (const id of ids) {
    const plan = lastPlan(w, id);
    assert.equal(plan.plan!.stripes.length, 4);
    assert.ok(!plan.parents.some((p) => p.id === 'leech'), `${id}: the leech is not offered`);
  }
  assert.equal(w.task.outDegree('leech'), 0);
});

test('a reschedule moves the peer off the primaries it blocklisted, to a backup', async () => {
  const { w, scheduling, peers } = await striped(6);
  const child = peers[5]!;
  const before = lastPlan(w, child.id).plan!.stripes;
  const blocked = before.find((s) => s.parentId !== 'seed')!;
  child.blockParents.add(blocked.parentId);
  assert.equal(await scheduling.scheduleCandidateParents(child, child.blockParents), 'normal');
  const after = lastPlan(w, child.id).plan!.stripes;
  assert.equal(after[blocked.stripe]!.parentId, blocked.backupIds[0], 'the first backup takes the stripe');
  for (const s of after) assert.ok(!s.backupIds.includes(blocked.parentId), 'the blocked parent is no backup');
});

test('the root ending drops the forest and its edges; the next schedule grows one from the next root', async () => {
  const { w, seed, scheduling, peers } = await striped(4);
  const first = w.peer('origin', PeerState.Succeeded);
  seed.fire(PeerEvent.DownloadFailed, w.now);
  scheduling.peerEnded(seed);
  assert.equal(scheduling.striping!.forestOf(w.task), undefined);
  for (const peer of peers) assert.equal(w.task.inDegree(peer.id), 0, `${peer.id}: edges dropped`);
  assert.equal(seed.host.txBandwidth, 0);
  const late = w.peer('late', PeerState.ReceivedNormal);
  await scheduling.scheduleCandidateParents(late, new Set([late.id]));
  assert.equal(scheduling.striping!.forestOf(w.task)!.rootId, first.id);
  assert.deepEqual(lastPlan(w, 'late').plan!.stripes.map((s) => s.parentId), [first.id, first.id, first.id, first.id]);
});

test('GC over the peer limit keeps a done member while it feeds downloading children, not after', async () => {
  const { w, peers } = await striped(8);
  for (let i = 0; w.task.peerCount <= PEER_COUNT_LIMIT_FOR_TASK; i++) w.peer(`filler${i}`, PeerState.Succeeded);
  const options = { pieceDownloadTimeoutMs: 1_800_000, peerGCIntervalMs: 10_000, peerTTLMs: 86_400_000, taskGCIntervalMs: 1_800_000, hostGCIntervalMs: 300_000, hostTTLMs: 3_600_000 };
  const feeding = peers[0]!;
  assert.ok(w.task.outDegree(feeding.id) > 0);
  feeding.fire(PeerEvent.DownloadSucceeded, w.now);
  assert.equal(peerLeaveReason(feeding, w.now, options), undefined);
  for (const peer of peers.slice(1)) peer.fire(PeerEvent.DownloadSucceeded, w.now);
  assert.equal(peerLeaveReason(feeding, w.now, options), 'task has too many peers and this one serves nobody');
});

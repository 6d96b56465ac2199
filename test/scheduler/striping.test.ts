/**
 * Striped scheduling (`scheduler.stripes`) over a real gRPC server with real grpc-js clients: the
 * plans peers receive on their AnnouncePeer streams, and the plans pushed after a change. The
 * forest is deterministic, so a StripeForest fed the same joins says exactly which members each
 * change moves and where; the plans on the wire must match it and be sound on their own.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'vitest';
import type { schedulerv2 } from '../../api/index.ts';
import { StripeForest } from '../../scheduler/index.ts';
import { download, eventually, startHarness, TASK_ID, type Harness, type PeerStreamClient } from './support.ts';

type Response = schedulerv2.AnnouncePeerResponse__Output;
type Normal = schedulerv2.NormalTaskResponse__Output;

const K = 4;
const SEED = 'seed-peer';
const PIECES = 8;

interface Member {
  readonly stream: PeerStreamClient;
  /** Every response the stream received, in order. */
  readonly got: Response[];
}

interface Swarm {
  readonly h: Harness;
  readonly members: Map<string, Member>;
  /** The same forest, fed the same joins. */
  readonly oracle: StripeForest;
  /** Responses each member should have received so far. */
  readonly expected: Map<string, number>;
}

const peerId = (i: number) => `peer-${i}`;

function record(stream: PeerStreamClient): Response[] {
  const got: Response[] = [];
  stream.call.on('data', (response: Response) => got.push(response));
  return got;
}

/** A seed host's peer downloading from the origin, then `n` peers registered one after another. */
async function swarm(t: TestContext, n: number, stripes = K): Promise<Swarm> {
  // No seed trigger: the seed peer registers by itself, as a seed host does.
  const h = await startHarness(t, { scheduler: { stripes }, seedPeer: { enable: false } });
  await h.announceHost({ id: 'seed-host', type: 'HOST_TYPE_SUPER_SEED' });
  const seed = h.peer('seed-host', SEED);
  const seedGot = record(seed);
  seed.register(download(PIECES));
  await eventually(() => seedGot[0], 'the seed answered');
  assert.equal(seedGot[0]!.response, 'needBackToSourceResponse');
  seed.send({ downloadPeerBackToSourceStartedRequest: {} });

  // Every host announces the same uplink: the median, so everyone (the seed too) has k slots.
  const oracle = new StripeForest(stripes, { id: SEED, slots: stripes });
  const members = new Map<string, Member>();
  const expected = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const id = peerId(i);
    await h.announceHost({ id: `host-${i}` });
    const stream = h.peer(`host-${i}`, id);
    const got = record(stream);
    members.set(id, { stream, got });
    stream.register(download(PIECES));
    await eventually(() => got[0], `${id} answered`);
    expected.set(id, 1);
    for (const moved of oracle.join({ id, slots: stripes })) expected.set(moved, expected.get(moved)! + 1);
  }
  return { h, members, oracle, expected };
}

/** Waits until every member got what it should, then one more round trip: nothing else may come. */
async function settle(s: Swarm): Promise<void> {
  for (const [id, member] of s.members) await eventually(() => member.got.length >= s.expected.get(id)!, `${id}: ${s.expected.get(id)} responses`);
  await s.h.unary('StatTask', { taskId: TASK_ID });
  for (const [id, member] of s.members) assert.equal(member.got.length, s.expected.get(id), `${id}: responses received`);
}

function latest(member: Member): Normal {
  const last = member.got.at(-1)!;
  assert.equal(last.response, 'normalTaskResponse');
  return last.normalTaskResponse!;
}

/** One entry per stripe, every named id among the candidates (each once), and no blocked backup. */
function assertWellFormed(id: string, plan: Normal, stripes = K): void {
  assert.equal(plan.stripeCount, stripes, `${id}: stripe count`);
  assert.deepEqual(plan.stripeParents.map((p) => p.stripe), [...Array(stripes).keys()], `${id}: one entry per stripe`);
  const candidates = plan.candidateParents.map((p) => p.id);
  assert.equal(new Set(candidates).size, candidates.length, `${id}: candidates are unique`);
  for (const { parentId, backupIds } of plan.stripeParents) {
    for (const named of [parentId, ...backupIds]) assert.ok(candidates.includes(named), `${id}: ${named} is among the candidate parents`);
    assert.ok(!backupIds.includes(parentId) && !backupIds.includes(id), `${id}: backups are neither the primary nor itself`);
  }
  for (const candidate of plan.candidateParents) assert.ok(candidate.host?.ip, `${id}: candidate ${candidate.id} comes with its address`);
}

/** Per stripe, parent walks from every member reach the seed without a cycle; interior sets are disjoint. */
function assertForest(plans: ReadonlyMap<string, Normal>, stripes = K): void {
  const forwarding = new Map<string, number>();
  for (let s = 0; s < stripes; s++) {
    const parentOf = new Map([...plans].map(([id, plan]) => [id, plan.stripeParents[s]!.parentId]));
    for (const id of plans.keys()) {
      const seen = new Set([id]);
      for (let at = parentOf.get(id)!; at !== SEED; at = parentOf.get(at)!) {
        assert.ok(!seen.has(at), `stripe ${s}: cycle through ${at}`);
        assert.ok(plans.has(at), `stripe ${s}: ${at} is a member`);
        seen.add(at);
      }
    }
    for (const parent of new Set(parentOf.values())) {
      if (parent === SEED) continue;
      assert.ok(!forwarding.has(parent), `${parent} forwards in stripes ${forwarding.get(parent)} and ${s}`);
      forwarding.set(parent, s);
    }
  }
}

const plansOf = (s: Swarm) => new Map([...s.members].map(([id, member]) => [id, latest(member)]));

/** Primaries on the wire are the oracle's, for every member. */
function assertMatchesOracle(s: Swarm): void {
  for (const [id, plan] of plansOf(s)) {
    const want = s.oracle.planOf(id)!.parents.map((p) => p.parentId);
    assert.deepEqual(plan.stripeParents.map((p) => p.parentId), want, `${id}: primaries`);
  }
}

test('k = 4, a seed and 8 peers: one parent per stripe, each peer forwards in one stripe, every id a candidate, no cycle', async (t) => {
  const s = await swarm(t, 8);
  await settle(s);
  const plans = plansOf(s);
  for (const [id, plan] of plans) assertWellFormed(id, plan);
  assertForest(plans);
  assertMatchesOracle(s);
  for (const [id, plan] of plans) {
    for (const [stripe, { parentId, backupIds }] of plan.stripeParents.entries()) {
      // Backups are as of the member's last plan (later joins do not re-send unmoved members theirs).
      for (const named of [parentId, ...backupIds]) {
        if (named !== SEED) assert.equal(s.oracle.planOf(named)!.forwardingStripe, stripe, `${id}: ${named} forwards in stripe ${stripe}`);
      }
    }
  }
});

const ENDINGS: readonly [string, (s: Swarm, member: Member, id: string) => Promise<unknown> | void][] = [
  ['LeavePeer', (s, _member, id) => s.h.unary('LeavePeer', { hostId: `host-${id.slice('peer-'.length)}`, taskId: TASK_ID, peerId: id })],
  ['DownloadPeerFailed', (_s, member) => member.stream.send({ downloadPeerFailedRequest: { description: 'disk full' } })],
  ['its stream cancelled', (_s, member) => member.stream.cancel()],
];

for (const [ending, end] of ENDINGS) {
  test(`a peer that ends (${ending}): exactly the members it fed get new plans, which do not name it`, async (t) => {
    const s = await swarm(t, 8);
    await settle(s);
    // The first joined forwards with children under it.
    const gone = peerId(0);
    const stripe = s.oracle.planOf(gone)!.forwardingStripe!;
    assert.ok(s.oracle.childrenOf(gone, stripe).length > 0, 'the ending peer feeds someone');
    const orphans = s.oracle.remove(gone);
    assert.ok(orphans.length > 0);
    for (const id of orphans) s.expected.set(id, s.expected.get(id)! + 1);
    const member = s.members.get(gone)!;
    s.members.delete(gone);
    await end(s, member, gone);
    await settle(s);
    const plans = plansOf(s);
    for (const id of orphans) {
      const plan = plans.get(id)!;
      assertWellFormed(id, plan);
      assert.ok(!plan.candidateParents.some((p) => p.id === gone), `${id}: the peer that ended is not offered`);
    }
    assertForest(plans);
    assertMatchesOracle(s);
  });
}

test('a primary failing a piece: the child moves to its first backup in that stripe and is told so', async (t) => {
  const s = await swarm(t, 8);
  await settle(s);
  // A child whose primary in some stripe is a peer, not the seed.
  const [child, stripe, parent] = [...plansOf(s)].flatMap(([id, plan]) => plan.stripeParents.filter((p) => p.parentId !== SEED).map((p) => [id, p.stripe, p.parentId] as const))[0]!;
  const backup = s.oracle.planOf(child)!.parents[stripe]!.backupIds.find((id) => id !== parent)!;
  assert.ok(s.oracle.reparent(child, stripe, backup));
  s.expected.set(child, s.expected.get(child)! + 1);
  const member = s.members.get(child)!;
  member.stream.send({ downloadPeerStartedRequest: {} });
  member.stream.send({ downloadPieceFailedRequest: { pieceNumber: stripe + K, parentId: parent, temporary: true } });
  await settle(s);
  const plan = latest(member);
  assertWellFormed(child, plan);
  assert.equal(plan.stripeParents[stripe]!.parentId, backup, `${child}: stripe ${stripe} now from ${backup}`);
  assert.ok(!plan.stripeParents[stripe]!.backupIds.includes(parent), `${child}: the failed parent is not a backup`);
  assertForest(plansOf(s));
  assertMatchesOracle(s);
});

test('a parent that two children report failing is demoted: a leaf in every stripe, nobody\'s primary', async (t) => {
  const s = await swarm(t, 8);
  await settle(s);
  // A member feeding two or more children in its forwarding stripe.
  const [parent, stripe] = [...s.members.keys()]
    .map((id) => [id, s.oracle.planOf(id)!.forwardingStripe] as const)
    .find(([id, f]) => f !== undefined && s.oracle.childrenOf(id, f).length >= 2)!;
  const [first, second] = s.oracle.childrenOf(parent, stripe!);
  // One report at a time: the first moves its child only, the second moves its child and demotes.
  for (const child of [first!, second!]) {
    const backup = s.oracle.planOf(child)!.parents[stripe!]!.backupIds.find((id) => id !== parent)!;
    assert.ok(s.oracle.reparent(child, stripe!, backup));
    s.expected.set(child, s.expected.get(child)! + 1);
    if (child === second) for (const id of s.oracle.demote(parent)) s.expected.set(id, s.expected.get(id)! + 1);
    const stream = s.members.get(child)!.stream;
    stream.send({ downloadPeerStartedRequest: {} });
    stream.send({ downloadPieceFailedRequest: { pieceNumber: stripe!, parentId: parent, temporary: false } });
    await settle(s);
  }
  const plans = plansOf(s);
  for (const [id, plan] of plans) {
    assertWellFormed(id, plan);
    assert.ok(plan.stripeParents.every((p) => p.parentId !== parent), `${id}: ${parent} is not its primary`);
  }
  assertForest(plans);
  assertMatchesOracle(s);
});

test('stripes 1 schedules by the DAG: no plan, at most candidateParentLimit parents', async (t) => {
  const s = await swarm(t, 5, 1);
  for (const [id, member] of s.members) {
    assert.equal(member.got.length, 1, `${id}: one answer, nothing pushed`);
    const plan = latest(member);
    assert.equal(plan.stripeCount, 0, `${id}: no stripes`);
    assert.deepEqual(plan.stripeParents, []);
    assert.ok(plan.candidateParents.length >= 1 && plan.candidateParents.length <= 3, `${id}: 1 to 3 parents`);
  }
});

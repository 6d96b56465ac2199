/**
 * The stall rule of a stripe parent (daemon/p2p/stripe-follower.ts), as a table on a controlled
 * clock: the real StripeFollower, given a `now` of the test's (its own option; production uses
 * performance.now()), checked every STALL_CHECK_MS of that clock as the round's timer does, with
 * a real PieceCollector over real gRPC. The parents are SyncPieces servers that announce a chosen
 * set of pieces and keep the stream open (a parent still downloading): which pieces a parent
 * holds is what decides between the asked and the quiet window, and a real parent holding the
 * whole file could not hold "nothing we miss". Bytes and pieces in flight are told to the
 * follower directly, as the round's workers do.
 *
 * Windows, from the rule:
 * - pieces asked of the parent: max(STALL_MS, ASKED_QUEUE_FACTOR x its pieces in flight x
 *   max(the piece's time at the 4 MiB/s floor, its recent piece time));
 * - nothing asked: max(QUIET_PARENT_MS, STALL_CADENCE_FACTOR x its cadence for the stripe);
 * - bytes of any piece from the parent are a sign of life for every stripe it serves.
 */
import { test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import type { dfdaemonv2 } from '../../api/index.ts';
import { PieceCollector, UploadClients, type CandidateParent } from '../p2p/piece-collector.ts';
import { ASKED_QUEUE_FACTOR, ParentPace } from '../p2p/parent-pace.ts';
import {
  QUIET_PARENT_MS,
  STALL_CADENCE_FACTOR,
  STALL_CHECK_MS,
  STALL_MS,
  StripeFollower,
  type StripeSwitch,
} from '../p2p/stripe-follower.ts';
import { PlanSlot, StripePlan } from '../p2p/stripe-plan.ts';
import { bindServer, grpc, loadProtos, shutdownServer } from '../rpc/grpc.ts';

const MiB = 1024 * 1024;
const PIECES = 8;
/** A 4 MiB piece at the 4 MiB/s floor rate. */
const FLOOR_PIECE_MS = 1_000;

type SyncCall = grpc.ServerWritableStream<dfdaemonv2.SyncPiecesRequest__Output, dfdaemonv2.SyncPiecesResponse>;

/** A parent's SyncPieces over real gRPC: it announces `pieces` and keeps the stream open. */
async function announcingParent(t: TestContext, peerId: string, pieces: readonly number[], pieceLength: number): Promise<CandidateParent> {
  const server = new grpc.Server();
  server.addService(loadProtos().dfdaemon.DfdaemonUpload.service, {
    SyncPieces: (call: SyncCall) => {
      for (const number of pieces) {
        call.write({ number, offset: number * pieceLength, length: pieceLength, digest: 'crc32:00000000', ip: '127.0.0.1', tcpPort: 1 });
      }
      call.on('cancelled', () => call.end());
    },
  } as grpc.UntypedServiceImplementation);
  const port = await bindServer(server, '127.0.0.1:0');
  t.onTestFinished(() => shutdownServer(server, 100));
  return { peerId, host: { id: `${peerId}-host`, ip: '127.0.0.1', port } as CandidateParent['host'] };
}

/** A real collector synced with `parents`, once every piece they announce has arrived. */
async function collectorOf(t: TestContext, parents: Array<{ parent: CandidateParent; pieces: readonly number[] }>): Promise<PieceCollector> {
  const clients = new UploadClients();
  const collector = new PieceCollector({ taskId: 't'.repeat(64), hostId: 'child-host', clients });
  t.onTestFinished(async () => {
    collector.close();
    await clients.close();
  });
  const expected = parents.reduce((sum, { pieces }) => sum + pieces.length, 0);
  let seen = 0;
  const all = Promise.withResolvers<void>();
  const unsubscribe = collector.onAnnounce(() => {
    if (++seen === expected) all.resolve();
  });
  const timer = setTimeout(() => all.reject(new Error(`${seen} of ${expected} announcements in 10 s`)), 10_000);
  collector.add(parents.map(({ parent }) => parent));
  if (expected === 0) all.resolve();
  try {
    await all.promise;
  } finally {
    clearTimeout(timer);
    unsubscribe();
  }
  return collector;
}

const plan = (stripes: Record<number, string[]>) =>
  StripePlan.of({
    stripeCount: Object.keys(stripes).length,
    stripeParents: Object.entries(stripes).map(([stripe, [parentId, ...backupIds]]) => ({ stripe: Number(stripe), parentId: parentId!, backupIds })),
  });

interface Row {
  readonly name: string;
  readonly pieceLength: number;
  /** Stripe -> parents, primary first. Stripe 0's primary is always `a`, its backup `b`. */
  readonly plan: Record<number, string[]>;
  /** Pieces `a` announces (`b` announces every piece). */
  readonly aHolds: readonly number[];
  /** Pieces this peer already has (the rest are missing). */
  readonly have?: readonly number[];
  /** Pieces in flight from `a`. */
  readonly asked: readonly number[];
  /** A piece of pieceLength that took `a` this long, answer to last byte (its recent rate). */
  readonly tookMs?: number;
  /** `a` announces `piece` at `atMs` (a sign of life, and its cadence). */
  readonly announce?: { readonly atMs: number; readonly piece: number };
  /** Bytes of `piece` arrive from `a` every `everyMs` until `untilMs`. */
  readonly bytes?: { readonly piece: number; readonly everyMs: number; readonly untilMs: number };
  /** The last sign of life of `a` for stripe 0 (the plan's arrival, 0, when nothing else). */
  readonly lastSignMs: number;
  /** Stripe 0's window, from the rule above. */
  readonly windowMs: number;
}

const ROWS: Row[] = [
  {
    name: 'three 4 MiB pieces queued at a parent never measured: each counts at the floor rate',
    pieceLength: 4 * MiB,
    plan: { 0: ['a', 'b'], 1: ['b'] },
    aHolds: [0, 2, 4, 6],
    asked: [0, 2, 4],
    lastSignMs: 0,
    windowMs: ASKED_QUEUE_FACTOR * 3 * FLOOR_PIECE_MS,
  },
  {
    name: 'three 4 MiB pieces queued at a parent whose recent piece took 2.5 s: its recent time, above the floor, counts',
    pieceLength: 4 * MiB,
    plan: { 0: ['a', 'b'], 1: ['b'] },
    aHolds: [0, 2, 4, 6],
    asked: [0, 2, 4],
    tookMs: 2_500,
    lastSignMs: 0,
    windowMs: ASKED_QUEUE_FACTOR * 3 * 2_500,
  },
  {
    name: 'a slow parent that still delivers bytes every 5 s with three pieces queued keeps its stripe until it stops',
    pieceLength: 4 * MiB,
    plan: { 0: ['a', 'b'], 1: ['b'] },
    aHolds: [0, 2, 4, 6],
    asked: [0, 2, 4],
    bytes: { piece: 0, everyMs: 5_000, untilMs: 40_000 },
    lastSignMs: 40_000,
    windowMs: ASKED_QUEUE_FACTOR * 3 * FLOOR_PIECE_MS,
  },
  {
    name: 'one small piece asked (64 KiB, 16 ms at the floor): never less than STALL_MS',
    pieceLength: 64 * 1024,
    plan: { 0: ['a', 'b'], 1: ['b'] },
    aHolds: [0, 2, 4, 6],
    asked: [0],
    lastSignMs: 0,
    windowMs: STALL_MS,
  },
  {
    name: 'bytes of its other stripe\'s piece keep a parent alive for its stripe whose piece sends nothing',
    pieceLength: 4 * MiB,
    plan: { 0: ['a', 'b'], 1: ['a', 'b'] },
    aHolds: [0, 1, 2, 3],
    asked: [0, 1],
    bytes: { piece: 1, everyMs: 500, untilMs: 20_000 },
    lastSignMs: 20_000,
    windowMs: ASKED_QUEUE_FACTOR * 2 * FLOOR_PIECE_MS,
  },
  {
    name: 'nothing asked, the parent holds nothing we miss (waiting for its own parent): only after QUIET_PARENT_MS',
    pieceLength: 4 * MiB,
    plan: { 0: ['a', 'b'], 1: ['b'] },
    aHolds: [],
    asked: [],
    lastSignMs: 0,
    windowMs: QUIET_PARENT_MS,
  },
  {
    name: 'nothing asked, the parent announced its first piece of the stripe 6 s after the plan: twice its cadence (k x 6 s), past QUIET_PARENT_MS',
    pieceLength: 4 * MiB,
    plan: { 0: ['a', 'b'], 1: ['b'] },
    aHolds: [0],
    have: [0],
    asked: [],
    announce: { atMs: 6_000, piece: 0 },
    lastSignMs: 6_000,
    windowMs: STALL_CADENCE_FACTOR * 2 * 6_000,
  },
];

for (const row of ROWS) {
  test(`stall window (scripted SyncPieces parents, controlled clock): ${row.name}`, async (t) => {
    const pieceLength = row.pieceLength;
    const all = Array.from({ length: PIECES }, (_, n) => n);
    const [a, b] = await Promise.all([announcingParent(t, 'a', row.aHolds, pieceLength), announcingParent(t, 'b', all, pieceLength)]);
    const collector = await collectorOf(t, [
      { parent: a, pieces: row.aHolds },
      { parent: b, pieces: all },
    ]);
    const slot = new PlanSlot();
    slot.replace(plan(row.plan));
    const missing = all.filter((n) => !row.have?.includes(n));
    const inFlight = new Map(row.asked.map((n) => [n, { parentId: 'a' }]));
    const reports: Array<{ number: number; parentId: string }> = [];
    let clock = 0;
    const pace = new ParentPace();
    const follower = new StripeFollower({
      slot,
      collector,
      task: { pieceLength, missingPieces: () => missing },
      blocked: new Set(),
      reported: new Set(),
      inFlight,
      report: (number, parentId) => reports.push({ number, parentId }),
      pace,
      now: () => clock,
    });
    if (row.tookMs !== undefined) pace.pieceTook('a', pieceLength, row.tookMs);
    assert.deepEqual(follower.check(), [], 'the plan arrives: every stripe starts alive');
    assert.deepEqual(follower.route(0), { kind: 'parent', parentId: 'a', stripe: 0 });

    const switches: Array<StripeSwitch & { atMs: number }> = [];
    const deadline = row.lastSignMs + row.windowMs + 4 * STALL_CHECK_MS;
    while (clock < deadline && !switches.some((s) => s.stripe === 0)) {
      clock += STALL_CHECK_MS;
      if (row.announce?.atMs === clock) follower.announced('a', row.announce.piece);
      if (row.bytes && clock <= row.bytes.untilMs && clock % row.bytes.everyMs === 0) follower.touch('a', row.bytes.piece);
      for (const s of follower.check()) switches.push({ ...s, atMs: clock });
    }

    const left = switches.find((s) => s.stripe === 0);
    assert.ok(left, `stripe 0 left a within ${deadline} ms: ${JSON.stringify(switches)}`);
    assert.ok(left.atMs >= row.lastSignMs + row.windowMs, `not before its window: left at ${left.atMs} ms, window ends at ${row.lastSignMs + row.windowMs} ms`);
    assert.ok(left.atMs <= row.lastSignMs + row.windowMs + STALL_CHECK_MS, `at the first check past its window: left at ${left.atMs} ms`);
    assert.deepEqual({ kind: left.kind, from: left.from, to: left.to }, { kind: 'switch', from: 'a', to: 'b' });
    assert.deepEqual(follower.route(0), { kind: 'parent', parentId: 'b', stripe: 0 });
    assert.equal(reports.filter((r) => r.parentId === 'a' && r.number % 2 === 0).length, 1, `one report for stripe 0: ${JSON.stringify(reports)}`);
  });
}

/**
 * How a round meets a faulty parent. With a striped plan, a reschedule blocks only the parents that
 * failed (daemon/p2p/strategy.ts):
 * the daemon's real P2pDownloads strategy on a real engine, its parents real engines with their
 * real piece servers and DfdaemonUpload services (SyncPieces), all on loopback. The scheduler is a
 * script over real gRPC: the real one builds its own forest, and this test needs to name the plan
 * and see exactly what the daemon asks of it.
 *
 * Stripe 0's parent `a` answers every piece with 500 (it fails a piece, and the round blocks it);
 * stripe 1's parent `b` is still downloading: the origin holds its even pieces (stripe 0), so the
 * round runs dry with stripe 0 missing and the daemon asks for new parents. That request must name
 * `a` only, and `b` must stay usable here too: once the scheduler answers with `b` for both
 * stripes and the origin lets `b` finish, stripe 0 comes from `b`, nothing from the origin.
 *
 * The same rig without a plan shows a stalled parent given up (daemon/p2p/parent-stall.ts): `a`'s
 * piece server takes requests and never answers, `b` holds the whole file, and the child finishes
 * from `b` in seconds instead of waiting out the piece timeout; and a parent gone quiet (its stream
 * open, nothing more announced) is not waited out while a parent without a share holds the rest
 * (daemon/p2p/parent-round.ts, STARVED_ROUND_MS).
 */
import { test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import type { commonv2, schedulerv2 } from '../../api/index.ts';
import { createEngine, createPieceSender, originOnly, TokenBucket, type Engine } from '../../engine/index.ts';
import { resolveDfdaemonConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { createDaemonMetrics } from '../metrics.ts';
import { PieceClient } from '../p2p/piece-client.ts';
import { UploadClients } from '../p2p/piece-collector.ts';
import { P2pDownloads } from '../p2p/strategy.ts';
import { bindServer, grpc, loadProtos, shutdownServer } from '../rpc/grpc.ts';
import { uploadHandlers } from '../rpc/services.ts';
import { SchedulerClients } from '../scheduler/clients.ts';
import { taskRequest } from '../tasks/request.ts';
import { TaskManager } from '../tasks/task-manager.ts';
import { TaskService } from '../tasks/task-service.ts';
import { PieceServer } from '../upload/piece-server.ts';
import { scriptedScheduler, tempDir } from './rig.ts';

const PIECE = 64 * 1024;
const PIECES = 8;
const log = createLogger('error', () => {});
/** Longer than the test runs: a held piece must not time out and be asked again. */
const PIECE_TIMEOUT_MS = 120_000;

function engineIn(t: TestContext, dir: string): Engine {
  const engine = createEngine({ storageDir: join(dir, 'store'), ioThreads: 1, retryBaseDelayMs: 1, retryMaxDelayMs: 5, pieceTimeoutMs: PIECE_TIMEOUT_MS });
  t.onTestFinished(() => engine.close());
  return engine;
}

async function listen(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.onTestFinished(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

/**
 * An HTTP origin with Range. The parents' requests carry `x-parent`; those `held(parent, piece)`
 * names (by default `b`'s for an even piece) are answered only once `release()` is called.
 * `pieceGets()` counts the child's piece requests.
 */
async function heldOrigin(t: TestContext, body: Buffer, held: (parentId: string, piece: number) => boolean = (parentId, piece) => parentId === 'b' && piece % 2 === 0) {
  const released = Promise.withResolvers<void>();
  let pieceGets = 0;
  const port = await listen(t, (req, res) => {
    const [, start, end] = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') ?? [];
    if (start === undefined || end === undefined) return void res.writeHead(200, { 'content-length': body.length }).end(body);
    const [from, to] = [Number(start), Math.min(Number(end), body.length - 1)];
    const answer = () =>
      res.writeHead(206, { 'content-length': to - from + 1, 'content-range': `bytes ${from}-${to}/${body.length}` }).end(body.subarray(from, to + 1));
    if (to === from) return answer();
    const parentId = req.headers['x-parent'];
    if (parentId === undefined) pieceGets++;
    if (typeof parentId === 'string' && held(parentId, from / PIECE)) void released.promise.then(answer);
    else answer();
  });
  // Whatever the test's outcome, nothing stays held past it.
  t.onTestFinished(() => released.resolve());
  return { url: `http://127.0.0.1:${port}/file.bin`, release: () => released.resolve(), pieceGets: () => pieceGets };
}

/**
 * A parent daemon's serving half over its own engine: its SyncPieces announces what that engine
 * holds (and each piece as it finishes); its pieces come from `piecePort`, its own piece server
 * unless given.
 */
async function parent(t: TestContext, id: string, engine: Engine, piecePort?: number): Promise<commonv2.Peer> {
  const metrics = createDaemonMetrics();
  const manager = new TaskManager({ engine, strategyFor: () => originOnly, metrics, log, newPeerId: () => `${id}-peer`, signal: new AbortController().signal });
  const service = new TaskService({ engine, manager, log });
  const pieces = new PieceServer({ tasks: engine.tasks, sender: createPieceSender(), limiter: new TokenBucket({ bytesPerSecond: 0 }), concurrentUploadLimit: 50, metrics, log });
  const port = piecePort ?? (await pieces.listen('127.0.0.1', 0));
  t.onTestFinished(() => pieces.close());
  const upload = new grpc.Server();
  const host = { id: `${id}-host`, ip: '127.0.0.1', port: 0 } as commonv2.Host;
  upload.addService(
    loadProtos().dfdaemon.DfdaemonUpload.service,
    uploadHandlers({ service, log, hostId: host.id!, ip: '127.0.0.1', pieceServerPort: () => port, seed: false, shared: true, host: () => host }),
  );
  const grpcPort = await bindServer(upload, '127.0.0.1:0');
  t.onTestFinished(() => shutdownServer(upload, 100));
  return { id, host: { ...host, port: grpcPort } };
}

/** Resolves once `engine` holds `count` pieces of its task: what a child's SyncPieces is told first. */
async function holding(engine: Engine, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [view] = await engine.tasks.list();
    if (view && view.finishedPieces().length >= count) return;
    if (Date.now() > deadline) throw new Error(`${view?.finishedPieces().length ?? 0} of ${count} pieces at the parent in 10 s`);
    await sleep(20);
  }
}

const normal = (parents: commonv2.Peer[], stripes: Record<number, string>): schedulerv2.AnnouncePeerResponse => ({
  normalTaskResponse: {
    candidateParents: parents,
    stripeCount: Object.keys(stripes).length,
    stripeParents: Object.entries(stripes).map(([stripe, parentId]) => ({ stripe: Number(stripe), parentId, backupIds: [] })),
  },
});

interface Outcome {
  /** The parents named by each ReschedulePeerRequest, sorted. */
  readonly rescheduled: string[][];
  readonly failed: Array<{ number: number; parentId: string }>;
  /** Pieces reported finished from a parent, in order. */
  readonly finished: Array<{ number: number; parentId: string }>;
  /** Piece requests the child sent the origin. */
  readonly originPieces: number;
}

/**
 * Runs the child's download over the two parents: `a` fails stripe 0 at once, `b` has only stripe
 * 1 until the daemon reschedules. The scheduler's answers carry a striped plan when `striped`
 * (first `a` for stripe 0 and `b` for stripe 1, then `b` for both), none otherwise. Without a
 * plan, `a` may instead `stall` (its piece server never answers) or go `quiet` (it holds the first
 * half and announces nothing more, its stream open), with `b` holding every piece from the start;
 * when quiet, `b` is a parent the scheduler loaded (no idle upload: no share of the pieces).
 */
async function download(t: TestContext, striped: boolean, a: 'fails' | 'stalls' | 'quiet' = 'fails'): Promise<Outcome> {
  const body = Buffer.alloc(PIECE * PIECES);
  for (let i = 0; i < body.length; i++) body[i] = (i * 131 + (i >> 12)) & 0xff;
  const origin = await heldOrigin(t, body, a === 'quiet' ? (parentId, piece) => parentId === 'a' && piece >= PIECES / 2 : undefined);
  const bHoldsAll = a !== 'fails';
  if (a === 'stalls') origin.release();

  // a: holds the whole file (but for `quiet`); its piece server answers 500 to everything, or nothing at all.
  const aEngine = engineIn(t, await tempDir(t, 'df-round-faults-'));
  const aDownload = aEngine.download({ url: origin.url, pieceLength: PIECE, concurrentPieceCount: PIECES, headers: { 'x-parent': 'a' } });
  t.onTestFinished(() => aDownload.then(() => {}, () => {}));
  if (a === 'quiet') await holding(aEngine, PIECES / 2);
  else await aDownload;
  const failing = a === 'quiet' ? undefined : await listen(t, (_req, res) => (a === 'fails' ? void res.writeHead(500, { 'content-length': 0 }).end() : undefined));
  const aPeer = await parent(t, 'a', aEngine, failing);
  // b: still downloading, its stripe 0 held at the origin until the daemon asks for new parents.
  const bEngine = engineIn(t, await tempDir(t, 'df-round-faults-'));
  const bDownload = bEngine.download({ url: origin.url, pieceLength: PIECE, concurrentPieceCount: PIECES, headers: { 'x-parent': 'b' } });
  t.onTestFinished(() => bDownload.then(() => {}, () => {}));
  const bPeer = await parent(t, 'b', bEngine);
  const b = a === 'quiet' ? { ...bPeer, host: { ...bPeer.host, network: { maxTxBandwidth: 1_000_000, txBandwidth: 1_000_000 } } } : bPeer;
  // Its task known before the child asks (an unknown task fails the child's SyncPieces with it).
  await holding(bEngine, bHoldsAll ? PIECES : PIECES / 2);

  const outcome = { rescheduled: [] as string[][], failed: [] as Outcome['failed'], finished: [] as Outcome['finished'] };
  let peerFinished = false;
  const plan = (stripes: Record<number, string>) => (striped ? stripes : {});
  const addr = `127.0.0.1:${await scriptedScheduler(t, (request, call) => {
    if (request.registerPeerRequest) call.write(normal([aPeer, b], plan({ 0: 'a', 1: 'b' })));
    const piece = request.downloadPieceFinishedRequest?.piece;
    if (piece) outcome.finished.push({ number: piece.number, parentId: piece.parentId ?? '' });
    const fault = request.downloadPieceFailedRequest;
    if (fault) outcome.failed.push({ number: fault.pieceNumber ?? -1, parentId: fault.parentId ?? '' });
    if (request.downloadPeerFinishedRequest) peerFinished = true;
    if (request.reschedulePeerRequest) {
      outcome.rescheduled.push(request.reschedulePeerRequest.candidateParents.map((p) => p.id).sort());
      // What a scheduler that blocklisted `a` answers: `b`. And `b` gets stripe 0 now.
      origin.release();
      call.write(normal([b], plan({ 0: 'b', 1: 'b' })));
    }
  })}`;

  const config = resolveDfdaemonConfig({
    host: { ip: '127.0.0.1', hostname: 'child' },
    scheduler: { addrs: [addr], scheduleTimeout: '10s', maxScheduleCount: 3 },
    // A round with nothing new announced for this long ends and the daemon reschedules; a quiet
    // parent must not be waited out that way.
    download: { collectedPieceTimeout: a === 'quiet' ? '120s' : '1s' },
  });
  const schedulers = new SchedulerClients(config.scheduler.addrs);
  const uploadClients = new UploadClients();
  const pieceClient = new PieceClient({ timeoutMs: PIECE_TIMEOUT_MS });
  t.onTestFinished(async () => {
    schedulers.close();
    await pieceClient.close();
    await uploadClients.close();
  });
  const p2p = new P2pDownloads({
    config,
    identity: { hostId: 'child-host', hostname: 'child', ip: '127.0.0.1', seed: false, newPeerId: () => 'child-peer' },
    schedulers,
    uploadClients,
    pieceClient,
    limiter: new TokenBucket({ bytesPerSecond: 0 }),
    metrics: createDaemonMetrics(),
    log,
  });
  // Small content goes straight to the origin by default: this one is to go through the scheduler.
  const request = taskRequest({ url: origin.url, directFromOriginMaxBytes: 0 });
  const child = engineIn(t, await tempDir(t, 'df-round-faults-'));
  const done = await child.download({
    url: origin.url,
    pieceLength: PIECE,
    strategy: p2p.strategyFor({ request, taskId: '', peerId: 'child-peer', seed: false }),
  });
  // Whatever `a` still waits for at the origin may come now (its download must end before the test's cleanup).
  origin.release();
  assert.equal(done.pieceCount, PIECES);
  const [task] = await child.tasks.list();
  assert.ok(task);
  assert.ok((await readFile(task.dataPath)).equals(body), 'the child holds the file, byte for byte');
  if (striped) assert.ok(peerFinished, 'the child told the scheduler it finished');
  return { ...outcome, originPieces: origin.pieceGets() };
}

test('striped reschedule (scripted scheduler, real parents): only the failed stripe parent is given up; the other stays usable and serves the missing stripe next round', async (t) => {
  const outcome = await download(t, true);
  assert.deepEqual(outcome.rescheduled, [['a']], 'one reschedule, giving up on the failed stripe parent only');
  assert.ok(outcome.failed.length > 0 && outcome.failed.every((f) => f.parentId === 'a' && f.number % 2 === 0), `a's failure reported, for stripe 0: ${JSON.stringify(outcome.failed)}`);
  assert.deepEqual(
    outcome.finished.filter((f) => f.parentId !== 'b'),
    [],
    'every piece came from b, stripe 0 after the reschedule',
  );
  assert.deepEqual(outcome.finished.map((f) => f.number).sort((x, y) => x - y), Array.from({ length: PIECES }, (_, n) => n));
  assert.equal(outcome.originPieces, 0, 'the child fetched no piece from the origin');
}, 60_000);

test('the same without a plan (scripted scheduler, real parents): the reschedule gives up on every parent of the round, as Dragonfly\'s DAG does', async (t) => {
  const outcome = await download(t, false);
  assert.deepEqual(outcome.rescheduled[0], ['a', 'b'], `the first reschedule names both: ${JSON.stringify(outcome.rescheduled)}`);
  assert.ok(outcome.failed.some((f) => f.parentId === 'a'), `a's failure reported: ${JSON.stringify(outcome.failed)}`);
  // b, blocked here too, gives nothing more: the rest came from the origin once the rounds ran out.
  assert.ok(outcome.originPieces > 0, 'the missing stripe came from the origin');
}, 60_000);

test('without a plan, a parent that takes piece requests and never answers is given up within seconds; the pieces asked of it come from the other parent', async (t) => {
  // Without the stall rule the child would wait out the piece timeout (120 s), past this test's 60 s.
  const outcome = await download(t, false, 'stalls');
  assert.ok(outcome.failed.some((f) => f.parentId === 'a'), `the stalled parent reported: ${JSON.stringify(outcome.failed)}`);
  assert.deepEqual(outcome.finished.filter((f) => f.parentId !== 'b'), [], 'every piece came from b');
  assert.equal(outcome.finished.length, PIECES);
  assert.equal(outcome.originPieces, 0, 'the child fetched no piece from the origin');
}, 60_000);

test('without a plan, a parent that goes quiet (its stream open, nothing more announced) is not waited out: after a few seconds the parent without a share serves what it holds', async (t) => {
  // Without the rule the round would wait for collectedPieceTimeout (120 s here), past this test's 60 s.
  const outcome = await download(t, false, 'quiet');
  assert.deepEqual(outcome.rescheduled, [], 'no reschedule: the round itself turned to b');
  const byParent = (id: string) => outcome.finished.filter((f) => f.parentId === id).map((f) => f.number).sort((x, y) => x - y);
  assert.deepEqual(byParent('a'), [0, 1, 2, 3], 'the first half came from a, whose share b had none of');
  assert.deepEqual(byParent('b'), [4, 5, 6, 7], 'the rest from b once the round starved');
  assert.equal(outcome.originPieces, 0);
}, 60_000);

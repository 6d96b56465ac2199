/**
 * A round that follows a striped plan, on loopback with real parents: each parent is a real engine
 * holding the file, its real piece server and its real DfdaemonUpload service (SyncPieces); the
 * child is a real engine running runParentRound through PieceCollector and PieceClient. Pieces of
 * each stripe come from that stripe's parent; a parent that stops, or whose piece server accepts
 * connections and never answers, loses its stripe to the backup, and the switch is reported once;
 * a round told to stop ends at once, whatever its parents do.
 * No scheduler: the plan is given to the round directly (the strategy's reading of the stream has
 * its own test).
 */
import { test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { commonv2 } from '../../api/index.ts';
import { createEngine, createPieceSender, originOnly, TokenBucket, type Engine, type PieceStrategy } from '../../engine/index.ts';
import { createLogger } from '../log.ts';
import { createDaemonMetrics } from '../metrics.ts';
import { PieceClient } from '../p2p/piece-client.ts';
import { PieceCollector, UploadClients, type CandidateParent } from '../p2p/piece-collector.ts';
import { runParentRound, type RoundResult } from '../p2p/parent-round.ts';
import { PlanSlot, StripePlan } from '../p2p/stripe-plan.ts';
import { bindServer, grpc, loadProtos, shutdownServer } from '../rpc/grpc.ts';
import { uploadHandlers } from '../rpc/services.ts';
import { TaskManager } from '../tasks/task-manager.ts';
import { TaskService } from '../tasks/task-service.ts';
import { PieceServer } from '../upload/piece-server.ts';
import { tempDir } from './rig.ts';

const PIECE = 64 * 1024;
const PIECES = 32;
const log = createLogger('error', () => {});
/** Longer than the test may run: a piece from a stalled parent comes back only by the stall rule. */
const PIECE_TIMEOUT_MS = 120_000;

function contentOf(pieces: number): Buffer {
  const body = Buffer.alloc(PIECE * pieces);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31 + (i >> 16)) & 0xff;
  return body;
}

/** A file origin (the engine's file source) with PIECES pieces of distinct bytes. */
async function origin(t: TestContext): Promise<{ url: string; body: Buffer }> {
  const body = contentOf(PIECES);
  const path = join(await tempDir(t, 'df-stripes-'), 'file.bin');
  await writeFile(path, body);
  return { url: pathToFileURL(path).href, body };
}

/** An HTTP origin with Range; a piece asked with `x-slow: <ms>` is answered that much later. */
async function httpOrigin(t: TestContext, pieces: number): Promise<{ url: string; body: Buffer }> {
  const body = contentOf(pieces);
  const server = createHttpServer((req, res) => {
    const [, start, end] = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') ?? [];
    if (start === undefined || end === undefined) return void res.writeHead(200, { 'content-length': body.length }).end(body);
    const [from, to] = [Number(start), Math.min(Number(end), body.length - 1)];
    const answer = () =>
      res.writeHead(206, { 'content-length': to - from + 1, 'content-range': `bytes ${from}-${to}/${body.length}` }).end(body.subarray(from, to + 1));
    const delay = Number(req.headers['x-slow'] ?? 0);
    if (delay > 0 && to > from) setTimeout(answer, delay);
    else answer();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.onTestFinished(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/file.bin`, body };
}

function engineIn(t: TestContext, dir: string): Engine {
  const engine = createEngine({ storageDir: join(dir, 'store'), ioThreads: 1, retryBaseDelayMs: 1, retryMaxDelayMs: 5, pieceTimeoutMs: PIECE_TIMEOUT_MS });
  t.onTestFinished(() => engine.close());
  return engine;
}

/** A TCP server that accepts connections and never answers on them. */
async function blackHole(t: TestContext): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.onTestFinished(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

interface Parent {
  readonly candidate: CandidateParent;
  /** Stops its piece server and upload service, as a daemon that went away. */
  stop(): Promise<void>;
}

/**
 * A parent daemon's serving half over its own engine, which fetched the whole file first.
 * `uploadBytesPerSecond` slows its piece server; `blackHole` advertises a piece port that never answers.
 */
async function parent(
  t: TestContext,
  id: string,
  url: string,
  options: { uploadBytesPerSecond?: number; blackHole?: boolean; originDelayMs?: number } = {},
): Promise<Parent> {
  const engine = engineIn(t, await tempDir(t, 'df-stripes-'));
  // With a slow origin: one piece at a time, still downloading while it serves.
  const download = options.originDelayMs
    ? engine.download({ url, pieceLength: PIECE, concurrentPieceCount: 1, headers: { 'x-slow': String(options.originDelayMs) } })
    : undefined;
  if (download) t.onTestFinished(() => download.then(() => {}, () => {}));
  else await engine.download({ url, pieceLength: PIECE });
  const metrics = createDaemonMetrics();
  const manager = new TaskManager({ engine, strategyFor: () => originOnly, metrics, log, newPeerId: () => `${id}-peer`, signal: new AbortController().signal });
  const service = new TaskService({ engine, manager, log });
  const pieces = new PieceServer({
    tasks: engine.tasks,
    sender: createPieceSender(),
    limiter: new TokenBucket({ bytesPerSecond: options.uploadBytesPerSecond ?? 0 }),
    concurrentUploadLimit: 50,
    metrics,
    log,
  });
  const piecePort = options.blackHole ? await blackHole(t) : await pieces.listen('127.0.0.1', 0);
  const upload = new grpc.Server();
  const host = { id: `${id}-host`, ip: '127.0.0.1', port: 0 } as commonv2.Host;
  upload.addService(
    loadProtos().dfdaemon.DfdaemonUpload.service,
    uploadHandlers({ service, log, hostId: host.id!, ip: '127.0.0.1', pieceServerPort: () => piecePort, seed: false, shared: true, host: () => host }),
  );
  const port = await bindServer(upload, '127.0.0.1:0');
  let stopped: Promise<void> | undefined;
  const stop = () => (stopped ??= Promise.all([pieces.close(), shutdownServer(upload, 100)]).then(() => {}));
  t.onTestFinished(stop);
  return { candidate: { peerId: id, host: { ...host, port } as commonv2.Host__Output }, stop };
}

interface Outcome {
  readonly result: RoundResult;
  /** Piece number -> the parent it came from. */
  readonly from: Map<number, string>;
  readonly failed: Array<{ number: number; parentId: string }>;
}

/** A child that runs one round over `parents` with `plan`, its output checked against `body`. */
async function child(
  t: TestContext,
  input: {
    url: string;
    body: Buffer;
    parents: Parent[];
    plan: StripePlan | undefined;
    slot?: PlanSlot;
    onPiece?: (number: number, parentId: string) => void;
    /** Given to the round; what it leaves then comes from the origin. */
    stop?: AbortSignal;
  },
): Promise<Outcome> {
  const dir = await tempDir(t, 'df-stripes-');
  const engine = engineIn(t, dir);
  const clients = new UploadClients();
  const pieceClient = new PieceClient({ timeoutMs: PIECE_TIMEOUT_MS });
  t.onTestFinished(async () => {
    await pieceClient.close();
    await clients.close();
  });
  const slot = input.slot ?? new PlanSlot();
  slot.replace(input.plan);
  const from = new Map<number, string>();
  const failed: Outcome['failed'] = [];
  let result: RoundResult = 'dry';
  const strategy: PieceStrategy = async (session) => {
    const collector = new PieceCollector({ taskId: session.task.id, hostId: 'child-host', clients });
    collector.add(input.parents.map((p) => p.candidate));
    try {
      result = await runParentRound(
        {
          session,
          collector,
          pieceClient,
          limiter: new TokenBucket({ bytesPerSecond: 0 }),
          collectedPieceTimeoutMs: PIECE_TIMEOUT_MS,
          metrics: createDaemonMetrics(),
          log,
          report: {
            pieceFinished: (record, parentId) => {
              from.set(record.number, parentId);
              input.onPiece?.(record.number, parentId);
            },
            pieceFailed: (number, parentId) => failed.push({ number, parentId }),
          },
          plan: slot,
          reportedSwitches: new Set(),
          stop: input.stop,
        },
        new Set(['child-peer']),
      );
      if (result !== 'complete') await session.fetchMissingFromOrigin();
    } finally {
      collector.close();
    }
  };
  const done = await engine.download({ url: input.url, pieceLength: PIECE, strategy });
  assert.equal(done.pieceCount, input.body.length / PIECE);
  const [task] = await engine.tasks.list();
  assert.ok(task);
  assert.ok((await readFile(task.dataPath)).equals(input.body), 'the child holds the file, byte for byte');
  return { result, from, failed };
}

const plan = (stripes: Record<number, string[]>) =>
  StripePlan.of({
    stripeCount: Object.keys(stripes).length,
    stripeParents: Object.entries(stripes).map(([stripe, [parentId, ...backupIds]]) => ({ stripe: Number(stripe), parentId: parentId!, backupIds })),
  });

/** Parent of each piece, by stripe: stripe -> sorted distinct parents. */
function byStripe(from: Map<number, string>, k: number): Record<number, string[]> {
  const out: Record<number, Set<string>> = {};
  for (const [number, parentId] of from) (out[number % k] ??= new Set()).add(parentId);
  return Object.fromEntries(Object.entries(out).map(([stripe, ids]) => [stripe, [...ids].sort()]));
}

test('with a plan, every piece of a stripe comes from that stripe\'s parent; nothing is reported', async (t) => {
  const { url, body } = await origin(t);
  const [a, b, c, seed] = await Promise.all(['a', 'b', 'c', 'seed'].map((id) => parent(t, id, url)));
  const outcome = await child(t, { url, body, parents: [seed!, a!, b!, c!], plan: plan({ 0: ['a', 'seed'], 1: ['b', 'seed'], 2: ['c', 'seed'] }) });
  assert.equal(outcome.result, 'complete');
  assert.equal(outcome.from.size, PIECES);
  assert.deepEqual(byStripe(outcome.from, 3), { 0: ['a'], 1: ['b'], 2: ['c'] });
  assert.deepEqual(outcome.failed, []);
});

test('a stripe parent whose piece server accepts and never answers loses its stripe to the backup, reported once', async (t) => {
  const { url, body } = await origin(t);
  const [stalled, b, seed] = await Promise.all([parent(t, 'stalled', url, { blackHole: true }), parent(t, 'b', url), parent(t, 'seed', url)]);
  // The piece timeout is two minutes: only the stall rule brings stripe 0 back within the test's time.
  const outcome = await child(t, { url, body, parents: [stalled!, b!, seed!], plan: plan({ 0: ['stalled', 'seed'], 1: ['b', 'seed'] }) });
  assert.equal(outcome.result, 'complete');
  assert.deepEqual(byStripe(outcome.from, 2), { 0: ['seed'], 1: ['b'] });
  assert.equal(outcome.failed.length, 1, `one report: ${JSON.stringify(outcome.failed)}`);
  assert.equal(outcome.failed[0]!.parentId, 'stalled');
  assert.equal(outcome.failed[0]!.number % 2, 0, 'the report names a piece of the stripe left');
}, 30_000);

test('a stalled stripe parent with no backup holding anything: the stripe\'s pieces come from any other parent, nothing reported', async (t) => {
  const { url, body } = await origin(t);
  const [stalled, b, seed] = await Promise.all([parent(t, 'stalled', url, { blackHole: true }), parent(t, 'b', url), parent(t, 'seed', url)]);
  // 'seed' is a candidate but no backup of stripe 0: only the DAG fallback reaches it.
  const outcome = await child(t, { url, body, parents: [stalled!, b!, seed!], plan: plan({ 0: ['stalled'], 1: ['b'] }) });
  assert.equal(outcome.result, 'complete');
  const stripes = byStripe(outcome.from, 2);
  assert.ok(!stripes[0]!.includes('stalled') && stripes[0]!.length > 0, `stripe 0 from ${stripes[0]}`);
  assert.deepEqual(stripes[1], ['b']);
  assert.deepEqual(outcome.failed, []);
}, 30_000);

test('a stripe parent that stops mid-download loses its stripe to the backup, reported once; the other stripe stays with its parent', async (t) => {
  const { url, body } = await origin(t);
  // Slowed (half a second per piece) so that it stops with most of its stripe still to send.
  const [a, b, seed] = await Promise.all([parent(t, 'a', url, { uploadBytesPerSecond: 2 * PIECE }), parent(t, 'b', url), parent(t, 'seed', url)]);
  const outcome = await child(t, {
    url,
    body,
    parents: [a!, b!, seed!],
    plan: plan({ 0: ['a', 'seed'], 1: ['b', 'seed'] }),
    onPiece: (_number, parentId) => {
      if (parentId === 'a') void a!.stop();
    },
  });
  assert.equal(outcome.result, 'complete');
  const stripes = byStripe(outcome.from, 2);
  assert.deepEqual(stripes[0], ['a', 'seed'], 'stripe 0: from a until it stopped, then from the backup');
  assert.deepEqual(stripes[1], ['b']);
  assert.equal(outcome.failed.length, 1, `one report: ${JSON.stringify(outcome.failed)}`);
  assert.equal(outcome.failed[0]!.parentId, 'a');
  assert.equal(outcome.failed[0]!.number % 2, 0);
}, 30_000);

test('a plan replaced mid-round: the pieces left of each stripe come from its new parent', async (t) => {
  const { url, body } = await origin(t);
  // Slowed (8 pieces a second each) so that most pieces are left when the plan changes.
  const [a, b, seed] = await Promise.all([parent(t, 'a', url, { uploadBytesPerSecond: 8 * PIECE }), parent(t, 'b', url, { uploadBytesPerSecond: 8 * PIECE }), parent(t, 'seed', url)]);
  const slot = new PlanSlot();
  let finished = 0;
  const after: string[] = [];
  const outcome = await child(t, {
    url,
    body,
    parents: [a!, b!, seed!],
    plan: plan({ 0: ['a', 'seed'], 1: ['b', 'seed'] }),
    slot,
    onPiece: (_number, parentId) => {
      if (++finished === 4) slot.replace(plan({ 0: ['seed', 'a'], 1: ['seed', 'b'] }));
      else if (finished > 4) after.push(parentId);
    },
  });
  assert.equal(outcome.result, 'complete');
  // What was in flight when the plan changed still comes in from the old parents: at most their
  // caps' worth (the session's 8 pieces in flight at the very most).
  const old = after.filter((id) => id !== 'seed').length;
  assert.ok(old <= 8, `${old} pieces from the old parents after the change`);
  assert.deepEqual(after.slice(8).filter((id) => id !== 'seed'), [], 'once those are in, every piece from the new parent');
  assert.deepEqual(outcome.failed, [], 'a new plan is no failure of the old parents');
});

test('a round stopped mid-way (the scheduler answered something else) ends at once: pieces in flight go back, none fails', async (t) => {
  const { url, body } = await origin(t);
  // Pieces asked of this parent never come: only the stop can take them back before the piece timeout.
  const stalled = await parent(t, 'stalled', url, { blackHole: true });
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 300);
  t.onTestFinished(() => clearTimeout(timer));
  const outcome = await child(t, { url, body, parents: [stalled], plan: undefined, stop: stop.signal });
  assert.equal(outcome.result, 'stopped');
  assert.equal(outcome.from.size, 0, 'nothing came from the parent');
  assert.deepEqual(outcome.failed, [], 'a piece taken back is no failure of its parent');
}, 30_000);

test('a stripe parent still downloading announces the stripe\'s pieces more than a second apart: a child that caught up waits for it and does not switch', async (t) => {
  const pieces = 10;
  const { url, body } = await httpOrigin(t, pieces);
  // One piece every 0.6 s at the parent, so a piece of stripe 0 every 1.2 s.
  const [slow, seed] = await Promise.all([parent(t, 'slow', url, { originDelayMs: 600 }), parent(t, 'seed', url)]);
  const outcome = await child(t, { url, body, parents: [slow!, seed!], plan: plan({ 0: ['slow', 'seed'], 1: ['seed'] }) });
  assert.equal(outcome.result, 'complete');
  assert.equal(outcome.from.size, pieces);
  assert.deepEqual(byStripe(outcome.from, 2), { 0: ['slow'], 1: ['seed'] });
  assert.deepEqual(outcome.failed, []);
}, 30_000);

test('a stripe parent that has announced nothing yet (its own first piece still on the way, 2 s) keeps its stripe: the child waits, it does not go to the backup', async (t) => {
  const pieces = 4;
  const { url, body } = await httpOrigin(t, pieces);
  const [late, seed] = await Promise.all([parent(t, 'late', url, { originDelayMs: 2_000 }), parent(t, 'seed', url)]);
  const outcome = await child(t, { url, body, parents: [late!, seed!], plan: plan({ 0: ['late', 'seed'], 1: ['seed'] }) });
  assert.equal(outcome.result, 'complete');
  assert.deepEqual(byStripe(outcome.from, 2), { 0: ['late'], 1: ['seed'] });
  assert.deepEqual(outcome.failed, []);
}, 30_000);

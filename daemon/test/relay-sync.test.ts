/**
 * Cut-through relay between two real daemons' halves on loopback, the way download.relay runs it:
 * the parent is a real engine receiving from an HTTP origin over kept-alive raw connections
 * (download.keepAlive: the native receiveToFileKeepAlive), with its real piece server and
 * DfdaemonUpload service (SyncPieces); the child is a real engine fetching through a relay
 * PieceCollector and a PieceClient that receives natively. The origin holds the second half of
 * piece 0 back, so the parent has only part of it while the child already receives it; the digest
 * the child checks is the one the parent announces over SyncPieces once it verified the piece.
 */
import { describe, test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { commonv2 } from '../../api/index.ts';
import {
  createEngine,
  createPieceSender,
  nativeReceiveToFile,
  nativeReceiveToFileKeepAlive,
  originOnly,
  TokenBucket,
  type Engine,
  type PieceJob,
  type PieceStrategy,
  type TaskView,
} from '../../engine/index.ts';
import { createLogger } from '../log.ts';
import { createDaemonMetrics } from '../metrics.ts';
import { PieceClient, type AnnouncedPiece } from '../p2p/piece-client.ts';
import { PieceCollector, UploadClients, type CandidateParent } from '../p2p/piece-collector.ts';
import { bindServer, grpc, loadProtos, shutdownServer } from '../rpc/grpc.ts';
import { uploadHandlers } from '../rpc/services.ts';
import { TaskManager } from '../tasks/task-manager.ts';
import { TaskService } from '../tasks/task-service.ts';
import { PieceServer } from '../upload/piece-server.ts';
import { tempDir } from './rig.ts';

const MiB = 1 << 20;
const PIECE = 4 * MiB;
const HALF = PIECE / 2;
const log = createLogger('error', () => {});
const native = nativeReceiveToFile() !== false;

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** An HTTP origin with Range whose answer for piece 0 sends its first half, then the rest once released. */
async function gatedOrigin(t: TestContext, body: Buffer): Promise<{ url: string; release: () => void }> {
  const gate = Promise.withResolvers<void>();
  const server = createHttpServer(async (req, res) => {
    const [, start, end] = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') ?? [];
    if (start === undefined || end === undefined) return void res.writeHead(200, { 'content-length': body.length }).end(body);
    const [from, to] = [Number(start), Math.min(Number(end), body.length - 1)];
    res.writeHead(206, { 'content-length': to - from + 1, 'content-range': `bytes ${from}-${to}/${body.length}` });
    if (from !== 0 || to !== PIECE - 1) return void res.end(body.subarray(from, to + 1));
    res.write(body.subarray(0, HALF));
    await gate.promise;
    res.end(body.subarray(HALF, PIECE));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.onTestFinished(() => {
    gate.resolve();
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/file.bin`, release: () => gate.resolve() };
}

function engineIn(dir: string, keepAlive: boolean): Engine {
  return createEngine({ storageDir: join(dir, 'store'), ioThreads: 1, retryBaseDelayMs: 1, retryMaxDelayMs: 5, keepAlive });
}

/**
 * A parent daemon's serving half, downloading `url` with kept-alive native receives (where the
 * addon is loaded) while it serves; resolves once `written` bytes of piece 0 are on disk there.
 */
async function parent(t: TestContext, url: string, written: number): Promise<{ candidate: CandidateParent; view: TaskView; download: Promise<unknown> }> {
  const engine = engineIn(await tempDir(t, 'df-relay-'), true);
  const download = engine.download({ url, pieceLength: PIECE, concurrentPieceCount: 1 });
  const metrics = createDaemonMetrics();
  const manager = new TaskManager({ engine, strategyFor: () => originOnly, metrics, log, newPeerId: () => 'parent-peer', signal: new AbortController().signal });
  const service = new TaskService({ engine, manager, log });
  const pieces = new PieceServer({ tasks: engine.tasks, sender: createPieceSender(), limiter: new TokenBucket({ bytesPerSecond: 0 }), concurrentUploadLimit: 10, metrics, log });
  const piecePort = await pieces.listen('127.0.0.1', 0);
  const upload = new grpc.Server();
  const host = { id: 'parent-host', ip: '127.0.0.1', port: 0 } as commonv2.Host;
  upload.addService(
    loadProtos().dfdaemon.DfdaemonUpload.service,
    uploadHandlers({ service, log, hostId: host.id!, ip: '127.0.0.1', pieceServerPort: () => piecePort, seed: false, shared: true, host: () => host }),
  );
  const port = await bindServer(upload, '127.0.0.1:0');
  t.onTestFinished(async () => {
    await Promise.all([pieces.close(), shutdownServer(upload, 100)]);
    await engine.close();
    await download.catch(() => {});
  });
  const view = await until(`the parent to have ${written} bytes of piece 0`, async () => {
    const task = (await engine.tasks.list())[0];
    const receipt = task?.receiving(0);
    return receipt && receipt.written >= written ? task : undefined;
  });
  return { candidate: { peerId: 'parent', host: { ...host, port } as commonv2.Host__Output }, view, download };
}

const digestOf = (bytes: Uint8Array) => `crc32:${crc32(bytes)}`;

describe.skipIf(!native)('relay to a native-receive child', () => {
  test('piece 0 reaches the child while its kept-alive native parent has only half of it; its digest comes over SyncPieces after the parent check', async (t) => {
    const body = Buffer.alloc(2 * PIECE);
    for (let i = 0; i < body.length; i++) body[i] = (i * 13 + (i >> 12)) & 0xff;
    const origin = await gatedOrigin(t, body);
    const up = await parent(t, origin.url, HALF);

    const child = engineIn(await tempDir(t, 'df-relay-'), false);
    const clients = new UploadClients();
    const pieceClient = new PieceClient({ timeoutMs: 30_000, keepAlive: nativeReceiveToFileKeepAlive() });
    t.onTestFinished(async () => {
      await pieceClient.close();
      await clients.close();
      await child.close();
    });
    const digests: Array<string | undefined> = [];
    let whileParentHalf: { child: number; parent: number } | undefined;
    const strategy: PieceStrategy = async (session) => {
      const collector = new PieceCollector({ taskId: session.task.id, hostId: 'child-host', clients, relay: true });
      collector.add([up.candidate]);
      try {
        const holder = await until('piece 0 announced as receiving', () => collector.holders(0).find((h) => h.piece.receiving));
        assert.equal(holder.piece.digest, '', 'no digest while the parent receives it');
        const announced = holder.piece.verifiedDigest!;
        const piece: AnnouncedPiece = {
          ...holder.piece,
          verifiedDigest: async (signal) => {
            const digest = await announced(signal);
            digests.push(digest);
            return digest;
          },
        };
        const job: PieceJob = { number: 0, fetch: (_range, signal) => pieceClient.fetch(holder.address, session.task.id, piece, signal) };
        const jobs = [job];
        const running = session.runPieces(async () => jobs.shift());
        // The child has bytes of piece 0 on disk while the parent still waits for its second half.
        whileParentHalf = await until('the child to receive relayed bytes', async () => {
          const got = (await child.tasks.list())[0]?.receiving(0)?.written ?? 0;
          return got > 0 ? { child: got, parent: up.view.receiving(0)?.written ?? -1 } : undefined;
        });
        assert.equal(up.view.piece(0), undefined, 'the parent has not recorded piece 0 yet');
        origin.release();
        await running;
      } finally {
        collector.close();
      }
      await session.fetchMissingFromOrigin();
    };
    const sources: string[] = [];
    await child.download({
      url: origin.url,
      pieceLength: PIECE,
      strategy,
      onEvent: (event) => {
        if (event.type === 'piece' && event.piece.number === 0) sources.push(event.piece.source);
      },
    });
    assert.ok(whileParentHalf && whileParentHalf.child > 0 && whileParentHalf.parent < PIECE, `relayed before the parent had it all: ${JSON.stringify(whileParentHalf)}`);
    assert.deepEqual(sources, ['parent'], 'piece 0 recorded once, from the parent');
    assert.deepEqual(digests, [digestOf(body.subarray(0, PIECE))], 'the digest announced over SyncPieces, once the parent verified the piece');
    assert.equal(up.view.piece(0)?.digest, digests[0]);
    const [task] = await child.tasks.list();
    assert.ok((await readFile(task!.dataPath)).equals(body), 'the child holds the file, byte for byte');
  }, 30_000);
});

test('verifiedDigest waits for the parent to announce the piece as verified: undefined before (timeout) and for an unknown parent, the digest after', async (t) => {
  const body = Buffer.alloc(2 * PIECE, 7);
  const origin = await gatedOrigin(t, body);
  // Piece 0 arriving there is enough: its bytes do not matter here (a streamed receive writes in batches).
  const up = await parent(t, origin.url, 0);
  const clients = new UploadClients();
  t.onTestFinished(() => clients.close());
  const collector = new PieceCollector({ taskId: up.view.taskId, hostId: 'child-host', clients, relay: true });
  t.onTestFinished(() => collector.close());
  collector.add([up.candidate]);
  const signal = new AbortController().signal;
  await until('piece 0 announced as receiving', () => collector.holders(0).find((h) => h.piece.receiving));
  assert.equal(await collector.verifiedDigest('parent', 0, 100, signal), undefined, 'not verified yet: nothing within the timeout');
  assert.equal(await collector.verifiedDigest('someone-else', 0, 60_000, signal), undefined, 'an unknown parent answers at once');
  const waiting = collector.verifiedDigest('parent', 0, 60_000, signal);
  origin.release();
  assert.equal(await waiting, digestOf(body.subarray(0, PIECE)));
  assert.equal(await collector.verifiedDigest('parent', 0, 0, signal), digestOf(body.subarray(0, PIECE)), 'known already: at once');
  const stopped = new AbortController();
  const aborted = collector.verifiedDigest('parent', 1, 60_000, stopped.signal);
  stopped.abort();
  assert.equal(await aborted, undefined);
}, 30_000);

/**
 * The seed-peer trigger. The seed daemon here is a real grpc-js DfdaemonUpload server on port 0: the
 * scheduler calls its DownloadTask like a real seed's, and it then registers over AnnouncePeer and
 * reports origin pieces as a real seed does (it moves no bytes: no piece server is involved).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test, type TestContext } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { taskIdOf, type commonv2, type dfdaemonv2, type schedulerv2 } from '../../api/index.ts';
import { dfdaemonProto, download, PIECE_LENGTH, startHarness, TASK_ID, type Harness, type PeerStreamClient } from './support.ts';

interface FakeSeed {
  readonly port: number;
  readonly calls: commonv2.Download__Output[];
  /** Resolves with the seed's AnnouncePeer stream once it registered and started from the origin. */
  readonly started: Promise<PeerStreamClient>;
}

/** Seed daemon: on DownloadTask, announce a peer of the task, go to the origin, report pieces when told. */
async function startFakeSeed(t: TestContext, h: Harness, options: { hostId: string; fail?: boolean; pieces?: Promise<void> }): Promise<FakeSeed> {
  const calls: commonv2.Download__Output[] = [];
  let markStarted: (stream: PeerStreamClient) => void = () => {};
  const started = new Promise<PeerStreamClient>((resolve) => (markStarted = resolve));
  const server = new grpc.Server();
  const handlers: Partial<dfdaemonv2.DfdaemonUploadHandlers> = {
    DownloadTask: (call: grpc.ServerWritableStream<dfdaemonv2.DownloadTaskRequest__Output, dfdaemonv2.DownloadTaskResponse>) => {
      const dl = call.request.download!;
      calls.push(dl);
      if (options.fail) {
        call.emit('error', { code: grpc.status.INTERNAL, details: 'origin unreachable from the seed' });
        return;
      }
      void (async () => {
        const peerId = `${options.hostId}-peer-seed`;
        const stream = h.peer(options.hostId, peerId);
        stream.register({ ...dl, outputPath: undefined } as commonv2.Download);
        const first = await stream.next();
        assert.equal(first.response, 'needBackToSourceResponse');
        stream.send({ downloadPeerBackToSourceStartedRequest: {} });
        call.write({ hostId: options.hostId, taskId: TASK_ID, peerId, downloadTaskStartedResponse: { contentLength: dl.actualContentLength ?? 0 } });
        markStarted(stream);
        await options.pieces;
        const count = Number(dl.actualPieceCount ?? 0);
        for (let n = 0; n < count; n++) {
          stream.piece(n);
          call.write({ hostId: options.hostId, taskId: TASK_ID, peerId, downloadPieceFinishedResponse: { piece: { number: n, length: PIECE_LENGTH } } });
        }
        stream.send({ downloadPeerBackToSourceFinishedRequest: { contentLength: dl.actualContentLength ?? 0, pieceCount: count } });
        await stream.status();
        call.end();
      })().catch((error: unknown) => call.emit('error', { code: grpc.status.INTERNAL, details: String(error) }));
    },
  };
  server.addService(dfdaemonProto.DfdaemonUpload.service, handlers as dfdaemonv2.DfdaemonUploadHandlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  t.onTestFinished(() => server.forceShutdown());
  await h.announceHost({ id: options.hostId, type: 'HOST_TYPE_SUPER_SEED', port, downloadPort: port + 1 });
  return { port, calls, started };
}

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('the first normal peer triggers the seed; the seed, downloading from the origin, is its parent', async (t) => {
  // Rounds far apart and many of them: only the seed can answer this peer within the test's wait.
  const h = await startHarness(t, { scheduler: { retryInterval: '2s', retryBackToSourceLimit: 100, retryLimit: 200 } });
  let releasePieces: () => void = () => {};
  const pieces = new Promise<void>((resolve) => (releasePieces = resolve));
  const seed = await startFakeSeed(t, h, { hostId: 'seed-1', pieces });
  await h.announceHost({ id: 'host-a' });
  const seeds = await h.unary<unknown, schedulerv2.ListHostsResponse__Output>('ListHosts', { type: 'HOST_TYPE_SUPER_SEED' });
  assert.deepEqual(seeds.hosts.map((host) => host.id), ['seed-1']);

  const peer = h.peer('host-a', 'peer-a');
  peer.register(download(4, { outputPath: '/tmp/out.bin' }));
  const response = await peer.next();
  assert.equal(response.response, 'normalTaskResponse');
  const parent = response.normalTaskResponse!.candidateParents[0]!;
  assert.equal(parent.id, 'seed-1-peer-seed');
  assert.equal(parent.state, 'BackToSource');
  assert.equal(parent.host!.type, 'HOST_TYPE_SUPER_SEED');
  assert.equal(parent.host!.port, seed.port);
  assert.equal(parent.host!.downloadPort, seed.port + 1);

  // The seed got the peer's Download, told to go to the origin, with no output path.
  assert.equal(seed.calls.length, 1);
  assert.equal(seed.calls[0]!.needBackToSource, true);
  assert.equal(seed.calls[0]!.outputPath, undefined);
  assert.equal(seed.calls[0]!.url, download().url);

  releasePieces();
  const seedStream = await seed.started;
  assert.equal((await seedStream.status()).code, grpc.status.OK);
  peer.send({ downloadPeerStartedRequest: {} });
  for (let n = 0; n < 4; n++) peer.piece(n, parent.id);
  peer.send({ downloadPeerFinishedRequest: { contentLength: 4 * PIECE_LENGTH, pieceCount: 4 } });
  assert.equal((await peer.status()).code, grpc.status.OK);
  assert.match(await h.metricsText(), /dragonfly_scheduler_trigger_seed_peer_total 1/);
});

test('an unreachable seed: the waiting peer gets NeedBackToSource, the next peer downloads from it', async (t) => {
  const h = await startHarness(t, { scheduler: { retryInterval: '2s', retryBackToSourceLimit: 100, retryLimit: 200 } });
  await h.announceHost({ id: 'seed-1', type: 'HOST_TYPE_SUPER_SEED', port: await closedPort() });
  await h.announceHost({ id: 'host-a' });
  await h.announceHost({ id: 'host-b' });
  const a = h.peer('host-a', 'peer-a');
  a.register();
  const response = await a.next();
  assert.equal(response.response, 'needBackToSourceResponse');
  assert.equal(response.needBackToSourceResponse!.description, "peer's NeedBackToSource is true");
  assert.match(await h.metricsText(), /dragonfly_scheduler_trigger_seed_peer_failure_total 1/);

  a.send({ downloadPeerBackToSourceStartedRequest: {} });

  // The task is running from peer-a: peer-b downloads from it, and the failed seed is not asked again.
  const b = h.peer('host-b', 'peer-b');
  b.register();
  const second = await b.next();
  assert.deepEqual(second.normalTaskResponse?.candidateParents.map((p) => p.id), ['peer-a']);
  assert.match(await h.metricsText(), /dragonfly_scheduler_trigger_seed_peer_total 1/);
});

test('a seed whose DownloadTask fails: the waiting peer gets NeedBackToSource', async (t) => {
  const h = await startHarness(t, { scheduler: { retryInterval: '2s', retryBackToSourceLimit: 100, retryLimit: 200 } });
  const seed = await startFakeSeed(t, h, { hostId: 'seed-1', fail: true });
  await h.announceHost({ id: 'host-a' });
  const a = h.peer('host-a', 'peer-a');
  a.register();
  assert.equal((await a.next()).response, 'needBackToSourceResponse');
  assert.equal(seed.calls.length, 1);
});

test('a seed host registering goes to the origin itself; so does everyone with seedPeer disabled', async (t) => {
  const h = await startHarness(t);
  const seed = await startFakeSeed(t, h, { hostId: 'seed-1' });
  const s = h.peer('seed-1', 'seed-1-own');
  s.register();
  assert.equal((await s.next()).needBackToSourceResponse?.description, "peer's NeedBackToSource is true");
  assert.equal(seed.calls.length, 0);

  const off = await startHarness(t, { seedPeer: { enable: false } });
  const offSeed = await startFakeSeed(t, off, { hostId: 'seed-2' });
  await off.announceHost({ id: 'host-a' });
  const a = off.peer('host-a', 'peer-a');
  a.register();
  assert.equal((await a.next()).response, 'needBackToSourceResponse');
  assert.equal(offSeed.calls.length, 0);
});

test('priorities: LEVEL3 goes to the origin itself, LEVEL2 is NOT_FOUND, LEVEL1 FAILED_PRECONDITION', async (t) => {
  const h = await startHarness(t);
  const seed = await startFakeSeed(t, h, { hostId: 'seed-1' });
  await h.announceHost({ id: 'host-a' });
  const level3 = h.peer('host-a', 'peer-3');
  level3.register(download(4, { priority: 'LEVEL3' }));
  assert.equal((await level3.next()).response, 'needBackToSourceResponse');
  level3.cancel();

  // A fresh task per peer so that each one finds the task with nobody in it.
  const cases = [
    ['LEVEL2', grpc.status.NOT_FOUND],
    ['LEVEL1', grpc.status.FAILED_PRECONDITION],
  ] as const;
  for (const [priority, code] of cases) {
    const url = `http://origin.test/${priority}`;
    const peer = h.peer('host-a', `peer-${priority}`, taskIdOf({ url }));
    peer.register(download(4, { url, priority }));
    assert.equal((await peer.status()).code, code, priority);
  }
  assert.equal(seed.calls.length, 0);
});

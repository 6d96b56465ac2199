/**
 * Per-parent connections are bounded in time: a parent's undici pool (PieceClient) and its gRPC
 * client (UploadClients) are closed once it has been idle for `idleMs`, the parent's server sees
 * the connection go, and the next request opens a new one. Work still in flight (a piece body being
 * read, a SyncPieces stream) keeps them open however long it takes.
 */
import { test, describe, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { crc32Digest, type dfdaemonv2 } from '../../api/index.ts';
import { addon } from '../../addon/index.ts';
import { LinkRates, type PieceBody } from '../../engine/index.ts';
import { PieceClient, UploadClients } from '../../daemon/index.ts';
import { loadProtosForTests } from '../support/grpc.ts';
import { waitFor } from '../support/temp.ts';

const IDLE_MS = 150;
const TASK = 'a'.repeat(64);
const PIECE = Buffer.alloc(64 * 1024, 3).map((_, i) => (i * 13) & 0xff);
const ANNOUNCED = { number: 0, offset: 0, length: PIECE.length, digest: crc32Digest(addon.crc32(PIECE, 0)) };

/** Sockets a server accepted, and how many of them the other side has closed. */
class Connections {
  readonly sockets: Socket[] = [];
  closed = 0;
  track(socket: Socket): void {
    this.sockets.push(socket);
    socket.once('close', () => this.closed++);
  }
  get open(): number {
    return this.sockets.length - this.closed;
  }
}

async function listen(t: TestContext, server: TcpServer): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

async function drain(piece: PieceBody): Promise<number> {
  let bytes = 0;
  for await (const chunk of piece.body as AsyncIterable<Uint8Array>) bytes += chunk.length;
  return bytes;
}

describe('PieceClient', () => {
  /** A piece server whose sockets are counted; `hold` makes the next answer send half and wait. */
  async function pieceServer(t: TestContext) {
    const connections = new Connections();
    let held: (() => void) | undefined;
    let holdNext = false;
    const server = createHttpServer((_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'content-length': PIECE.length, 'x-dragonfly-piece-digest': ANNOUNCED.digest });
      if (!holdNext) return void res.end(PIECE);
      holdNext = false;
      res.write(PIECE.subarray(0, PIECE.length / 2));
      held = () => res.end(PIECE.subarray(PIECE.length / 2));
    });
    // Longer than the test: only the client can be the one that closes a connection.
    server.keepAliveTimeout = 120_000;
    server.on('connection', (socket: Socket) => connections.track(socket));
    t.onTestFinished(() => server.closeAllConnections());
    const port = await listen(t, server as unknown as TcpServer);
    return { port, connections, hold: () => (holdNext = true), release: () => held?.() };
  }

  test('closes an idle parent\'s pool, and a later piece opens a new one', async (t) => {
    const server = await pieceServer(t);
    const client = new PieceClient({ timeoutMs: 10_000, directReceive: false, rates: new LinkRates(), idleMs: IDLE_MS });
    t.onTestFinished(() => client.close());
    const parent = { peerId: 'p', ip: '127.0.0.1', port: server.port };

    assert.equal(await drain(await client.fetch(parent, TASK, ANNOUNCED, t.signal)), PIECE.length);
    assert.ok(client.hasPool('127.0.0.1', server.port));
    assert.equal(server.connections.open, 1);
    await waitFor('the idle pool to close its connection', () => server.connections.closed === 1, 5_000);
    assert.equal(client.hasPool('127.0.0.1', server.port), false);

    assert.equal(await drain(await client.fetch(parent, TASK, ANNOUNCED, t.signal)), PIECE.length);
    assert.ok(client.hasPool('127.0.0.1', server.port));
    assert.equal(server.connections.sockets.length, 2, 'the second piece came over a new connection');
  });

  test('keeps the pool of a parent whose piece is still arriving', async (t) => {
    const server = await pieceServer(t);
    const client = new PieceClient({ timeoutMs: 10_000, directReceive: false, rates: new LinkRates(), idleMs: IDLE_MS });
    t.onTestFinished(() => client.close());
    server.hold();
    const piece = await client.fetch({ peerId: 'p', ip: '127.0.0.1', port: server.port }, TASK, ANNOUNCED, t.signal);
    const read = drain(piece);
    await sleep(IDLE_MS * 4);
    assert.ok(client.hasPool('127.0.0.1', server.port));
    assert.equal(server.connections.closed, 0);
    server.release();
    assert.equal(await read, PIECE.length);
    await waitFor('the pool to close once the piece is in', () => server.connections.closed === 1, 5_000);
  });
});

describe('UploadClients', () => {
  /**
   * A real DfdaemonUpload server whose connections go through a net.Server of ours (grpc-js's
   * connection injector), so the test sees them open and close. SyncPieces sends one piece and
   * ends, or with `hold` stays open until released.
   */
  async function uploadServer(t: TestContext) {
    const connections = new Connections();
    let holdNext = false;
    let held: (() => void) | undefined;
    const server = new grpc.Server();
    const syncPieces = (call: grpc.ServerWritableStream<dfdaemonv2.SyncPiecesRequest__Output, dfdaemonv2.SyncPiecesResponse>) => {
      call.write({ number: 0, offset: 0, length: PIECE.length, digest: ANNOUNCED.digest, ip: '127.0.0.1', tcpPort: 1 });
      if (!holdNext) return void call.end();
      holdNext = false;
      held = () => call.end();
    };
    server.addService(loadProtosForTests().dfdaemon.DfdaemonUpload.service, { syncPieces } as grpc.UntypedServiceImplementation);
    const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    const tcp = createTcpServer((socket) => {
      connections.track(socket);
      injector.injectConnection(socket);
    });
    t.onTestFinished(() => {
      injector.destroy();
      server.forceShutdown();
      for (const socket of connections.sockets) socket.destroy();
    });
    const port = await listen(t, tcp);
    return { port, connections, hold: () => (holdNext = true), release: () => held?.() };
  }

  function sync(clients: UploadClients, port: number): Promise<number> {
    const call = clients.syncPieces('127.0.0.1', port, { hostId: 'h', taskId: TASK, interestedPieceNumbers: [] });
    return new Promise((resolve, reject) => {
      let pieces = 0;
      call.on('data', () => pieces++);
      call.on('error', reject);
      call.on('end', () => resolve(pieces));
    });
  }

  test('closes an idle parent\'s client, and a later SyncPieces opens a new one', async (t) => {
    const server = await uploadServer(t);
    const clients = new UploadClients({ idleMs: IDLE_MS });
    t.onTestFinished(() => clients.close());

    assert.equal(await sync(clients, server.port), 1);
    assert.ok(clients.has('127.0.0.1', server.port));
    await waitFor('the idle client to close its connection', () => server.connections.sockets.length === 1 && server.connections.closed === 1, 5_000);
    assert.equal(clients.has('127.0.0.1', server.port), false);

    assert.equal(await sync(clients, server.port), 1);
    assert.ok(clients.has('127.0.0.1', server.port));
    assert.equal(server.connections.sockets.length, 2, 'the second call came over a new connection');
  });

  test('keeps the client of a parent whose SyncPieces stream is open', async (t) => {
    const server = await uploadServer(t);
    const clients = new UploadClients({ idleMs: IDLE_MS });
    t.onTestFinished(() => clients.close());
    server.hold();
    const done = sync(clients, server.port);
    await waitFor('the stream to open', () => server.connections.sockets.length === 1, 5_000);
    await sleep(IDLE_MS * 4);
    assert.ok(clients.has('127.0.0.1', server.port));
    assert.equal(server.connections.closed, 0);
    server.release();
    assert.equal(await done, 1);
    await waitFor('the client to close once the stream ended', () => server.connections.closed === 1, 5_000);
    assert.equal(clients.has('127.0.0.1', server.port), false);
  });
});

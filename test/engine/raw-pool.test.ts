/**
 * Kept-alive raw connections (engine/source/raw-pool.ts) behind HttpSource.read: pieces share one
 * TCP connection, pipelined, byte-identical with their crc32, on the native and the fallback
 * receive alike; servers that close, reset or send short still give each piece today's result.
 */
import { describe, test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import zlib from 'node:zlib';
import { loadAddon } from '../../addon/index.ts';
import { createEngine, HttpSource, isDirectBody, LinkRates } from '../../engine/index.ts';
import { taskRequest } from '../../daemon/index.ts';
import { frontDoor } from '../support/engine.ts';
import { implementations } from '../addon/helpers.ts';
import { content } from '../support/origin.ts';

interface Behaviour {
  /** Ends the connection after this many answers. */
  closeAfter?: number;
  /** Sends `connection: close` on every answer. */
  sayClose?: boolean;
  /** For the answer with this index (over all connections): send half the body, then end or reset. */
  breakAnswer?: { index: number; how: 'end' | 'reset' };
  /** Body written in this many parts with a pause between them. */
  slowParts?: number;
}

/** An HTTP/1.1 range server on raw sockets: answers in order, counts connections and requests waiting at once. */
async function rangeServer(t: TestContext, data: Buffer, behaviour: Behaviour = {}) {
  const stats = { connections: 0, requests: 0, maxWaiting: 0, answers: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    stats.connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    let text = '';
    const waiting: string[] = [];
    let answering = false;
    let answeredHere = 0;
    const next = async (): Promise<void> => {
      if (answering) return;
      answering = true;
      while (waiting.length > 0 && !socket.destroyed) {
        const request = waiting[0]!;
        const [, from, to] = /range: bytes=(\d+)-(\d+)/.exec(request)!;
        const body = data.subarray(Number(from), Number(to) + 1);
        const index = stats.answers++;
        socket.write(`HTTP/1.1 206 Partial Content\r\ncontent-range: bytes ${from}-${to}/${data.length}\r\ncontent-length: ${body.length}\r\n${behaviour.sayClose ? 'connection: close\r\n' : ''}\r\n`);
        if (behaviour.breakAnswer?.index === index) {
          socket.write(body.subarray(0, body.length >> 1));
          await delay(20);
          if (behaviour.breakAnswer.how === 'end') socket.end();
          else socket.resetAndDestroy();
          return;
        }
        const parts = behaviour.slowParts ?? 1;
        const step = Math.ceil(body.length / parts);
        for (let at = 0; at < body.length; at += step) {
          if (at > 0) await delay(15);
          socket.write(body.subarray(at, at + step));
        }
        waiting.shift();
        answeredHere++;
        if (behaviour.sayClose || answeredHere === behaviour.closeAfter) {
          socket.end();
          return;
        }
      }
      answering = false;
    };
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      let end;
      while ((end = text.indexOf('\r\n\r\n')) >= 0) {
        waiting.push(text.slice(0, end));
        text = text.slice(end + 4);
        stats.requests++;
      }
      stats.maxWaiting = Math.max(stats.maxWaiting, waiting.length);
      void next();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.onTestFinished(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/blob`, stats };
}

function taskFile(t: TestContext): { fd: number; read: () => Buffer } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'df-raw-pool-'));
  const file = path.join(dir, 'task');
  const fd = fs.openSync(file, 'w+');
  t.onTestFinished(() => {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { fd, read: () => fs.readFileSync(file) };
}

const PIECE = 256 * 1024;

for (const { name, addon, skip } of implementations) {
  describe.skipIf(skip !== false)(`${name} receive: pieces over kept-alive raw connections`, () => {
    const source = (t: TestContext, pool?: { connectionsPerHost?: number; pipelining?: number }) => {
      const http = new HttpSource({
        maxRedirects: 3,
        redirectCacheTtlMs: 1000,
        directReceive: addon.receiveToFile,
        keepAlive: { receiveKeepAlive: addon.receiveToFileKeepAlive, ...(pool ? { pool } : {}) },
        // A clock that never moves: every link reads as fast, so load on the machine cannot send pieces
        // to the slow-link path, which these tests are not about.
        rates: new LinkRates(() => 0),
      });
      t.onTestFinished(() => http.close());
      return http;
    };

    async function fetchPiece(http: HttpSource, url: string, fd: number, index: number, size: number): Promise<{ bytes: number; crc32: number }> {
      const body = await http.read({ url, range: { start: index * PIECE, length: size }, timeoutMs: 5_000 });
      assert.ok(isDirectBody(body), 'a direct body');
      return body.receiveInto(fd, index * PIECE, size);
    }

    test('eight pieces one after another: one TCP connection, every byte and crc32 right', async (t) => {
      const data = content(8 * PIECE, 11);
      const server = await rangeServer(t, data);
      const http = source(t);
      const file = taskFile(t);
      for (let i = 0; i < 8; i++) {
        const got = await fetchPiece(http, server.url, file.fd, i, PIECE);
        assert.deepEqual(got, { bytes: PIECE, crc32: zlib.crc32(data.subarray(i * PIECE, (i + 1) * PIECE)) });
      }
      assert.ok(file.read().equals(data));
      assert.equal(server.stats.connections, 1);
      assert.equal(server.stats.requests, 8);
    });

    test('pieces at once on one connection are pipelined: the next request waits at the server while a body is sent', async (t) => {
      const data = content(6 * PIECE, 12);
      const server = await rangeServer(t, data, { slowParts: 4 });
      const http = source(t, { connectionsPerHost: 1, pipelining: 2 });
      const file = taskFile(t);
      await fetchPiece(http, server.url, file.fd, 0, PIECE);
      await Promise.all([1, 2, 3, 4, 5].map((i) => fetchPiece(http, server.url, file.fd, i, PIECE)));
      assert.ok(file.read().equals(data));
      assert.equal(server.stats.connections, 1);
      assert.ok(server.stats.maxWaiting >= 2, `requests waiting at once: ${server.stats.maxWaiting}`);
    });

    for (const [label, behaviour] of [
      ['a server that ends the connection after each answer', { closeAfter: 1 }],
      ['a server that says connection: close', { sayClose: true }],
    ] as const) {
      test(`${label}: every piece still arrives, each on a new connection`, async (t) => {
        const data = content(4 * PIECE, 13);
        const server = await rangeServer(t, data, behaviour);
        const http = source(t);
        const file = taskFile(t);
        for (let i = 0; i < 4; i++) await fetchPiece(http, server.url, file.fd, i, PIECE);
        assert.ok(file.read().equals(data));
        assert.equal(server.stats.connections, 4);
      });
    }

    for (const how of ['end', 'reset'] as const) {
      test(`a body cut by ${how === 'end' ? 'an end' : 'a reset'} fails only its piece (DF_ERR_SOURCE_PROTOCOL); the next comes on a new connection`, async (t) => {
        const data = content(3 * PIECE, 14);
        const server = await rangeServer(t, data, { breakAnswer: { index: 1, how } });
        const http = source(t);
        const file = taskFile(t);
        await fetchPiece(http, server.url, file.fd, 0, PIECE);
        await assert.rejects(fetchPiece(http, server.url, file.fd, 1, PIECE), (error: { code?: string }) => error.code === 'DF_ERR_SOURCE_PROTOCOL');
        await fetchPiece(http, server.url, file.fd, 2, PIECE);
        await fetchPiece(http, server.url, file.fd, 1, PIECE);
        assert.ok(file.read().equals(data));
        assert.equal(server.stats.connections, 2);
      });
    }
  });
}

test('without the option, a piece still goes over a connection of its own (Connection: close)', async (t) => {
  const data = content(2 * PIECE, 15);
  const server = await rangeServer(t, data);
  // Every link reads as fast (a clock that never moves), so load on the machine cannot send the
  // pieces to the kept-alive slow-link path, which this test is not about.
  const http = new HttpSource({ maxRedirects: 3, redirectCacheTtlMs: 1000, directReceive: loadAddon({ forceFallback: true }).receiveToFile, rates: new LinkRates(() => 0) });
  t.onTestFinished(() => http.close());
  const file = taskFile(t);
  for (let i = 0; i < 2; i++) {
    const body = await http.read({ url: server.url, range: { start: i * PIECE, length: PIECE }, timeoutMs: 5_000 });
    assert.ok(isDirectBody(body));
    await body.receiveInto(file.fd, i * PIECE, PIECE);
  }
  assert.ok(file.read().equals(data));
  assert.equal(server.stats.connections, 2);
});

test('createEngine with keepAlive: an http download shares kept connections instead of one per piece', { skip: loadAddon().kind !== 'native' }, async (t) => {
  const pieceLength = 4 << 20;
  const data = content(6 * pieceLength, 21);
  const server = await rangeServer(t, data);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'df-engine-keepalive-'));
  const engine = createEngine({ storageDir: path.join(dir, 'store'), concurrentPieceCount: 1, keepAlive: true });
  t.onTestFinished(async () => {
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const out = path.join(dir, 'out.bin');
  await frontDoor(engine).download(taskRequest({ url: server.url, outputPath: out, pieceLength }), { onStarted: () => {}, onPiece: () => {} });
  assert.ok(fs.readFileSync(out).equals(data));
  // The stat probe goes through undici (one connection); the six pieces, one at a time, share one more.
  assert.equal(server.stats.connections, 2);
});

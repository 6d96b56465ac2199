/**
 * The raw range client (engine/source/raw-range.ts) behind HttpSource.read: what it sends, the
 * answers it leaves to undici, and its errors, against scripted TCP servers on 127.0.0.1 port 0.
 */
import { test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { loadAddon } from '../../addon/index.ts';
import { HttpSource, isDirectBody, type ReadRequest } from '../../engine/index.ts';
import { content, Origin } from '../support/origin.ts';
import { closedPort } from '../support/temp.ts';

/** A server that answers every connection with `answer(requestText)` and keeps what it was sent. */
async function scripted(t: TestContext, answer: (socket: net.Socket, request: string) => void): Promise<{ url: string; requests: string[] }> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (!text.includes('\r\n\r\n')) return;
      requests.push(text);
      answer(socket, text);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.onTestFinished(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/f?x=1`, requests };
}

const source = (t: TestContext) => {
  const http = new HttpSource({ maxRedirects: 3, redirectCacheTtlMs: 1000, directReceive: loadAddon({ forceFallback: true }).receiveToFile });
  t.onTestFinished(() => http.close());
  return http;
};

async function drain(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

test('the request line and headers: path and query, Host, the caller headers, Range, If-Range, Connection: close', async (t) => {
  const server = await scripted(t, (socket) => socket.end('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 2-4/10\r\nContent-Length: 3\r\n\r\nabc'));
  const body = await source(t).read({
    url: server.url,
    headers: { Authorization: 'Bearer x' },
    range: { start: 2, length: 3 },
    validator: '"v1"',
    timeoutMs: 5_000,
  });
  assert.ok(isDirectBody(body));
  assert.equal((await drain(body)).toString(), 'abc');
  const port = new URL(server.url).port;
  assert.equal(
    server.requests[0],
    `GET /f?x=1 HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Bearer x\r\nrange: bytes=2-4\r\nif-range: "v1"\r\nconnection: close\r\n\r\n`,
  );
});

test('a direct body can also be iterated, for code that only knows streams', async (t) => {
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());
  const data = content(3 * 1024 * 1024 + 7, 80);
  origin.setFile('/file', data);
  const body = await source(t).read({ url: origin.url(), range: { start: 5, length: data.length - 10 }, timeoutMs: 5_000 });
  assert.ok(isDirectBody(body));
  assert.ok((await drain(body)).equals(data.subarray(5, data.length - 5)));
  assert.equal(origin.gets()[0]?.headers.connection, 'close');
});

test('a chunked 206 is not taken: the piece goes through undici, which reads it', async (t) => {
  const server = await scripted(t, (socket, request) => {
    const direct = request.includes('connection: close');
    socket.end(
      direct
        ? 'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-2/3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n'
        : 'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-2/3\r\nContent-Length: 3\r\n\r\nxyz',
    );
  });
  const body = await source(t).read({ url: server.url, range: { start: 0, length: 3 }, timeoutMs: 5_000 });
  assert.equal(isDirectBody(body), false);
  assert.equal((await drain(body)).toString(), 'xyz');
  assert.equal(server.requests.length, 2, 'the raw attempt, then undici');
});

test('headers with CR or LF in a value are never sent from here: undici refuses them', async (t) => {
  const server = await scripted(t, (socket) => socket.end('HTTP/1.1 500 No\r\nContent-Length: 0\r\n\r\n'));
  await assert.rejects(source(t).read({ url: server.url, headers: { 'x-a': 'b\r\nx-injected: 1' }, range: { start: 0, length: 3 }, timeoutMs: 5_000 }));
  assert.ok(server.requests.every((r) => !r.includes('x-injected')));
});

const piece = (url: string, extra: Partial<ReadRequest> = {}): ReadRequest => ({ url, range: { start: 0, length: 3 }, timeoutMs: 5_000, ...extra });

test('answers that are not HTTP are DF_ERR_SOURCE_PROTOCOL: garbage, endless headers, an end before the headers', async (t) => {
  const garbage = await scripted(t, (socket) => socket.end('SSH-2.0-OpenSSH\r\n\r\n'));
  const endless = await scripted(t, (socket) => {
    socket.write('HTTP/1.1 206 Partial Content\r\n');
    for (let i = 0; i < 2000; i++) socket.write(`x-filler-${i}: ${'y'.repeat(40)}\r\n`);
  });
  const ended = await scripted(t, (socket) => socket.end('HTTP/1.1 206 Partial'));
  for (const server of [garbage, endless, ended]) {
    await assert.rejects(source(t).read(piece(server.url)), { code: 'DF_ERR_SOURCE_PROTOCOL' });
    assert.equal(server.requests.length, 1, 'not asked again through undici');
  }
});

test('errors: nothing listening is DF_ERR_SOURCE_UNREACHABLE, no headers in time DF_ERR_SOURCE_TIMEOUT, an abort its reason', async (t) => {
  const port = await closedPort();
  await assert.rejects(source(t).read(piece(`http://127.0.0.1:${port}/`)), { code: 'DF_ERR_SOURCE_UNREACHABLE' });
  const silent = await scripted(t, () => {});
  await assert.rejects(source(t).read(piece(silent.url, { timeoutMs: 200 })), { code: 'DF_ERR_SOURCE_TIMEOUT' });
  const reason = new Error('stop');
  const controller = new AbortController();
  setTimeout(() => controller.abort(reason), 50);
  await assert.rejects(source(t).read(piece(silent.url, { signal: controller.signal })), (e) => e === reason);
});

test('a body nobody takes is let go after the timeout', async (t) => {
  let closed: Promise<unknown> | undefined;
  const server = await scripted(t, (socket) => {
    closed = once(socket, 'close');
    socket.write('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-99/100\r\nContent-Length: 100\r\n\r\n');
  });
  const body = await source(t).read({ url: server.url, range: { start: 0, length: 100 }, timeoutMs: 200 });
  assert.ok(isDirectBody(body));
  await closed;
});

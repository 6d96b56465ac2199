/**
 * PieceClient against a stand-in piece server: the direct path (raw client + receiveToFile, here
 * the addon's own and its JS fallback) and undici's give the same bodies and the same errors.
 */
import { test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { addon, loadAddon } from '../../addon/index.ts';
import { crc32Digest } from '../../api/index.ts';
import { isDirectBody, type PieceBody, type ReceiveToFile } from '../../engine/index.ts';
import { ParentPieceError, PieceClient } from '../../daemon/index.ts';

const PIECE = Buffer.alloc(256 * 1024, 7).map((_, i) => (i * 31) & 0xff);
const DIGEST = crc32Digest(addon.crc32(PIECE, 0));

const fallback = loadAddon({ forceFallback: true });
const variants: ReadonlyArray<readonly [string, ReceiveToFile | false, (ReceiveToFile | false)?]> = [
  ['undici', false],
  ['direct (fallback receive)', fallback.receiveToFile],
  ['kept-alive (fallback receive)', fallback.receiveToFile, fallback.receiveToFileKeepAlive],
  ...(addon.kind === 'native'
    ? ([
        ['direct (native receive)', addon.receiveToFile],
        ['kept-alive (native receive)', addon.receiveToFile, addon.receiveToFileKeepAlive],
      ] as const)
    : []),
];

async function serve(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.onTestFinished(() => {
    server.closeAllConnections();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

async function consume(t: TestContext, piece: PieceBody): Promise<{ bytes: number; data: Buffer; digest: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'df-piece-client-'));
  t.onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'data');
  const handle = await open(file, 'w+');
  try {
    if (isDirectBody(piece.body)) {
      const { bytes, crc32 } = await piece.body.receiveInto(handle.fd, 0, PIECE.length);
      return { bytes, data: await readFile(file), digest: crc32Digest(crc32) };
    }
    let crc = 0;
    let bytes = 0;
    for await (const chunk of piece.body) {
      await handle.write(chunk, 0, chunk.length, bytes);
      crc = addon.crc32(chunk, crc);
      bytes += chunk.length;
    }
    return { bytes, data: await readFile(file), digest: crc32Digest(crc) };
  } finally {
    await handle.close();
  }
}

const TASK = 'a'.repeat(64);
const announced = { number: 3, offset: 0, length: PIECE.length, digest: DIGEST };

for (const [name, directReceive, keepAlive] of variants) {
  test(`${name}: a piece's bytes, its announced digest as expectedDigest, and every failure a ParentPieceError`, async (t) => {
    const client = new PieceClient({ timeoutMs: 300, directReceive, keepAlive });
    t.onTestFinished(() => client.close());
    let mode = 'ok';
    const port = await serve(t, (req, res) => {
      assert.equal(req.url, `/pieces/${TASK}/3`);
      if (mode === 'ok') {
        res.writeHead(200, { 'content-length': PIECE.length, 'x-dragonfly-piece-digest': DIGEST });
        res.end(PIECE);
      } else if (mode === '404' || mode === '429') {
        res.writeHead(Number(mode), { 'content-type': 'application/json' });
        res.end('{"code":"x"}');
      } else if (mode === 'short-length') {
        res.writeHead(200, { 'content-length': PIECE.length - 1 });
        res.end(PIECE.subarray(1));
      } else if (mode === 'cut') {
        res.writeHead(200, { 'content-length': PIECE.length });
        res.write(PIECE.subarray(0, 1000), () => setTimeout(() => res.socket?.destroy(), 20));
      } else if (mode === 'stall') {
        res.writeHead(200, { 'content-length': PIECE.length });
        res.write(PIECE.subarray(0, 1000));
      }
      // 'silent': no answer at all.
    });
    const parent = { peerId: 'parent-1', ip: '127.0.0.1', port };
    const fetch = (signal = new AbortController().signal) => client.fetch(parent, TASK, announced, signal);

    const piece = await fetch();
    assert.equal(piece.source, 'parent-1');
    assert.equal(piece.expectedDigest, DIGEST);
    assert.equal(isDirectBody(piece.body), directReceive !== false);
    const got = await consume(t, piece);
    assert.equal(got.bytes, PIECE.length);
    assert.equal(got.digest, DIGEST);
    assert.ok(got.data.equals(PIECE));

    for (const status of [404, 429]) {
      mode = String(status);
      await assert.rejects(fetch(), (error: unknown) => error instanceof ParentPieceError && error.status === status && /answered/.test(error.message));
    }
    mode = 'short-length';
    await assert.rejects(fetch(), (error: unknown) => error instanceof ParentPieceError && /bytes for piece 3/.test(error.message));
    mode = 'silent';
    await assert.rejects(fetch(), (error: unknown) => error instanceof ParentPieceError && /cannot fetch piece 3/.test(error.message));
    for (const broken of ['cut', 'stall']) {
      mode = broken;
      const body = await fetch();
      await assert.rejects(consume(t, body), (error: unknown) => error instanceof ParentPieceError && /broke off piece 3/.test(error.message));
    }
    mode = 'silent';
    const abort = new AbortController();
    const reason = new Error('stop');
    const pending = fetch(abort.signal);
    setTimeout(() => abort.abort(reason), 50);
    await assert.rejects(pending, (error: unknown) => !(error instanceof ParentPieceError));
    mode = 'stall';
    const stop = new AbortController();
    const stalled = await fetch(stop.signal);
    // The piece loop aborts with the default reason (an AbortError), which undici's body passes on.
    setTimeout(() => stop.abort(), 50);
    await assert.rejects(consume(t, stalled), (error: unknown) => !(error instanceof ParentPieceError));
  });
}

for (const [name, receiveKeepAlive] of [
  ['fallback', fallback.receiveToFileKeepAlive],
  ...(addon.kind === 'native' ? ([['native', addon.receiveToFileKeepAlive]] as const) : []),
] as const) {
  test(`kept-alive (${name} receive): pieces from one parent share one connection, each received directly and exact`, async (t) => {
    const client = new PieceClient({ timeoutMs: 2_000, directReceive: fallback.receiveToFile, keepAlive: receiveKeepAlive });
    t.onTestFinished(() => client.close());
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-length': PIECE.length, 'x-dragonfly-piece-digest': DIGEST });
      res.end(PIECE);
    });
    let connections = 0;
    server.on('connection', () => connections++);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.onTestFinished(() => {
      server.closeAllConnections();
      server.close();
    });
    const parent = { peerId: 'parent-1', ip: '127.0.0.1', port: (server.address() as AddressInfo).port };
    for (let i = 0; i < 5; i++) {
      const piece = await client.fetch(parent, TASK, announced, new AbortController().signal);
      assert.ok(isDirectBody(piece.body), 'a kept-alive piece is received directly, not through undici');
      const got = await consume(t, piece);
      assert.equal(got.digest, DIGEST);
      assert.ok(got.data.equals(PIECE));
    }
    assert.equal(connections, 1, 'five pieces, one connection');
  });
}

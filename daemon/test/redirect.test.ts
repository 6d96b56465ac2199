/**
 * The one redirect handler, through both of its users: the engine's HttpSource (undici and the raw
 * socket -> file path) and the proxy's UpstreamClient. Real HTTP servers on 127.0.0.1 record the
 * headers each request brought, so a credential that crossed to another origin shows.
 */
import { describe, test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ENGINE_DEFAULTS, HttpSource, nativeReceiveToFile, type ReceiveToFile } from '../../engine/index.ts';
import { UpstreamClient } from '../proxy/upstream-client.ts';

const BODY = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
const CREDENTIALS = { Authorization: 'Bearer secret', Cookie: 'session=1', 'Proxy-Authorization': 'Basic cHJveHk=' };
const SENT = { ...CREDENTIALS, 'X-Trace': 'kept' };

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
}

/** An origin: `routes` maps a path to a redirect location (absolute or relative); other paths serve BODY with Range. */
async function origin(t: TestContext, routes: Record<string, string> = {}) {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    seen.push({ method: req.method ?? '', path, headers: req.headers });
    const location = routes[path];
    if (location !== undefined) {
      res.writeHead(307, { location, 'content-length': 0 }).end();
      return;
    }
    const match = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!match) {
      res.writeHead(200, { 'content-length': BODY.length }).end(req.method === 'HEAD' ? undefined : BODY);
      return;
    }
    const [start, end] = [Number(match[1]), Math.min(Number(match[2]), BODY.length - 1)];
    res.writeHead(206, { 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${BODY.length}` });
    res.end(BODY.subarray(start, end + 1));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.onTestFinished(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { seen, url: (path: string) => `${base}${path}`, route: (path: string, location: string) => void (routes[path] = location) };
}

function assertCredentials(seen: readonly Seen[], present: boolean): void {
  assert.ok(seen.length > 0, 'the server was asked');
  for (const request of seen) {
    for (const name of ['authorization', 'cookie', 'proxy-authorization']) {
      assert.equal(request.headers[name] !== undefined, present, `${request.method} ${request.path} ${present ? 'lacks' : 'carries'} ${name}`);
    }
    assert.equal(request.headers['x-trace'], 'kept');
  }
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

const native = nativeReceiveToFile();
const modes: Array<{ name: string; directReceive: ReceiveToFile | false }> = [{ name: 'undici', directReceive: false }];
if (native) modes.push({ name: 'raw socket -> file', directReceive: native });

describe.each(modes)('HttpSource ($name)', ({ directReceive }) => {
  const source = (t: TestContext, maxRedirects: number = ENGINE_DEFAULTS.maxRedirects) => {
    const http = new HttpSource({ maxRedirects, redirectCacheTtlMs: 60_000, directReceive });
    t.onTestFinished(() => http.close());
    return http;
  };
  const read = (http: HttpSource, url: string, start: number, length: number, signal: AbortSignal) =>
    http.read({ url, headers: SENT, range: { start, length }, timeoutMs: 10_000, signal }).then(drain);

  test('same-origin redirect: followed, credentials kept, the target cached for later pieces', async (t) => {
    const a = await origin(t, { '/moved': '/file' });
    const http = source(t);
    const stat = await http.stat({ url: a.url('/moved'), headers: SENT, timeoutMs: 10_000, signal: t.signal });
    assert.equal(stat.contentLength, BODY.length);
    assert.deepEqual(await read(http, a.url('/moved'), 4, 8, t.signal), BODY.subarray(4, 12));
    assert.equal(a.seen.filter((r) => r.path === '/moved').length, 1, 'the second request went straight to the target');
    assertCredentials(a.seen, true);
  });

  test('cross-origin redirect: the target never gets Authorization, Cookie or Proxy-Authorization, also from the cache', async (t) => {
    const target = await origin(t);
    const front = await origin(t, { '/moved': target.url('/file') });
    const http = source(t);
    await http.stat({ url: front.url('/moved'), headers: SENT, timeoutMs: 10_000, signal: t.signal });
    assert.deepEqual(await read(http, front.url('/moved'), 0, 10, t.signal), BODY.subarray(0, 10));
    assert.deepEqual(await read(http, front.url('/moved'), 10, 10, t.signal), BODY.subarray(10, 20));
    assertCredentials(front.seen, true);
    assert.equal(front.seen.length, 1);
    assertCredentials(target.seen, false);
    assert.equal(target.seen.length, 3);
  });

  test('exactly maxRedirects hops are followed; one more is DF_ERR_TOO_MANY_REDIRECTS', async (t) => {
    const a = await origin(t, { '/1': '/2', '/2': '/3', '/3': '/file' });
    assert.equal((await source(t, 3).stat({ url: a.url('/1'), timeoutMs: 10_000, signal: t.signal })).contentLength, BODY.length);
    await assert.rejects(source(t, 2).stat({ url: a.url('/1'), timeoutMs: 10_000, signal: t.signal }), { code: 'DF_ERR_TOO_MANY_REDIRECTS' });
  });

  test('a redirect loop between two origins is DF_ERR_TOO_MANY_REDIRECTS after maxRedirects hops', async (t) => {
    const a = await origin(t);
    const b = await origin(t, { '/b': a.url('/a') });
    a.route('/a', b.url('/b'));
    await assert.rejects(read(source(t, 4), a.url('/a'), 0, 4, t.signal), { code: 'DF_ERR_TOO_MANY_REDIRECTS' });
    // The raw path asks once by itself first and hands a redirect over to undici.
    const first = directReceive ? 2 : 1;
    assert.equal(a.seen.length + b.seen.length, first + 4, 'the first request and four redirects');
  });
});

describe('UpstreamClient', () => {
  const client = (t: TestContext, maxRedirects?: number) => {
    const upstreams = new UpstreamClient({ maxRedirects, timeoutMs: 10_000 });
    t.onTestFinished(() => upstreams.close());
    return upstreams;
  };
  const get = async (upstreams: UpstreamClient, url: string, signal: AbortSignal) => {
    const answer = await upstreams.request({ url, method: 'GET', headers: SENT, signal });
    return { ...answer, text: await answer.body.text() };
  };

  test('same-origin redirect: followed with credentials; the answer names where it came from', async (t) => {
    const a = await origin(t, { '/v2/blob': '/storage/blob' });
    const answer = await get(client(t), a.url('/v2/blob'), t.signal);
    assert.equal(answer.statusCode, 200);
    assert.equal(answer.text, BODY.toString());
    assert.equal(answer.url, a.url('/storage/blob'));
    assertCredentials(a.seen, true);
  });

  test('cross-origin redirect: the storage origin never gets the credentials', async (t) => {
    const storage = await origin(t);
    const registry = await origin(t, { '/v2/blob': storage.url('/bucket/blob?sig=1') });
    const answer = await get(client(t), registry.url('/v2/blob'), t.signal);
    assert.equal(answer.text, BODY.toString());
    assert.equal(answer.url, storage.url('/bucket/blob?sig=1'));
    assertCredentials(registry.seen, true);
    assertCredentials(storage.seen, false);
    assert.equal(storage.seen[0]?.headers.host, new URL(storage.url('/')).host, 'Host names the new origin');
  });

  test('a redirect loop is DF_ERR_TOO_MANY_REDIRECTS (default limit: 10 hops)', async (t) => {
    const a = await origin(t, { '/a': '/b', '/b': '/a' });
    await assert.rejects(get(client(t), a.url('/a'), t.signal), { code: 'DF_ERR_TOO_MANY_REDIRECTS' });
    assert.equal(a.seen.length, 11);
  });

  test('followRedirects: false and non-GET methods hand the 307 back untouched', async (t) => {
    const a = await origin(t, { '/x': '/y' });
    const upstreams = client(t);
    for (const request of [{ method: 'GET', followRedirects: false }, { method: 'POST' }]) {
      const answer = await upstreams.request({ url: a.url('/x'), headers: SENT, signal: t.signal, ...request });
      await answer.body.dump();
      assert.equal(answer.statusCode, 307);
      assert.equal(answer.headers.location, '/y');
    }
    assert.deepEqual(a.seen.map((r) => r.path), ['/x', '/x']);
  });
});

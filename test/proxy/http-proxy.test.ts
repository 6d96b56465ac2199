/**
 * dfdaemon's proxy port in HTTP proxy mode, against a real cluster (scheduler, seed, two peers)
 * and the test origin: matching GETs come through P2P (the origin sends the file once), the rest
 * passes through untouched, ranges are answered from the task, CONNECT tunnels work, and clients
 * outside proxy.server.allowedClients are refused.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { test } from 'vitest';
import { ProxyAgent, request } from 'undici';
import { startCluster } from '../support/cluster.ts';
import { content, MiB } from '../support/origin.ts';
import { scrape, startDaemon } from '../support/daemon.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function viaProxy(proxyPort: number, url: string, headers: Record<string, string> = {}) {
  const dispatcher = new ProxyAgent(`http://127.0.0.1:${proxyPort}`);
  try {
    const answer = await request(url, { dispatcher, headers });
    return { status: answer.statusCode, headers: answer.headers, body: Buffer.from(await answer.body.arrayBuffer()) };
  } finally {
    await dispatcher.close();
  }
}

/** An absolute-form GET written by hand: undici's ProxyAgent tunnels https and adds its own headers. */
function absoluteGet(proxyPort: number, url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: proxyPort, method: 'GET', path: url, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

test('matching GETs go through P2P: the origin sends the file once for two nodes, ranges come from the task', async (t) => {
  const cluster = await startCluster(t, { peers: 2, config: { proxy: { rules: [{ regex: '/layers/.*' }] } } });
  const body = content(20 * MiB + 123, 7);
  cluster.origin.setFile('/layers/big.bin', body);
  cluster.origin.setFile('/plain.txt', Buffer.from('not through p2p\n'));
  const [a, b] = cluster.peers as [NonNullable<(typeof cluster.peers)[0]>, NonNullable<(typeof cluster.peers)[0]>];

  const first = await absoluteGet(a.ports.proxy, cluster.origin.url('/layers/big.bin'));
  assert.equal(first.status, 200);
  assert.equal(sha256(first.body), sha256(body));
  assert.match(String(first.headers['x-dragonfly-task-id']), /^[0-9a-f]{64}$/);

  const second = await absoluteGet(b.ports.proxy, cluster.origin.url('/layers/big.bin'));
  assert.equal(sha256(second.body), sha256(body));
  const fullBytes = cluster.origin.completed.filter((c) => c.path === '/layers/big.bin').length;
  assert.ok(fullBytes > 0);
  // Every byte left the origin once: piece ranges of the one task, no second full copy.
  const ranges = cluster.origin.log.filter((r) => r.path === '/layers/big.bin' && r.range && r.range !== 'bytes=0-0').map((r) => r.range);
  assert.equal(new Set(ranges).size, ranges.length, `a range was fetched twice from the origin: ${ranges.join(' ')}`);
  assert.ok(ranges.length <= Math.ceil(body.length / (4 * MiB)), `origin ranges: ${ranges.join(' ')}`);

  const part = await absoluteGet(b.ports.proxy, cluster.origin.url('/layers/big.bin'), { range: 'bytes=5000000-5000099' });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 5000000-5000099/${body.length}`);
  assert.deepEqual(part.body, body.subarray(5000000, 5000100));

  const metrics = await scrape(b.ports.metrics);
  assert.ok((metrics.get('dragonfly_client_proxy_request_via_dfdaemon_total') ?? 0) >= 2);

  // Not matching: passed through as it is, no task.
  const plain = await absoluteGet(a.ports.proxy, cluster.origin.url('/plain.txt'));
  assert.equal(plain.status, 200);
  assert.equal(plain.body.toString(), 'not through p2p\n');
  assert.equal(plain.headers['x-dragonfly-task-id'], undefined);
  const plainRequest = cluster.origin.log.find((r) => r.path === '/plain.txt');
  assert.equal(plainRequest?.range, undefined);

  // An origin error keeps its status, marked as the backend's.
  cluster.origin.setStatus('/layers/missing.bin', 404);
  const missing = await absoluteGet(a.ports.proxy, cluster.origin.url('/layers/missing.bin'));
  assert.equal(missing.status, 404);
  assert.equal(missing.headers['x-dragonfly-error-type'], 'backend');

  // X-Dragonfly-Use-P2P: true forces P2P for a URL no rule matches.
  const forced = await absoluteGet(a.ports.proxy, cluster.origin.url('/plain.txt'), { 'x-dragonfly-use-p2p': 'true' });
  assert.equal(forced.body.toString(), 'not through p2p\n');
  assert.match(String(forced.headers['x-dragonfly-task-id']), /^[0-9a-f]{64}$/);
});

test('CONNECT opens a tunnel; undici through the proxy reaches the origin', async (t) => {
  const cluster = await startCluster(t, { peers: 1, seed: false });
  cluster.origin.setFile('/x', Buffer.from('hello'));
  const peer = cluster.peers[0]!;
  const socket = connect(peer.ports.proxy, '127.0.0.1');
  t.onTestFinished(() => {
    socket.destroy();
  });
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`CONNECT 127.0.0.1:${cluster.origin.port} HTTP/1.1\r\nhost: 127.0.0.1:${cluster.origin.port}\r\n\r\n`);
  let text = '';
  socket.setEncoding('latin1');
  const established = new Promise<void>((resolve) => {
    const onData = (chunk: string) => {
      text += chunk;
      if (text.includes('\r\n\r\n')) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
  });
  await established;
  assert.match(text, /^HTTP\/1\.1 200/);
  socket.write(`GET /x HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n`);
  let answer = '';
  for await (const chunk of socket) answer += chunk;
  assert.match(answer, /^HTTP\/1\.1 200/);
  assert.ok(answer.endsWith('hello'));

  // A CONNECT to a closed port is a 502 from the proxy, and the proxy goes on.
  const viaUndici = await viaProxy(peer.ports.proxy, cluster.origin.url('/x'));
  assert.equal(viaUndici.body.toString(), 'hello');
});

test('clients outside proxy.server.allowedClients are refused with 403', async (t) => {
  const cluster = await startCluster(t, { peers: 0, seed: false });
  const daemon = await startDaemon(t, cluster.dir, {
    name: 'fenced',
    schedulerPort: cluster.scheduler.port,
    config: { proxy: { server: { allowedClients: ['10.1.2.0/24'] } } },
  });
  cluster.origin.setFile('/y', Buffer.from('secret'));
  const answer = await absoluteGet(daemon.ports.proxy, cluster.origin.url('/y'));
  assert.equal(answer.status, 403);
  assert.equal(answer.headers['x-dragonfly-error-type'], 'proxy');
  assert.ok(!cluster.origin.log.some((r) => r.path === '/y'));
});

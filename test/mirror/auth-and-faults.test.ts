/**
 * The mirror with credentials and under faults, against a real docker-registry and real daemons:
 * the client runs its own auth flow through the mirror, a node without credentials cannot read a
 * blob another node cached, and pulls still succeed with the scheduler down, a corrupt peer, or
 * every peer gone; an upstream 5xx reaches the client as a 5xx.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { test } from 'vitest';
import { startCluster } from '../support/cluster.ts';
import { Origin } from '../support/origin.ts';
import { scrape } from '../support/daemon.ts';
import { basic, failingFront, haveRegistryTools, MANIFEST_ACCEPT, registryWithImage, send, sha256Hex } from './support.ts';

test('auth passes through: 401 and its challenge relayed, credentials forwarded, no cached blob without them', async (t) => {
  if (!haveRegistryTools(t)) return;
  const alice = { user: 'alice', password: 's3cret-pw' };
  const cluster = await startCluster(t, { peers: 2, seed: false });
  const { registry, image, name } = await registryWithImage(t, cluster.dir, { auth: alice });
  const [a, b] = [cluster.peers[0]!, cluster.peers[1]!];
  const upstream = { 'x-dragonfly-registry': registry.url };
  const withAuth = { ...upstream, authorization: basic(alice) };
  const digest = image.layers[0]!.digest;

  const ping = await send(a.ports.proxy, '/v2/', { headers: upstream });
  assert.equal(ping.status, 401);
  assert.match(String(ping.headers['www-authenticate']), /^Basic realm=/);
  assert.equal(ping.headers['x-dragonfly-error-type'], 'backend');

  const manifest = await send(a.ports.proxy, `/v2/${name}/manifests/1`, { headers: { ...withAuth, accept: MANIFEST_ACCEPT } });
  assert.equal(manifest.status, 200);
  assert.equal(manifest.headers['docker-content-digest'], image.manifestDigest);

  const blob = await send(a.ports.proxy, `/v2/${name}/blobs/${digest}`, { headers: withAuth });
  assert.equal(blob.status, 200);
  assert.equal(`sha256:${sha256Hex(blob.body)}`, digest);

  // Node A has the blob now; without credentials, neither A nor B gives it out.
  for (const [node, headers] of [
    [a, upstream],
    [b, upstream],
    [b, { ...upstream, authorization: basic({ user: 'alice', password: 'wrong' }) }],
  ] as const) {
    const denied = await send(node.ports.proxy, `/v2/${name}/blobs/${digest}`, { headers });
    assert.equal(denied.status, 401, `${node.name} ${JSON.stringify(headers)}`);
    assert.match(String(denied.headers['www-authenticate']), /^Basic realm=/);
    assert.ok(!sha256Hex(denied.body).startsWith(digest.slice(7)));
  }
  // With them, B gets it (from A).
  const granted = await send(b.ports.proxy, `/v2/${name}/blobs/${digest}`, { headers: withAuth });
  assert.equal(granted.status, 200);
  assert.equal(`sha256:${sha256Hex(granted.body)}`, digest);
});

test('faults: scheduler down, a corrupt peer, every peer gone: pulls still succeed with the right bytes', async (t) => {
  if (!haveRegistryTools(t)) return;
  const cluster = await startCluster(t, { peers: 3, seed: false, corruptPieces: ['peer-1'] });
  const { registry, image, name } = await registryWithImage(t, cluster.dir);
  const [corrupt, b, c] = [cluster.peers[0]!, cluster.peers[1]!, cluster.peers[2]!];
  const upstream = { 'x-dragonfly-registry': registry.url };
  const [first, second] = [image.layers[0]!, image.layers[1]!];
  const pull = async (port: number, digest: string) => {
    const answer = await send(port, `/v2/${name}/blobs/${digest}`, { headers: upstream });
    assert.equal(answer.status, 200);
    assert.equal(`sha256:${sha256Hex(answer.body)}`, digest);
  };

  // The corrupt peer pulls first (its own copy is fine; a proxy in front of its piece server
  // corrupts what it serves); B gets corrupt pieces from it, notices, and still answers the right bytes.
  await pull(corrupt.ports.proxy, first.digest);
  await pull(b.ports.proxy, first.digest);
  const mismatches = (await scrape(b.ports.metrics)).get('dragonfly_client_piece_digest_mismatch_total') ?? 0;
  assert.ok(mismatches > 0, 'node B never met a corrupt piece: the fault did not happen');
  assert.ok(cluster.corruptProxies.get('peer-1')!.corrupted > 0);

  // Every peer that has the blob is gone: C still gets it.
  await corrupt.proc.stop('SIGKILL');
  await b.proc.stop('SIGKILL');
  await pull(c.ports.proxy, first.digest);

  // The scheduler is gone: C pulls the other layer from the registry by itself.
  await cluster.scheduler.proc.stop('SIGKILL');
  await pull(c.ports.proxy, second.digest);
});

test('an upstream 5xx on a blob reaches the client as that 5xx, marked as the backend\'s', async (t) => {
  if (!haveRegistryTools(t)) return;
  const cluster = await startCluster(t, { peers: 1, seed: false });
  const { registry, image, name } = await registryWithImage(t, cluster.dir, { layers: [2 * 1024 * 1024] });
  const front = await failingFront(registry.url, (method, url) => (method === 'GET' && url.includes('/blobs/') ? 503 : undefined));
  t.onTestFinished(() => new Promise<void>((resolve) => front.close(() => resolve())));
  const frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  const answer = await send(cluster.peers[0]!.ports.proxy, `/v2/${name}/blobs/${image.layers[0]!.digest}`, { headers: { 'x-dragonfly-registry': frontUrl } });
  assert.equal(answer.status, 503);
  assert.equal(answer.headers['x-dragonfly-error-type'], 'backend');
  assert.match(answer.body.toString(), /storage is down/);
});

test('once a blob answer has started, a failed P2P download is finished from the origin, not cut', async (t) => {
  if (!haveRegistryTools(t)) return;
  const cluster = await startCluster(t, { peers: 1, seed: false, config: { download: { pieceTimeout: '5s' } } });
  const { registry, image, name } = await registryWithImage(t, cluster.dir, { layers: [9 * 1024 * 1024] });
  const layer = image.layers[0]!;
  // The daemon's request for piece 1 always fails; a request for "the rest from byte 4 MiB" works.
  const pieceOne = `bytes=${4 * 1024 * 1024}-${8 * 1024 * 1024 - 1}`;
  const front = await failingFront(registry.url, (method, url, range) => (method === 'GET' && url.includes('/blobs/') && range === pieceOne ? 503 : undefined));
  t.onTestFinished(() => new Promise<void>((resolve) => front.close(() => resolve())));
  const frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
  const answer = await send(cluster.peers[0]!.ports.proxy, `/v2/${name}/blobs/${layer.digest}`, { headers: { 'x-dragonfly-registry': frontUrl } });
  assert.equal(answer.status, 200);
  assert.equal(`sha256:${sha256Hex(answer.body)}`, layer.digest);
  const log = cluster.peers[0]!.proc.lines;
  assert.ok(log.some((line) => line.msg === 'P2P failed mid-answer; the rest comes from the origin'), 'the download did not fail mid-answer: the fault did not happen');
});

test('blobs redirected to storage on another host: fetched there without the client\'s credentials', async (t) => {
  if (!haveRegistryTools(t)) return;
  const alice = { user: 'alice', password: 'redirect-pw' };
  const cluster = await startCluster(t, { peers: 1, seed: false });
  const { registry, image, name } = await registryWithImage(t, cluster.dir, { auth: alice, layers: [5 * 1024 * 1024] });
  const layer = image.layers[0]!;
  const withAuth = { authorization: basic(alice) };
  // "Blob storage": another origin holding the layer's bytes, as the registry's redirect target.
  const direct = await send(registry.port, `/v2/${name}/blobs/${layer.digest}`, { headers: withAuth });
  assert.equal(direct.status, 200);
  const storage = await Origin.start();
  t.onTestFinished(() => storage.close());
  storage.setFile('/bucket/layer', direct.body);
  const front = await failingFront(registry.url, (method, url) => (url.includes('/blobs/') && method !== 'HEAD' ? { redirect: storage.url('/bucket/layer') } : undefined));
  t.onTestFinished(() => new Promise<void>((resolve) => front.close(() => resolve())));
  const upstream = { 'x-dragonfly-registry': `http://127.0.0.1:${(front.address() as AddressInfo).port}` };
  const port = cluster.peers[0]!.ports.proxy;

  // Through P2P, and passed straight through (X-Dragonfly-Use-P2P: false): the same bytes, and
  // the storage host never saw the credentials.
  for (const extra of [{}, { 'x-dragonfly-use-p2p': 'false' }] as Array<Record<string, string>>) {
    const answer = await send(port, `/v2/${name}/blobs/${layer.digest}`, { headers: { ...upstream, ...withAuth, ...extra } });
    assert.equal(answer.status, 200, JSON.stringify(extra));
    assert.equal(`sha256:${sha256Hex(answer.body)}`, layer.digest);
  }
  assert.ok(storage.log.length >= 2);
  assert.ok(storage.log.every((r) => r.headers.authorization === undefined), 'credentials reached the storage host');
});

test('content that does not match the blob digest is never answered in full, and is not kept', async (t) => {
  if (!haveRegistryTools(t)) return;
  const cluster = await startCluster(t, { peers: 1, seed: false });
  const { registry, image, name } = await registryWithImage(t, cluster.dir, { layers: [9 * 1024 * 1024] });
  const layer = image.layers[0]!;
  // A front whose storage flips a byte in the piece at 4 MiB, until told to stop.
  let corrupting = true;
  const front = createServer((req, res) => {
    const { host: _host, ...headers } = req.headers;
    request(`${registry.url}${req.url}`, { method: req.method as 'GET', headers: headers as Record<string, string> }).then(
      async (upstream) => {
        const body = Buffer.from(await upstream.body.arrayBuffer());
        if (corrupting && req.url?.includes('/blobs/') && req.headers.range?.startsWith(`bytes=${4 * 1024 * 1024}-`)) body[100] = body[100]! ^ 0xff;
        res.writeHead(upstream.statusCode, upstream.headers as Record<string, string>);
        res.end(body);
      },
      (error: unknown) => res.destroy(error as Error),
    );
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  t.onTestFinished(() => new Promise<void>((resolve) => front.close(() => resolve())));
  const upstream = { 'x-dragonfly-registry': `http://127.0.0.1:${(front.address() as AddressInfo).port}` };
  const port = cluster.peers[0]!.ports.proxy;

  // The body stops one byte short: the client sees a cut connection, not a complete wrong blob.
  await assert.rejects(send(port, `/v2/${name}/blobs/${layer.digest}`, { headers: upstream }));
  const daemon = cluster.peers[0]!.proc;
  assert.ok(daemon.lines.some((line) => line.msg === 'content does not match its digest: answer cut'));

  // Nothing wrong was kept: with the storage fixed, the next pull downloads again and is right.
  corrupting = false;
  const answer = await send(port, `/v2/${name}/blobs/${layer.digest}`, { headers: upstream });
  assert.equal(answer.status, 200);
  assert.equal(answer.headers['x-dragonfly-task-download-finished'], undefined);
  assert.equal(`sha256:${sha256Hex(answer.body)}`, layer.digest);
});

/**
 * The registry mirror against a real docker-registry and a real cluster (dfscheduler + dfdaemons):
 * the pull API passes through with its headers, blobs come through P2P once for every node and
 * whatever the repository, ranges are answered from the task, and bad requests get a clear 4xx
 * while the daemon stays healthy.
 */
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { startCluster } from '../support/cluster.ts';
import { haveRegistryTools, MANIFEST_ACCEPT, registryWithImage, send, sha256Hex } from './support.ts';
import { pushImage } from '../support/registry/index.ts';

test('manifests pass through with their headers; blobs come through P2P once for two nodes and two repositories', async (t) => {
  if (!haveRegistryTools(t)) return;
  const cluster = await startCluster(t, { peers: 2, seed: false });
  const { registry, image, name } = await registryWithImage(t, cluster.dir);
  const [a, b] = [cluster.peers[0]!, cluster.peers[1]!];
  const upstream = { 'x-dragonfly-registry': registry.url };

  const ping = await send(a.ports.proxy, '/v2/', { headers: upstream });
  assert.equal(ping.status, 200);
  assert.equal(ping.headers['docker-distribution-api-version'], 'registry/2.0');

  const head = await send(a.ports.proxy, `/v2/${name}/manifests/1`, { method: 'HEAD', headers: { ...upstream, accept: MANIFEST_ACCEPT } });
  assert.equal(head.status, 200);
  assert.equal(head.headers['docker-content-digest'], image.manifestDigest);
  assert.equal(Number(head.headers['content-length']), image.manifestSize);
  assert.equal(head.headers['content-type'], 'application/vnd.oci.image.manifest.v1+json');

  const manifest = await send(a.ports.proxy, `/v2/${name}/manifests/${image.manifestDigest}`, { headers: { ...upstream, accept: MANIFEST_ACCEPT } });
  assert.equal(manifest.status, 200);
  assert.equal(`sha256:${sha256Hex(manifest.body)}`, image.manifestDigest);
  const layers = (JSON.parse(manifest.body.toString()) as { layers: Array<{ digest: string; size: number }> }).layers;
  assert.deepEqual(layers.map((l) => l.digest), image.layers.map((l) => l.digest));

  // Node A: each blob from the registry once, in pieces; its task id is the blob digest.
  await registry.settle();
  registry.clearLog();
  for (const layer of image.layers) {
    const blob = await send(a.ports.proxy, `/v2/${name}/blobs/${layer.digest}`, { headers: upstream });
    assert.equal(blob.status, 200);
    assert.equal(`sha256:${sha256Hex(blob.body)}`, layer.digest);
    assert.equal(blob.headers['docker-content-digest'], layer.digest);
    assert.equal(blob.headers['x-dragonfly-task-id'], layer.digest.slice('sha256:'.length));
    assert.equal(Number(blob.headers['content-length']), layer.size);
  }
  await registry.settle();
  for (const layer of image.layers) {
    const served = registry.blobBytesServed(layer.digest);
    assert.ok(served >= layer.size && served <= layer.size + 16, `registry served ${served} bytes of a ${layer.size}-byte blob to node A`);
  }

  // Node B: from node A, the registry only answers the credential check and a 1-byte stat.
  registry.clearLog();
  for (const layer of image.layers) {
    const blob = await send(b.ports.proxy, `/v2/${name}/blobs/${layer.digest}`, { headers: upstream });
    assert.equal(`sha256:${sha256Hex(blob.body)}`, layer.digest);
  }
  await registry.settle();
  assert.ok(registry.blobBytesServed() <= 16 * image.layers.length, `registry served ${registry.blobBytesServed()} blob bytes to node B`);

  // The same layers under another repository are the same tasks: served from B's store.
  await pushImage(image, registry, 'other/copy:2');
  registry.clearLog();
  const copy = await send(b.ports.proxy, `/v2/other/copy/blobs/${image.layers[0]!.digest}`, { headers: upstream });
  assert.equal(`sha256:${sha256Hex(copy.body)}`, image.layers[0]!.digest);
  assert.equal(copy.headers['x-dragonfly-task-download-finished'], 'true');
  await registry.settle();
  assert.equal(registry.blobBytesServed(), 0);

  // A range of a blob: 206 from the task.
  const layer = image.layers[0]!;
  const part = await send(b.ports.proxy, `/v2/${name}/blobs/${layer.digest}`, { headers: { ...upstream, range: 'bytes=4194000-4194999' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 4194000-4194999/${layer.size}`);
  const whole = await send(a.ports.proxy, `/v2/${name}/blobs/${layer.digest}`, { headers: upstream });
  assert.deepEqual(part.body, whole.body.subarray(4194000, 4195000));
  const beyond = await send(b.ports.proxy, `/v2/${name}/blobs/${layer.digest}`, { headers: { ...upstream, range: `bytes=${layer.size}-` } });
  assert.equal(beyond.status, 416);

  // containerd's ?ns= names the upstream when no header does (https is assumed without a scheme,
  // so it is given with one here), and is left out of what goes upstream.
  const viaNs = await send(b.ports.proxy, `/v2/${name}/manifests/1?ns=${encodeURIComponent(registry.url)}`, { headers: { accept: MANIFEST_ACCEPT } });
  assert.equal(viaNs.status, 200);
  assert.equal(viaNs.headers['docker-content-digest'], image.manifestDigest);

  // Upstream errors keep their status, marked as the backend's.
  const unknown = await send(a.ports.proxy, `/v2/${name}/manifests/nope`, { headers: { ...upstream, accept: MANIFEST_ACCEPT } });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.headers['x-dragonfly-error-type'], 'backend');
  const missingBlob = await send(a.ports.proxy, `/v2/${name}/blobs/sha256:${'0'.repeat(64)}`, { headers: upstream });
  assert.equal(missingBlob.status, 404);
});

test('bad requests get a clear 4xx naming what was wrong, and the daemon stays healthy', async (t) => {
  if (!haveRegistryTools(t)) return;
  const cluster = await startCluster(t, { peers: 1, seed: false });
  const { registry, image, name } = await registryWithImage(t, cluster.dir, { layers: [1024 * 1024] });
  const port = cluster.peers[0]!.ports.proxy;
  const upstream = { 'x-dragonfly-registry': registry.url };
  const digest = image.layers[0]!.digest;
  const oci = (answer: { body: Buffer }) => (JSON.parse(answer.body.toString()) as { errors: Array<{ code: string; message: string }> }).errors[0]!;

  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    const answer = await send(port, `/v2/${name}/blobs/${digest}`, { method, headers: upstream });
    assert.equal(answer.status, 405, method);
    assert.equal(oci(answer).code, 'UNSUPPORTED');
    assert.equal(answer.headers['x-dragonfly-error-type'], 'proxy');
  }
  const malformed = await send(port, `/v2/${name}/blobs/sha256:xyz`, { headers: upstream });
  assert.equal(malformed.status, 400);
  assert.equal(oci(malformed).code, 'DIGEST_INVALID');
  assert.match(oci(malformed).message, /sha256:xyz/);
  for (const path of [`/v2/../../../etc/passwd/blobs/${digest}`, `/v2/test/%2e%2e/%2e%2e/blobs/${digest}`, `/v2/test/..%2fimg/manifests/1`]) {
    const answer = await send(port, path, { headers: upstream });
    assert.equal(answer.status, 400, path);
    assert.equal(oci(answer).code, 'NAME_INVALID', path);
  }
  const huge = await send(port, '/v2/', { headers: { ...upstream, 'x-filler': 'a'.repeat(32 * 1024) } });
  assert.equal(huge.status, 431);

  // ns= that points at something that is not a registry (the test origin) is refused, and is never
  // asked for a blob.
  const notRegistry = await send(port, `/v2/${name}/blobs/${digest}?ns=${encodeURIComponent(`http://127.0.0.1:${cluster.origin.port}`)}`);
  assert.equal(notRegistry.status, 400);
  assert.match(oci(notRegistry).message, /is not a container registry/);
  assert.ok(!cluster.origin.log.some((r) => r.path.includes('/blobs/')));
  const badRegistry = await send(port, '/v2/', { headers: { 'x-dragonfly-registry': 'ftp://registry.example/x' } });
  assert.equal(badRegistry.status, 400);
  const badPriority = await send(port, `/v2/${name}/blobs/${digest}`, { headers: { ...upstream, 'x-dragonfly-priority': '9' } });
  assert.equal(badPriority.status, 400);

  // Still healthy, still serving.
  const healthy = await send(cluster.peers[0]!.ports.health, '/healthy');
  assert.equal(healthy.status, 200);
  const blob = await send(port, `/v2/${name}/blobs/${digest}`, { headers: upstream });
  assert.equal(`sha256:${sha256Hex(blob.body)}`, digest);
});

import { test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { buildImage, pushImage, requireTools, TOOL, ToolError } from '../support/registry/index.ts';
import { pushedImage, REPOSITORY, SMALL_LAYERS, TAG } from './fixture.ts';

const NEEDS = [TOOL.registry, TOOL.umoci, TOOL.skopeo];
const CREDENTIALS = { user: 'alice', password: 'pa55-word' };

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

test('an image built with umoci and pushed with skopeo is served back byte for byte, and the access log counts it', async (t) => {
  if (!requireTools(t, NEEDS)) return;
  const { registry, image, blobs } = await pushedImage(t);
  assert.equal(image.layers.length, SMALL_LAYERS.length);
  // gzip cannot shrink random bytes, so each layer blob is its content plus tar and gzip framing.
  for (const [i, layer] of image.layers.entries()) assert.ok(layer.size > SMALL_LAYERS[i]!, `layer ${i} is ${layer.size} bytes`);

  const manifest = await fetch(`${registry.url}/v2/${REPOSITORY}/manifests/${TAG}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(manifest.status, 200);
  assert.equal(manifest.headers.get('docker-content-digest'), image.manifestDigest);
  assert.equal(sha256(new Uint8Array(await manifest.arrayBuffer())), image.manifestDigest);

  for (const digest of blobs) {
    const blob = await fetch(`${registry.url}/v2/${REPOSITORY}/blobs/${digest}`);
    assert.equal(blob.status, 200);
    assert.equal(sha256(new Uint8Array(await blob.arrayBuffer())), digest);
  }
  await registry.settle();
  const layer = image.layers[0]!;
  assert.equal(registry.blobBytesServed(layer.digest), layer.size);
  assert.equal(registry.blobBytesServed(), image.layers.reduce((sum, l) => sum + l.size, 0) + registry.blobBytesServed(image.configDigest));
  assert.deepEqual(
    registry.requests().map((r) => [r.method, r.kind, r.status]),
    [['GET', 'manifest', 200], ...blobs.map(() => ['GET', 'blob', 200])],
  );
  registry.clearLog();
  assert.deepEqual(registry.requests(), []);
});

test('with htpasswd auth a push needs credentials, and a request without them is logged as 401', async (t) => {
  if (!requireTools(t, [...NEEDS, TOOL.htpasswd])) return;
  const { dir, registry, ref } = await pushedImage(t, CREDENTIALS);
  assert.match(ref, /^127\.0\.0\.1:\d+\/e2e\/smoke:1$/);

  const anonymous = await fetch(`${registry.url}/v2/${REPOSITORY}/manifests/${TAG}`);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm=/);
  const basic = Buffer.from(`${CREDENTIALS.user}:${CREDENTIALS.password}`).toString('base64');
  const authorized = await fetch(`${registry.url}/v2/${REPOSITORY}/manifests/${TAG}`, {
    headers: { authorization: `Basic ${basic}`, accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  assert.equal(authorized.status, 200);
  await registry.settle();
  assert.deepEqual(registry.requests().map((r) => r.status), [401, 200]);

  const other = await buildImage(join(dir, 'other'), { layers: [4096] });
  await assert.rejects(pushImage(other, registry, 'e2e/other:1'), (error: ToolError) => {
    assert.equal(error.code, 'DF_E2E_TOOL_FAILED');
    assert.match(error.message, /unauthorized|401/i);
    return true;
  });
});

test('bad arguments are refused with a clear error before any tool runs', async () => {
  await assert.rejects(buildImage('relative/dir', { layers: [1] }), { code: 'DF_E2E_BAD_ARGUMENT', message: /absolute path/ });
  await assert.rejects(buildImage('/tmp/x', { layers: [] }), { code: 'DF_E2E_BAD_ARGUMENT', message: /at least one layer/ });
  await assert.rejects(buildImage('/tmp/x', { layers: [-1] }), { code: 'DF_E2E_BAD_ARGUMENT', message: /non-negative/ });
  const image = { layout: 'oci:/nowhere:1', layoutDir: '/nowhere', tag: '1', layers: [], configDigest: '', manifestDigest: '', manifestSize: 0 };
  await assert.rejects(pushImage(image, { host: '127.0.0.1:1' }, 'Upper/Case'), { code: 'DF_E2E_BAD_ARGUMENT', message: /repo\/name:tag/ });
});

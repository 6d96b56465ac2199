/**
 * Image resolution against a real docker-registry: images built with umoci and pushed with
 * skopeo, indexes and Docker schema 2 manifests PUT through the registry's own HTTP API. The
 * layers resolved must be exactly the blobs pushed, and fetchable with the headers returned.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { TestContext } from 'vitest';
import { test } from 'vitest';
import { MEDIA_TYPE, resolveImage, type ResolvedImage } from '../../manager/index.ts';
import {
  buildImage,
  pushImage,
  requireTools,
  scratchDir,
  startRegistry,
  TOOL,
  type BuiltImage,
  type RegistryCredentials,
  type RunningRegistry,
} from '../support/registry/index.ts';

const NEEDS = [TOOL.registry, TOOL.umoci, TOOL.skopeo];
const CREDENTIALS: RegistryCredentials = { user: 'alice', password: 'Pa55-w0rd-e2e' };
const REPO = 'e2e/preheat';

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function basic(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}`;
}

/** A registry (with `auth` when given) and one image per entry of `images` pushed to REPO under its tag. */
async function registryWith(t: TestContext, images: Record<string, number[]>, auth?: RegistryCredentials) {
  const dir = await scratchDir(t, 'df-e2e-preheat-');
  const registry = await startRegistry(t, { dir: join(dir, 'registry'), auth });
  const built: Record<string, BuiltImage> = {};
  for (const [tag, layers] of Object.entries(images)) {
    built[tag] = await buildImage(join(dir, `image-${tag}`), { layers, tag });
    await pushImage(built[tag], registry, `${REPO}:${tag}`, auth);
  }
  return { registry, built };
}

/** PUTs a manifest through the registry's HTTP API, as a client pushing an image does. */
async function putManifest(registry: RunningRegistry, tag: string, mediaType: string, body: string): Promise<string> {
  const headers: Record<string, string> = { 'content-type': mediaType };
  if (registry.auth) headers.authorization = basic(registry.auth);
  const response = await fetch(`${registry.url}/v2/${REPO}/manifests/${tag}`, { method: 'PUT', headers, body });
  assert.equal(response.status, 201, `PUT ${tag}: ${response.status} ${await response.text()}`);
  return sha256(Buffer.from(body));
}

/** Every layer fetched from its URL with the headers returned is the blob of that digest. */
async function assertFetchable(resolved: ResolvedImage): Promise<void> {
  for (const layer of resolved.layers) {
    const response = await fetch(layer.url, { headers: resolved.headers });
    assert.equal(response.status, 200, `GET ${layer.url}`);
    const body = new Uint8Array(await response.arrayBuffer());
    assert.equal(body.length, layer.size);
    assert.equal(sha256(body), layer.digest);
  }
}

function expectedLayers(registry: RunningRegistry, image: BuiltImage, mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip') {
  return image.layers.map((l) => ({ url: `${registry.url}/v2/${REPO}/blobs/${l.digest}`, digest: l.digest, size: l.size, mediaType }));
}

test('an image of three layers resolves to its three layer blobs, by tag and by digest, without the config', async (t) => {
  if (!requireTools(t, NEEDS)) return;
  const { registry, built } = await registryWith(t, { '1': [64 << 10, 32 << 10, 16 << 10] });
  const image = built['1']!;
  assert.equal(image.layers.length, 3);

  const resolved = await resolveImage({ url: `${registry.url}/v2/${REPO}/manifests/1` });
  assert.equal(resolved.manifestDigest, image.manifestDigest);
  assert.equal(resolved.indexDigest, undefined);
  assert.deepEqual(resolved.layers, expectedLayers(registry, image));
  assert.ok(!resolved.layers.some((l) => l.digest === image.configDigest));
  assert.deepEqual(resolved.headers, {});
  await assertFetchable(resolved);

  const byDigest = await resolveImage({ url: `${registry.url}/v2/${REPO}/manifests/${image.manifestDigest}` });
  assert.deepEqual(byDigest, resolved);
});

test('an unknown tag and an unknown repository fail as not found, naming 404', async (t) => {
  if (!requireTools(t, NEEDS)) return;
  const { registry } = await registryWith(t, { '1': [4096] });
  for (const url of [`${registry.url}/v2/${REPO}/manifests/2`, `${registry.url}/v2/e2e/absent/manifests/1`]) {
    await assert.rejects(resolveImage({ url }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'DF_ERR_PREHEAT_IMAGE_NOT_FOUND');
      assert.match(error.message, /404/);
      return true;
    });
  }
});

test('htpasswd auth: right credentials resolve and the basic header fetches the blobs; wrong or none fail naming 401', async (t) => {
  if (!requireTools(t, [...NEEDS, TOOL.htpasswd])) return;
  const { registry, built } = await registryWith(t, { '1': [48 << 10, 8 << 10, 4 << 10] }, CREDENTIALS);
  const url = `${registry.url}/v2/${REPO}/manifests/1`;

  const resolved = await resolveImage({ url, username: CREDENTIALS.user, password: CREDENTIALS.password });
  assert.equal(resolved.manifestDigest, built['1']!.manifestDigest);
  assert.deepEqual(resolved.layers, expectedLayers(registry, built['1']!));
  assert.deepEqual(resolved.headers, { authorization: basic(CREDENTIALS) });
  await assertFetchable(resolved);
  const anonymousBlob = await fetch(resolved.layers[0]!.url);
  assert.equal(anonymousBlob.status, 401, 'the blobs do need the header returned');

  const wrong = 'not-the-Pa55word';
  for (const credentials of [{ username: CREDENTIALS.user, password: wrong }, {}]) {
    await assert.rejects(resolveImage({ url, ...credentials }), (error: Error & { code?: string; status?: number }) => {
      assert.equal(error.code, 'DF_ERR_PREHEAT_UNAUTHORIZED');
      assert.equal(error.status, 401);
      assert.match(error.message, /401/);
      assert.ok(error.message.includes(registry.host), error.message);
      assert.ok(!error.message.includes(wrong) && !error.message.includes(CREDENTIALS.password), error.message);
      return true;
    });
  }
  await registry.settle();
  // Wrong credentials: anonymous, then one retry with them. None: the anonymous try only.
  assert.deepEqual(registry.requests().slice(-3).map((r) => [r.kind, r.status]), [['manifest', 401], ['manifest', 401], ['manifest', 401]]);
});

test('a multi-arch OCI index and a Docker manifest list pick the platform asked for; an absent one fails naming those available', async (t) => {
  if (!requireTools(t, NEEDS)) return;
  const { registry, built } = await registryWith(t, { amd: [32 << 10, 16 << 10], arm: [24 << 10] });
  const amd = built.amd!;
  const arm = built.arm!;
  const entry = (image: BuiltImage, platform: Record<string, string>) => ({
    mediaType: MEDIA_TYPE.ociManifest,
    digest: image.manifestDigest,
    size: image.manifestSize,
    platform,
  });
  const manifests = [entry(arm, { os: 'linux', architecture: 'arm64', variant: 'v8' }), entry(amd, { os: 'linux', architecture: 'amd64' })];
  const indexDigest = await putManifest(registry, 'multi', MEDIA_TYPE.ociIndex, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex, manifests }));
  const listDigest = await putManifest(registry, 'list', MEDIA_TYPE.dockerList, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.dockerList, manifests }));

  for (const [tag, digest] of [['multi', indexDigest], ['list', listDigest]] as const) {
    const url = `${registry.url}/v2/${REPO}/manifests/${tag}`;
    const byDefault = await resolveImage({ url });
    assert.equal(byDefault.indexDigest, digest);
    assert.equal(byDefault.manifestDigest, amd.manifestDigest, 'linux/amd64 is the default platform');
    assert.deepEqual(byDefault.layers, expectedLayers(registry, amd));

    for (const platform of ['linux/arm64', 'linux/arm64/v8']) {
      const forArm = await resolveImage({ url, platform });
      assert.equal(forArm.manifestDigest, arm.manifestDigest, platform);
      assert.deepEqual(forArm.layers, expectedLayers(registry, arm));
    }
    await assertFetchable(await resolveImage({ url, platform: 'linux/arm64' }));

    for (const platform of ['linux/s390x', 'linux/arm64/v7', 'windows/amd64']) {
      await assert.rejects(resolveImage({ url, platform }), (error: Error & { code?: string; available?: string[] }) => {
        assert.equal(error.code, 'DF_ERR_PREHEAT_PLATFORM_NOT_FOUND');
        assert.deepEqual(error.available, ['linux/arm64/v8', 'linux/amd64']);
        assert.ok(error.message.includes('linux/arm64/v8') && error.message.includes('linux/amd64'), error.message);
        assert.ok(error.message.includes(platform), error.message);
        return true;
      });
    }
  }
});

test('a Docker schema 2 manifest resolves to its layers with the Docker media type', async (t) => {
  if (!requireTools(t, NEEDS)) return;
  const { registry, built } = await registryWith(t, { oci: [16 << 10, 8 << 10] });
  const image = built.oci!;
  const oci = (await (
    await fetch(`${registry.url}/v2/${REPO}/manifests/oci`, { headers: { accept: MEDIA_TYPE.ociManifest } })
  ).json()) as { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number }> };
  const dockerLayer = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
  const docker = JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.dockerManifest,
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: oci.config.digest, size: oci.config.size },
    layers: oci.layers.map((l) => ({ mediaType: dockerLayer, digest: l.digest, size: l.size })),
  });
  const digest = await putManifest(registry, 'docker', MEDIA_TYPE.dockerManifest, docker);

  const resolved = await resolveImage({ url: `${registry.url}/v2/${REPO}/manifests/docker` });
  assert.equal(resolved.manifestDigest, digest);
  assert.notEqual(digest, image.manifestDigest);
  assert.deepEqual(resolved.layers, expectedLayers(registry, image, dockerLayer));
});

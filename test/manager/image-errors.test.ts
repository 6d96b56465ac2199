/**
 * How image resolution fails: bad input before any request, and a registry (a small HTTP server
 * of our own, to give the broken answers docker-registry never gives) that is unreachable, slow,
 * too big, wrong or lying about digests. Each failure has its own code.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { MEDIA_TYPE, resolveImage } from '../../manager/index.ts';
import { closedPort } from '../support/temp.ts';
import { ociManifest, sendError, sendManifest, sha256, startStub } from './image-stub.ts';

const REPO = 'e2e/app';
const MiB = 1024 * 1024;

describe('bad input is refused before any request', () => {
  const cases: Array<[string, Parameters<typeof resolveImage>[0]]> = [
    ['not a URL', { url: 'registry/v2/a/manifests/1' }],
    ['ftp', { url: 'ftp://127.0.0.1/v2/a/manifests/1' }],
    ['no /v2/ path', { url: 'https://127.0.0.1/a/manifests/1' }],
    ['upper-case repository', { url: 'https://127.0.0.1/v2/App/manifests/1' }],
    ['bad tag', { url: 'https://127.0.0.1/v2/a/manifests/-x' }],
    ['short digest', { url: 'https://127.0.0.1/v2/a/manifests/sha256:abc' }],
    ['a query', { url: 'https://127.0.0.1/v2/a/manifests/1?x=1' }],
    ['platform without arch', { url: 'https://127.0.0.1/v2/a/manifests/1', platform: 'linux' }],
    ['platform of four parts', { url: 'https://127.0.0.1/v2/a/manifests/1', platform: 'linux/arm/v7/x' }],
    ['password without user', { url: 'https://127.0.0.1/v2/a/manifests/1', password: 'p' }],
    ['multi-line header', { url: 'https://127.0.0.1/v2/a/manifests/1', headers: { 'x-a': 'b\r\nc: d' } }],
  ];
  for (const [name, options] of cases) {
    test(name, async () => {
      await assert.rejects(resolveImage(options), { code: 'DF_ERR_INVALID_ARGUMENT' });
    });
  }

  test('credentials inside the URL are refused without echoing them', async () => {
    await assert.rejects(resolveImage({ url: 'https://user:hunter2-pw@127.0.0.1/v2/a/manifests/1' }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'DF_ERR_INVALID_ARGUMENT');
      assert.ok(!error.message.includes('hunter2-pw'), error.message);
      return true;
    });
  });
});

describe('registry failures', () => {
  test('nothing listening: unreachable, naming the registry', async () => {
    const port = await closedPort();
    await assert.rejects(resolveImage({ url: `http://127.0.0.1:${port}/v2/${REPO}/manifests/1` }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'DF_ERR_PREHEAT_REGISTRY_UNREACHABLE');
      assert.ok(error.message.includes(`127.0.0.1:${port}`), error.message);
      return true;
    });
  });

  test('a registry that never answers: the time limit and a caller timeout signal give the timeout code, another abort its own reason', async (t) => {
    const stub = await startStub(t, () => undefined);
    const url = `${stub.url}/v2/${REPO}/manifests/1`;
    await assert.rejects(resolveImage({ url, timeoutMs: 200 }), { code: 'DF_ERR_PREHEAT_REGISTRY_TIMEOUT' });
    await assert.rejects(resolveImage({ url, signal: AbortSignal.timeout(200) }), { code: 'DF_ERR_PREHEAT_REGISTRY_TIMEOUT' });
    const controller = new AbortController();
    const reason = new Error('job cancelled');
    setTimeout(() => controller.abort(reason), 100);
    await assert.rejects(resolveImage({ url, signal: controller.signal }), (error) => error === reason);
  });

  test('a 500 and a 429 fail with the registry-status code and the status', async (t) => {
    for (const status of [500, 429]) {
      const stub = await startStub(t, (_req, res) => sendError(res, status, 'UNAVAILABLE'));
      await assert.rejects(resolveImage({ url: `${stub.url}/v2/${REPO}/manifests/1` }), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'DF_ERR_PREHEAT_REGISTRY_STATUS');
        assert.match(error.message, new RegExp(`${status}`));
        return true;
      });
    }
  });

  test('a redirect on a manifest is not followed (it would carry the Authorization elsewhere)', async (t) => {
    const stub = await startStub(t, (_req, res) => {
      res.writeHead(307, { location: 'http://127.0.0.1:1/elsewhere' });
      res.end();
    });
    await assert.rejects(resolveImage({ url: `${stub.url}/v2/${REPO}/manifests/1` }), { code: 'DF_ERR_PREHEAT_REGISTRY_STATUS' });
    assert.equal(stub.requests.length, 1);
  });

  test('a 403 fails as unauthorized at once', async (t) => {
    const stub = await startStub(t, (_req, res) => sendError(res, 403, 'DENIED'));
    await assert.rejects(resolveImage({ url: `${stub.url}/v2/${REPO}/manifests/1` }), { code: 'DF_ERR_PREHEAT_UNAUTHORIZED', message: /403/ });
    assert.equal(stub.requests.length, 1);
  });
});

describe('manifest validation', () => {
  const good = ociManifest(['a', 'b']);

  test('a manifest over the limit fails as too large, announced or streamed without a length', async (t) => {
    const big = Buffer.alloc(4 * MiB + 1, 0x20);
    const announced = await startStub(t, (_req, res) => {
      res.writeHead(200, { 'content-type': MEDIA_TYPE.ociManifest, 'content-length': big.length });
      res.end(big);
    });
    await assert.rejects(resolveImage({ url: `${announced.url}/v2/${REPO}/manifests/1` }), { code: 'DF_ERR_PREHEAT_MANIFEST_TOO_LARGE' });
    const chunked = await startStub(t, (_req, res) => {
      res.writeHead(200, { 'content-type': MEDIA_TYPE.ociManifest });
      res.write(big.subarray(0, 2 * MiB));
      res.end(big.subarray(2 * MiB));
    });
    await assert.rejects(resolveImage({ url: `${chunked.url}/v2/${REPO}/manifests/1` }), { code: 'DF_ERR_PREHEAT_MANIFEST_TOO_LARGE' });
    // Just under the limit is fine: the limit is not off by one.
    const padded = Buffer.concat([good.body, Buffer.alloc(4 * MiB - good.body.length, 0x20)]);
    const fits = await startStub(t, (_req, res) => sendManifest(res, padded));
    assert.equal((await resolveImage({ url: `${fits.url}/v2/${REPO}/manifests/1` })).layers.length, 2);
  });

  const invalid: Array<[string, Buffer | string, string?]> = [
    ['not JSON', '{"schemaVersion": 2, '],
    ['a JSON array', '[]'],
    ['schema 1', JSON.stringify({ schemaVersion: 1, name: REPO, tag: '1', fsLayers: [] }), 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
    ['a layer digest in upper case', good.body.toString().replace(good.layers[0]!.digest.slice(7), good.layers[0]!.digest.slice(7).toUpperCase())],
    ['a sha512 layer digest', good.body.toString().replace(good.layers[0]!.digest, `sha512:${'a'.repeat(128)}`)],
    ['a negative layer size', good.body.toString().replace('"size":1000', '"size":-1')],
    ['an index without manifests', JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPE.ociIndex }), MEDIA_TYPE.ociIndex],
    ['neither layers nor manifests', JSON.stringify({ schemaVersion: 2, config: {} }), 'application/json'],
  ];
  for (const [name, body, contentType] of invalid) {
    test(`${name} fails as an invalid manifest`, async (t) => {
      const bytes = Buffer.from(body);
      assert.notEqual(bytes.toString(), good.body.toString(), 'the case changed the manifest');
      const stub = await startStub(t, (_req, res) => sendManifest(res, bytes, contentType ?? MEDIA_TYPE.ociManifest));
      await assert.rejects(resolveImage({ url: `${stub.url}/v2/${REPO}/manifests/1` }), { code: 'DF_ERR_PREHEAT_MANIFEST_INVALID' });
    });
  }

  test('an OCI manifest without mediaType or content type is recognised by its layers', async (t) => {
    const body = Buffer.from(good.body.toString().replace(`"mediaType":"${MEDIA_TYPE.ociManifest}",`, ''));
    assert.ok(!body.toString().startsWith('{"schemaVersion":2,"mediaType"'));
    const stub = await startStub(t, (_req, res) => sendManifest(res, body, 'application/octet-stream'));
    const resolved = await resolveImage({ url: `${stub.url}/v2/${REPO}/manifests/1` });
    assert.deepEqual(resolved.layers.map((l) => l.digest), good.layers.map((l) => l.digest));
  });

  test('digests are checked: a lying Docker-Content-Digest, and a body that is not the digest asked for', async (t) => {
    const lying = await startStub(t, (_req, res) => {
      res.writeHead(200, { 'content-type': MEDIA_TYPE.ociManifest, 'docker-content-digest': sha256('something else') });
      res.end(good.body);
    });
    await assert.rejects(resolveImage({ url: `${lying.url}/v2/${REPO}/manifests/1` }), { code: 'DF_ERR_PREHEAT_MANIFEST_INVALID' });

    const other = ociManifest(['c']);
    const swapped = await startStub(t, (_req, res) => sendManifest(res, other.body));
    await assert.rejects(resolveImage({ url: `${swapped.url}/v2/${REPO}/manifests/${sha256(good.body)}` }), { code: 'DF_ERR_PREHEAT_MANIFEST_INVALID' });
    // The same server answering the digest it is asked for resolves: the check is what failed above.
    const resolved = await resolveImage({ url: `${swapped.url}/v2/${REPO}/manifests/${sha256(other.body)}` });
    assert.equal(resolved.manifestDigest, sha256(other.body));
  });

  test('without Docker-Content-Digest the manifest digest is the sha256 of the body', async (t) => {
    const stub = await startStub(t, (_req, res) => {
      res.writeHead(200, { 'content-type': MEDIA_TYPE.dockerManifest });
      res.end(good.body.toString().replace(MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifest));
    });
    const resolved = await resolveImage({ url: `${stub.url}/v2/${REPO}/manifests/1` });
    assert.equal(resolved.manifestDigest, sha256(good.body.toString().replace(MEDIA_TYPE.ociManifest, MEDIA_TYPE.dockerManifest)));
  });

  test('an index entry for the platform that is itself an index fails as invalid', async (t) => {
    const nested = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPE.ociIndex,
        manifests: [{ mediaType: MEDIA_TYPE.ociIndex, digest: sha256('inner'), size: 5, platform: { os: 'linux', architecture: 'amd64' } }],
      }),
    );
    const stub = await startStub(t, (_req, res) => sendManifest(res, nested, MEDIA_TYPE.ociIndex));
    await assert.rejects(resolveImage({ url: `${stub.url}/v2/${REPO}/manifests/1` }), { code: 'DF_ERR_PREHEAT_MANIFEST_INVALID' });
    assert.equal(stub.requests.length, 1);
  });
});

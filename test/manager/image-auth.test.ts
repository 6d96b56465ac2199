/**
 * The bearer-token flow of image resolution. docker-registry's token auth needs a signed-JWT
 * token server, so a small HTTP server of our own plays both the registry and its token service:
 * it issues the challenge, checks the credentials and the token, and serves a manifest.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test, type TestContext } from 'vitest';
import { MEDIA_TYPE, parseChallenges, resolveImage } from '../../manager/index.ts';
import { ociManifest, sendError, sendManifest, sha256, startStub, type Stub } from './image-stub.ts';

const USER = 'bob';
const PASSWORD = 's3cret-Pa55';
const REPO = 'library/app';

interface TokenRegistryOptions {
  /** Credentials the token service requires; anonymous tokens when absent. */
  readonly credentials?: { user: string; password: string };
  /** The JSON field the token comes in (Docker's `token` or OAuth2's `access_token`). */
  readonly field?: 'token' | 'access_token';
  /** The token the registry accepts; default the one the service issues. */
  readonly accepted?: string;
  /** Replaces the token service's JSON answer. */
  readonly tokenBody?: string;
  /** Serve an index (linux/amd64 and linux/arm64) at the tag instead of a manifest. */
  readonly index?: boolean;
}

function basicOf(req: IncomingMessage): { user: string; password: string } | undefined {
  const match = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
  if (!match) return undefined;
  const text = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

const amd64 = ociManifest(['amd64 bottom', 'amd64 top']);
const arm64 = ociManifest(['arm64 only']);
const index = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.ociIndex,
    manifests: [
      { mediaType: MEDIA_TYPE.ociManifest, digest: sha256(amd64.body), size: amd64.body.length, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: MEDIA_TYPE.ociManifest, digest: sha256(arm64.body), size: arm64.body.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ],
  }),
);

/** A registry at `/v2/` and a token service at `/token` on one server. */
async function tokenRegistry(t: TestContext, options: TokenRegistryOptions = {}): Promise<Stub> {
  const issued = options.credentials ? 'tok-private' : 'tok-anonymous';
  const accepted = options.accepted ?? issued;
  let realm = '';
  const stub = await startStub(t, (req, res, url) => {
    if (url.pathname === '/token') {
      const given = basicOf(req);
      if (options.credentials && (given?.user !== options.credentials.user || given.password !== options.credentials.password)) {
        return sendError(res, 401, 'UNAUTHORIZED');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(options.tokenBody ?? JSON.stringify({ [options.field ?? 'token']: issued, expires_in: 300 }));
    }
    if (req.headers.authorization !== `Bearer ${accepted}`) {
      const challenge = `Bearer realm="${realm}",service="stub-registry",scope="repository:${REPO}:pull"`;
      return sendError(res, 401, 'UNAUTHORIZED', { 'www-authenticate': challenge });
    }
    const manifests: Record<string, [Buffer, string]> = {
      [`/v2/${REPO}/manifests/1`]: options.index ? [index, MEDIA_TYPE.ociIndex] : [amd64.body, MEDIA_TYPE.ociManifest],
      [`/v2/${REPO}/manifests/${sha256(amd64.body)}`]: [amd64.body, MEDIA_TYPE.ociManifest],
      [`/v2/${REPO}/manifests/${sha256(arm64.body)}`]: [arm64.body, MEDIA_TYPE.ociManifest],
    };
    const found = manifests[url.pathname];
    if (!found) return sendError(res, 404, 'MANIFEST_UNKNOWN');
    sendManifest(res, ...found);
  });
  realm = `${stub.url}/token`;
  return stub;
}

const paths = (stub: Stub) => stub.requests.map((r) => `${r.url.split('?')[0]} ${r.headers.authorization?.split(' ')[0] ?? '-'}`);

describe('bearer-token registries (a small HTTP server of our own issues the challenge and the token)', () => {
  test('a public image gets an anonymous pull token, and the token is what peers must send', async (t) => {
    const stub = await tokenRegistry(t);
    const resolved = await resolveImage({ url: `${stub.url}/v2/${REPO}/manifests/1` });
    assert.equal(resolved.manifestDigest, sha256(amd64.body));
    assert.deepEqual(
      resolved.layers.map((l) => [l.url, l.digest, l.size, l.mediaType]),
      amd64.layers.map((l) => [`${stub.url}/v2/${REPO}/blobs/${l.digest}`, l.digest, l.size, l.mediaType]),
    );
    assert.deepEqual(resolved.headers, { authorization: 'Bearer tok-anonymous' });
    assert.deepEqual(paths(stub), [`/v2/${REPO}/manifests/1 -`, '/token -', `/v2/${REPO}/manifests/1 Bearer`]);
    const tokenUrl = new URL(stub.requests[1]!.url, stub.url);
    assert.equal(tokenUrl.searchParams.get('service'), 'stub-registry');
    assert.deepEqual(tokenUrl.searchParams.getAll('scope'), [`repository:${REPO}:pull`]);
  });

  test('with credentials the token service gets them as basic auth, and an access_token answer works too', async (t) => {
    const stub = await tokenRegistry(t, { credentials: { user: USER, password: PASSWORD }, field: 'access_token' });
    const resolved = await resolveImage({ url: `${stub.url}/v2/${REPO}/manifests/1`, username: USER, password: PASSWORD, headers: { 'X-Trace': 'abc' } });
    assert.deepEqual(resolved.headers, { 'x-trace': 'abc', authorization: 'Bearer tok-private' });
    assert.equal(resolved.layers.length, 2);
    const tokenRequest = stub.requests.find((r) => r.url.startsWith('/token'))!;
    assert.deepEqual(basicOf({ headers: tokenRequest.headers } as IncomingMessage), { user: USER, password: PASSWORD });
    // The caller's extra headers go to every request, the registry's and the token service's.
    assert.ok(stub.requests.every((r) => r.headers['x-trace'] === 'abc'));
  });

  test('an index behind a token: the token fetched for the tag serves the platform manifest too', async (t) => {
    const stub = await tokenRegistry(t, { index: true });
    const resolved = await resolveImage({ url: `${stub.url}/v2/${REPO}/manifests/1`, platform: 'linux/arm64' });
    assert.equal(resolved.indexDigest, sha256(index));
    assert.equal(resolved.manifestDigest, sha256(arm64.body));
    assert.deepEqual(resolved.layers.map((l) => l.digest), arm64.layers.map((l) => l.digest));
    assert.deepEqual(paths(stub), [
      `/v2/${REPO}/manifests/1 -`,
      '/token -',
      `/v2/${REPO}/manifests/1 Bearer`,
      `/v2/${REPO}/manifests/${sha256(arm64.body)} Bearer`,
    ]);
  });

  test('wrong credentials: the token service refuses, and the error names 401 and the host but not the password', async (t) => {
    const stub = await tokenRegistry(t, { credentials: { user: USER, password: PASSWORD } });
    await assert.rejects(resolveImage({ url: `${stub.url}/v2/${REPO}/manifests/1`, username: USER, password: 'wrong-Pa55' }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'DF_ERR_PREHEAT_UNAUTHORIZED');
      assert.match(error.message, /401/);
      assert.ok(error.message.includes(stub.host), error.message);
      assert.ok(!error.message.includes('wrong-Pa55') && !error.message.includes(PASSWORD), error.message);
      return true;
    });
  });

  test('a token the registry still refuses fails after exactly one retry', async (t) => {
    const stub = await tokenRegistry(t, { accepted: 'some-other-token' });
    await assert.rejects(resolveImage({ url: `${stub.url}/v2/${REPO}/manifests/1` }), (error: Error & { code?: string; status?: number }) => {
      assert.equal(error.code, 'DF_ERR_PREHEAT_UNAUTHORIZED');
      assert.equal(error.status, 401);
      assert.ok(!error.message.includes('tok-anonymous'), 'the token stays out of the message');
      return true;
    });
    assert.deepEqual(paths(stub), [`/v2/${REPO}/manifests/1 -`, '/token -', `/v2/${REPO}/manifests/1 Bearer`]);
  });

  test('a token answer without a token, or not JSON, fails as an invalid token', async (t) => {
    for (const tokenBody of ['{"expires_in": 300}', '<html>', '{"token": "two words"}']) {
      const stub = await tokenRegistry(t, { tokenBody });
      await assert.rejects(resolveImage({ url: `${stub.url}/v2/${REPO}/manifests/1` }), { code: 'DF_ERR_PREHEAT_TOKEN_INVALID' });
    }
  });

  test('a basic-only registry without credentials fails at once, naming 401', async (t) => {
    const stub = await startStub(t, (_req, res) => sendError(res, 401, 'UNAUTHORIZED', { 'www-authenticate': 'Basic realm="stub"' }));
    await assert.rejects(resolveImage({ url: `${stub.url}/v2/${REPO}/manifests/1` }), { code: 'DF_ERR_PREHEAT_UNAUTHORIZED', message: /401/ });
    assert.equal(stub.requests.length, 1);
  });
});

describe('WWW-Authenticate parsing', () => {
  const cases: Array<[string, Array<{ scheme: string; params: Record<string, string> }>]> = [
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/ubuntu:pull' } }],
    ],
    [
      'Basic realm="a, b", Bearer Realm=plain, service="s\\"q"',
      [
        { scheme: 'basic', params: { realm: 'a, b' } },
        { scheme: 'bearer', params: { realm: 'plain', service: 's"q' } },
      ],
    ],
    ['', []],
    ['Negotiate', [{ scheme: 'negotiate', params: {} }]],
  ];
  for (const [header, expected] of cases) {
    test(`parses ${JSON.stringify(header)}`, () => {
      assert.deepEqual(parseChallenges(header), expected);
    });
  }
});

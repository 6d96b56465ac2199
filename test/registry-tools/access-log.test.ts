import { test } from 'vitest';
import assert from 'node:assert/strict';
import { blobBytesServed, blobGetCounts, classifyPath, parseAccessLine } from '../support/registry/index.ts';

const DIGEST = 'sha256:f18b109eb1faf32d5dd98524a8b553d74fae776215f48ee87350f1a74f1537c1';

// Lines as docker-registry 2.8 prints them on stdout.
const LINES = {
  blob: `127.0.0.1 - - [23/Nov/2026:02:20:51 +0000] "GET /v2/test/img/blobs/${DIGEST} HTTP/1.1" 200 2098526 "" "containerd/1.6.20~ds1"`,
  headNs: '127.0.0.1 - - [23/Nov/2026:02:20:51 +0000] "HEAD /v2/test/img/manifests/1?ns=127.0.0.1%3A5000 HTTP/1.1" 200 507 "" "containerd/1.6.20~ds1"',
  unauthorized: '127.0.0.1 - - [23/Nov/2026:02:22:00 +0000] "GET /v2/ HTTP/1.1" 401 87 "" "containers/5.23.1 (github.com/containers/image)"',
  upload: '127.0.0.1 - - [23/Nov/2026:02:20:46 +0000] "PATCH /v2/test/img/blobs/uploads/8724?_state=mAYM HTTP/1.1" 202 0 "" "skopeo/1.9.3"',
  json: '{"level":"info","msg":"response completed","http.response.status":200}',
};

test('a blob GET line parses into method, repository, digest, status and bytes', () => {
  const request = parseAccessLine(LINES.blob);
  assert.deepEqual(request, {
    method: 'GET',
    uri: `/v2/test/img/blobs/${DIGEST}`,
    path: `/v2/test/img/blobs/${DIGEST}`,
    query: '',
    status: 200,
    bytes: 2098526,
    userAgent: 'containerd/1.6.20~ds1',
    kind: 'blob',
    repository: 'test/img',
    digest: DIGEST,
  });
});

test("containerd's ns= query is kept apart from the path", () => {
  const request = parseAccessLine(LINES.headNs)!;
  assert.equal(request.path, '/v2/test/img/manifests/1');
  assert.equal(request.query, 'ns=127.0.0.1%3A5000');
  assert.equal(request.kind, 'manifest');
  assert.equal(request.reference, '1');
});

test('routes are named by the distribution API', () => {
  const cases: Array<[string, ReturnType<typeof classifyPath>]> = [
    ['/v2/', { kind: 'base' }],
    ['/v2/_catalog', { kind: 'catalog' }],
    ['/v2/a/b/c/tags/list', { kind: 'tags', repository: 'a/b/c' }],
    ['/v2/a/blobs/uploads/', { kind: 'upload', repository: 'a' }],
    ['/v2/a/b/blobs/uploads/123', { kind: 'upload', repository: 'a/b' }],
    ['/v2/a/b/manifests/sha256:00', { kind: 'manifest', repository: 'a/b', reference: 'sha256:00' }],
    ['/healthz', { kind: 'other' }],
  ];
  for (const [path, route] of cases) assert.deepEqual(classifyPath(path), route, path);
});

test('lines that are not access lines are ignored', () => {
  assert.equal(parseAccessLine(LINES.json), undefined);
  assert.equal(parseAccessLine(''), undefined);
  assert.equal(parseAccessLine('listening on 127.0.0.1:5000'), undefined);
});

test('blob bytes count only 2xx GETs, per digest or in total; GET counts include failures', () => {
  const other = 'sha256:' + 'a'.repeat(64);
  const requests = [
    parseAccessLine(LINES.blob)!,
    parseAccessLine(LINES.blob.replace('" 200 2098526', '" 206 1000'))!,
    parseAccessLine(LINES.blob.replace('"GET', '"HEAD'))!,
    parseAccessLine(LINES.blob.replace('" 200 2098526', '" 404 157'))!,
    parseAccessLine(LINES.blob.replace(DIGEST, other).replace('2098526', '5'))!,
    parseAccessLine(LINES.unauthorized)!,
    parseAccessLine(LINES.upload)!,
  ];
  assert.equal(blobBytesServed(requests, DIGEST), 2098526 + 1000);
  assert.equal(blobBytesServed(requests), 2098526 + 1000 + 5);
  assert.deepEqual([...blobGetCounts(requests)], [[DIGEST, 3], [other, 1]]);
});

/** The proxy's pure parts, table-driven: registry paths, upstream choice, ranges, headers, rules, client ranges. */
import assert from 'node:assert/strict';
import { test } from 'vitest';
import { statusOf } from '../../api/index.ts';
import { parseRangeHeader, resolveRange } from '../proxy/byte-range.ts';
import { ClientFilter, parseCidr } from '../proxy/client-filter.ts';
import { ProxyRequestError } from '../proxy/errors.ts';
import { parseRegistryPath } from '../proxy/registry-routes.ts';
import { dragonflyControls, forwardedHeaders } from '../proxy/request-headers.ts';
import { applyRule, compileRules, matchRule } from '../proxy/rules.ts';
import { chooseUpstream } from '../proxy/upstream.ts';

const HEX = 'ab'.repeat(32);

test('registry paths are classified, and names, tags and digests checked against the OCI grammar', () => {
  assert.deepEqual(parseRegistryPath('/v2/'), { kind: 'ping' });
  assert.deepEqual(parseRegistryPath('/v2'), { kind: 'ping' });
  assert.deepEqual(parseRegistryPath('/v2/library/alpine/manifests/3.20'), { kind: 'manifest', name: 'library/alpine', reference: '3.20' });
  assert.deepEqual(parseRegistryPath(`/v2/a/b/c/manifests/sha256:${HEX}`), { kind: 'manifest', name: 'a/b/c', reference: `sha256:${HEX}` });
  assert.deepEqual(parseRegistryPath(`/v2/my-org/app_x/blobs/sha256:${HEX}`), { kind: 'blob', name: 'my-org/app_x', digest: `sha256:${HEX}` });
  assert.deepEqual(parseRegistryPath('/v2/x/tags/list'), { kind: 'other', name: 'x' });
  assert.deepEqual(parseRegistryPath('/v2/x/blobs/uploads/'), { kind: 'other', name: 'x' });
  const refused: Array<[string, string, number]> = [
    [`/v2/../../etc/passwd/blobs/sha256:${HEX}`, 'NAME_INVALID', 400],
    [`/v2/a/%2e%2e/b/blobs/sha256:${HEX}`, 'NAME_INVALID', 400],
    [`/v2/UPPER/blobs/sha256:${HEX}`, 'NAME_INVALID', 400],
    [`/v2/a//b/blobs/sha256:${HEX}`, 'NAME_INVALID', 400],
    ['/v2/a/blobs/sha256:abc', 'DIGEST_INVALID', 400],
    [`/v2/a/blobs/md5:${HEX}`, 'DIGEST_INVALID', 400],
    [`/v2/a/blobs/sha256:${HEX.toUpperCase()}`, 'DIGEST_INVALID', 400],
    ['/v2/a/manifests/-bad', 'TAG_INVALID', 400],
    ['/v2/a/manifests/' + 't'.repeat(129), 'TAG_INVALID', 400],
    ['/etc/passwd', 'NAME_UNKNOWN', 404],
    ['/v2/a/unknown/thing', 'NAME_INVALID', 404],
  ];
  for (const [path, code, status] of refused) {
    assert.throws(
      () => parseRegistryPath(path),
      (error: unknown) => error instanceof ProxyRequestError && error.ociCode === code && statusOf(error).http === status,
      path,
    );
  }
});

test('the upstream is the header, then ns= (https unless a scheme is given), then the configured mirror', () => {
  const configured = 'https://index.docker.io';
  assert.deepEqual(chooseUpstream({ header: 'http://127.0.0.1:5000', ns: 'docker.io', configured }), { base: 'http://127.0.0.1:5000', from: 'header' });
  assert.deepEqual(chooseUpstream({ ns: 'ghcr.io', configured }), { base: 'https://ghcr.io', from: 'ns' });
  assert.deepEqual(chooseUpstream({ ns: '[::1]:5000', configured }), { base: 'https://[::1]:5000', from: 'ns' });
  assert.deepEqual(chooseUpstream({ configured }), { base: 'https://index.docker.io', from: 'config' });
  for (const bad of ['ftp://x', 'http://user:pw@host', 'host/path/more', 'host:99999', 'a b', 'http://host/../x', 'javascript:alert(1)']) {
    assert.throws(() => chooseUpstream({ ns: bad, configured }), ProxyRequestError, bad);
  }
});

test('single byte ranges are resolved against the length; others are left to the upstream', () => {
  assert.deepEqual(parseRangeHeader(undefined), { kind: 'none' });
  assert.deepEqual(resolveRange(parseRangeHeader('bytes=10-19'), 100), { start: 10, end: 19 });
  assert.deepEqual(resolveRange(parseRangeHeader('bytes=90-'), 100), { start: 90, end: 99 });
  assert.deepEqual(resolveRange(parseRangeHeader('bytes=90-500'), 100), { start: 90, end: 99 });
  assert.deepEqual(resolveRange(parseRangeHeader('bytes=-10'), 100), { start: 90, end: 99 });
  assert.deepEqual(resolveRange(parseRangeHeader('bytes=-1000'), 100), { start: 0, end: 99 });
  assert.equal(resolveRange(parseRangeHeader('bytes=100-'), 100), 'unsatisfiable');
  assert.equal(resolveRange(parseRangeHeader('bytes=-0'), 100), 'unsatisfiable');
  assert.equal(resolveRange(parseRangeHeader(undefined), 100), undefined);
  for (const other of ['bytes=0-1,5-6', 'items=0-1', 'bytes=5-1', 'bytes=-', 'bytes=a-b']) assert.equal(parseRangeHeader(other).kind, 'other', other);
});

test('X-Dragonfly-* headers are read and checked; hop-by-hop and control headers never go upstream', () => {
  const controls = dragonflyControls({
    'x-dragonfly-tag': 'v1',
    'x-dragonfly-application': 'app',
    'x-dragonfly-priority': '3',
    'x-dragonfly-filtered-query-params': 'X-Sig, Expires',
    'x-dragonfly-piece-length': '8MiB',
    'x-dragonfly-use-p2p': 'true',
  });
  assert.equal(controls.priority, 'LEVEL3');
  assert.deepEqual(controls.filteredQueryParams, ['X-Sig', 'Expires']);
  assert.equal(controls.pieceLength, 8 * 1024 * 1024);
  assert.equal(controls.useP2p, true);
  assert.equal(dragonflyControls({}).priority, 'LEVEL6');
  for (const [name, value] of [
    ['x-dragonfly-priority', '7'],
    ['x-dragonfly-piece-length', '1MiB'],
    ['x-dragonfly-piece-length', 'lots'],
    ['x-dragonfly-use-p2p', 'yes'],
  ] as const) {
    assert.throws(() => dragonflyControls({ [name]: value }), ProxyRequestError, `${name}: ${value}`);
  }
  const forwarded = forwardedHeaders({
    authorization: 'Bearer t',
    accept: 'a, b',
    connection: 'keep-alive, x-private',
    'x-private': 'hop',
    'proxy-authorization': 'Basic x',
    'x-dragonfly-registry': 'https://r',
    host: 'mirror',
    'transfer-encoding': 'chunked',
  });
  assert.deepEqual(forwarded, { authorization: 'Bearer t', accept: 'a, b' });
});

test('proxy rules match the URL without its query; the first match wins and may switch scheme or host', () => {
  const rules = compileRules([
    { regex: 'blobs/sha256.*', useTLS: false, filteredQueryParams: [] },
    { regex: '^http://plain\\.example/', useTLS: true, redirect: 'mirror.example:8443', filteredQueryParams: ['sig'] },
  ]);
  assert.equal(matchRule(rules, new URL('http://r.example/v2/x/blobs/sha256:00'))?.regex, 'blobs/sha256.*');
  assert.equal(matchRule(rules, new URL('http://r.example/file?x=blobs/sha256')), undefined);
  const rule = matchRule(rules, new URL('http://plain.example/a.bin?sig=1'))!;
  assert.equal(applyRule(rule, new URL('http://plain.example/a.bin?sig=1')).href, 'https://mirror.example:8443/a.bin?sig=1');
});

test('client address ranges: IPv4, IPv6 and IPv4-mapped clients', () => {
  const filter = new ClientFilter(['127.0.0.0/8', '::1/128', '10.1.0.0/16']);
  assert.ok(filter.allows('127.0.0.1'));
  assert.ok(filter.allows('::ffff:127.0.0.2'));
  assert.ok(filter.allows('::1'));
  assert.ok(filter.allows('10.1.200.3'));
  assert.ok(!filter.allows('10.2.0.1'));
  assert.ok(!filter.allows('192.168.1.1'));
  assert.ok(!filter.allows(undefined));
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(parseCidr('nonsense'), undefined);
  assert.deepEqual(parseCidr('192.168.0.1'), { address: '192.168.0.1', prefix: 32, family: 'ipv4' });
});

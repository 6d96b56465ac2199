import { test } from 'vitest';
import assert from 'node:assert/strict';
import { crc32Digest, formatDigest, parseDigest, parseDuration, parseRate, parseSize, statusOf, DfError } from '../index.ts';

const SHA256 = 'a'.repeat(64);
const SHA512 = 'B'.repeat(128);

test('digest parsing: valid forms are normalised', () => {
  assert.deepEqual(parseDigest(`sha256:${SHA256}`), { algorithm: 'sha256', encoded: SHA256 });
  assert.deepEqual(parseDigest(`SHA512:${SHA512}`), { algorithm: 'sha512', encoded: SHA512.toLowerCase() });
  assert.deepEqual(parseDigest('crc32:1475635037'), { algorithm: 'crc32', encoded: '1475635037' });
  assert.deepEqual(parseDigest('crc32:0'), { algorithm: 'crc32', encoded: '0' });
  assert.equal(formatDigest(parseDigest('crc32:0000000042')), 'crc32:42');
  assert.equal(crc32Digest(-1), 'crc32:4294967295');
});

test('digest parsing: every bad input has a clear error with a code', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /alg:value/],
    ['sha256', /alg:value/],
    [':abc', /alg:value/],
    [`md5:${'a'.repeat(32)}`, /unsupported digest algorithm "md5"/],
    [`sha256:${'a'.repeat(63)}`, /64 hex characters, got 63/],
    [`sha512:${'a'.repeat(64)}`, /128 hex characters, got 64/],
    [`sha256:${'g'.repeat(64)}`, /not hexadecimal/],
    ['crc32:abc', /decimal number/],
    ['crc32:4294967296', /decimal number/],
    ['crc32:12345678901', /decimal number/],
    ['crc32:-1', /decimal number/],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => parseDigest(input), (error: unknown) => {
      assert.ok(error instanceof DfError);
      assert.equal(error.code, 'DF_ERR_INVALID_DIGEST');
      assert.match(error.message, message);
      return true;
    }, input);
  }
});

test('units: sizes, durations, rates', () => {
  const sizes: Array<[string, number]> = [['4MiB', 4 << 20], ['4mib', 4 << 20], ['512', 512], ['1GB', 1e9], ['1.5KiB', 1536]];
  for (const [text, want] of sizes) assert.equal(parseSize(text), want, text);
  const durations: Array<[string, number]> = [['30s', 30_000], ['500ms', 500], ['2h', 7_200_000], ['1m30s', 90_000]];
  for (const [text, want] of durations) assert.equal(parseDuration(text), want, text);
  const rates: Array<[string, number]> = [['100Mbps', 1e8], ['100mbit', 1e8], ['50MB/s', 4e8]];
  for (const [text, want] of rates) assert.equal(parseRate(text), want, text);
  for (const bad of ['', 'abc', '4XB', '-1MiB']) assert.throws(() => parseSize(bad), { code: 'DF_ERR_INVALID_UNIT' }, bad);
  for (const bad of ['', '30', '5 parsecs', '1m30']) assert.throws(() => parseDuration(bad), { code: 'DF_ERR_INVALID_UNIT' }, bad);
});

test('status table maps codes and unknown errors', () => {
  assert.deepEqual(statusOf(new DfError('DF_ERR_NOT_FOUND', 'x')), { grpc: 5, http: 404 });
  assert.deepEqual(statusOf(new Error('boom')), { grpc: 13, http: 500 });
});

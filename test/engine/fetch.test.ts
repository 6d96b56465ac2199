/** The piece engine against a real HTTP origin: ranges, redirects, origins without Range, sizes, digests, file://. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32 } from 'node:zlib';
import { MIN_PIECE_LENGTH } from '../../api/index.ts';
import type { DownloadEvent } from '../../engine/index.ts';
import { assertFileEquals, exists, fixture } from '../support/engine.ts';
import { content, MiB, Origin } from '../support/origin.ts';

const PIECE = 4 * MiB;

function rangesOf(contentLength: number, pieceLength: number): string[] {
  const out: string[] = [];
  for (let start = 0; start < contentLength; start += pieceLength) {
    out.push(`bytes=${start}-${Math.min(start + pieceLength, contentLength) - 1}`);
  }
  return out;
}

test('each piece is fetched once with its Range and the output is byte-identical', async (t) => {
  const f = await fixture(t, { engine: { concurrentPieceCount: 3 } });
  const body = content(14 * MiB + 123);
  f.origin.setFile('/file', body);
  const events: DownloadEvent[] = [];
  const result = await f.download({ url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE, onEvent: (e) => events.push(e) });

  await assertFileEquals(f.out(), body);
  assert.equal(result.pieceCount, 4);
  assert.equal(result.contentLength, body.length);
  assert.equal(result.resumedBytes, 0);
  const gets = f.origin.gets('/file');
  assert.equal(gets[0]!.range, 'bytes=0-0', 'the stat probe comes first');
  assert.deepEqual(gets.slice(1).map((r) => r.range).sort(), rangesOf(body.length, PIECE).sort());
  assert.ok(gets.slice(1).every((r) => r.headers['if-range'] !== undefined), 'pieces carry If-Range');
  const pieces = events.filter((e) => e.type === 'piece').map((e) => e.piece.number).sort();
  assert.deepEqual(pieces, [0, 1, 2, 3]);
  assert.equal(events.at(-1)?.type, 'finished');
  assert.equal(
    events.filter((e) => e.type === 'bytes').reduce((sum, e) => sum + e.count, 0),
    body.length,
    'progress adds up to the content length',
  );
});

test('without an explicit piece length the length follows the content (4 MiB minimum)', async (t) => {
  const f = await fixture(t);
  const body = content(9 * MiB, 2);
  f.origin.setFile('/file', body);
  const result = await f.download({ url: f.origin.url(), outputPath: f.out() });
  await assertFileEquals(f.out(), body);
  assert.equal(result.pieceCount, Math.ceil(body.length / MIN_PIECE_LENGTH));
});

test('a same-origin redirect is followed once; pieces go straight to the target', async (t) => {
  const f = await fixture(t);
  const body = content(10 * MiB, 3);
  f.origin.setFile('/file', body).redirect('/redirect', '/file', 307);
  await f.download({
    url: f.origin.url('/redirect'),
    outputPath: f.out(),
    pieceLength: PIECE,
    headers: { Authorization: 'Bearer same-origin' },
  });
  await assertFileEquals(f.out(), body);
  assert.equal(f.origin.gets('/redirect').length, 1);
  assert.deepEqual(f.origin.pieceStarts().sort((a, b) => a - b), [0, PIECE, 2 * PIECE]);
  assert.ok(f.origin.log.every((r) => r.headers.authorization === 'Bearer same-origin'), 'same origin keeps credentials');
});

test('a cross-origin redirect drops Authorization and Cookie for every request to the other origin', async (t) => {
  const f = await fixture(t);
  const other = await Origin.start();
  t.onTestFinished(() => other.close());
  const body = content(10 * MiB, 4);
  other.setFile('/file', body);
  f.origin.redirect('/redirect', other.url('/file'));
  await f.download({
    url: f.origin.url('/redirect'),
    outputPath: f.out(),
    pieceLength: PIECE,
    headers: { Authorization: 'Bearer secret', Cookie: 'session=1', 'X-Trace': 'kept' },
  });
  await assertFileEquals(f.out(), body);
  assert.equal(f.origin.log[0]!.headers.authorization, 'Bearer secret', 'the first origin got the credentials');
  assert.deepEqual(other.pieceStarts().sort((a, b) => a - b), [0, PIECE, 2 * PIECE]);
  for (const request of other.log) {
    assert.equal(request.headers.authorization, undefined, `${request.method} ${request.range} carried Authorization`);
    assert.equal(request.headers.cookie, undefined);
    assert.equal(request.headers['x-trace'], 'kept');
  }
});

test('a redirect loop fails with DF_ERR_TOO_MANY_REDIRECTS', async (t) => {
  const f = await fixture(t, { engine: { maxRedirects: 3, retryWindowMs: 0, pieceRetries: 0 } });
  f.origin.redirect('/a', '/b').redirect('/b', '/a');
  await assert.rejects(f.download({ url: f.origin.url('/a'), outputPath: f.out() }), { code: 'DF_ERR_TOO_MANY_REDIRECTS' });
  assert.equal(f.origin.log.length, 4, 'the first request and three redirects');
  assert.equal(await exists(f.out()), false);
});

// Documented choice: an origin that ignores Range is read once, whole and in order, rather than
// asked for every piece (each of which it would answer with the whole file).
test('an origin without Range support is read with exactly one full GET after the stat', async (t) => {
  const f = await fixture(t, { origin: { ranges: false } });
  const body = content(13 * MiB, 5);
  f.origin.setFile('/file', body);
  let started: DownloadEvent | undefined;
  const result = await f.download({
    url: f.origin.url(),
    outputPath: f.out(),
    pieceLength: PIECE,
    onEvent: (e) => (e.type === 'started' ? (started = e) : undefined),
  });
  await assertFileEquals(f.out(), body);
  assert.equal(result.pieceCount, 4);
  assert.equal(started?.type === 'started' && started.rangeSupported, false);
  const gets = f.origin.gets();
  assert.equal(gets.length, 2);
  assert.equal(gets[0]!.range, 'bytes=0-0', 'the stat');
  assert.equal(gets[1]!.range, undefined, 'one full GET');
});

test('an origin without Range that breaks mid-body is read again, keeping the pieces it finished', async (t) => {
  const f = await fixture(t, { origin: { ranges: false } });
  const body = content(13 * MiB, 6);
  f.origin.setFile('/file', body).fault({ kind: 'reset', match: { index: 1 } });
  const pieces: number[] = [];
  await f.download({
    url: f.origin.url(),
    outputPath: f.out(),
    pieceLength: PIECE,
    onEvent: (e) => (e.type === 'piece' ? pieces.push(e.piece.number) : undefined),
  });
  await assertFileEquals(f.out(), body);
  assert.equal(f.origin.gets().length, 3, 'stat, the broken GET, the second GET');
  assert.deepEqual([...pieces].sort(), [0, 1, 2, 3], 'every piece finished exactly once');
});

test('a chunked origin without Range: the length comes from HEAD', async (t) => {
  const f = await fixture(t, { origin: { ranges: false, chunked: true } });
  const body = content(5 * MiB + 7, 7);
  f.origin.setFile('/file', body);
  await f.download({ url: f.origin.url(), outputPath: f.out() });
  await assertFileEquals(f.out(), body);
  assert.deepEqual(
    f.origin.log.map((r) => r.method),
    ['GET', 'HEAD', 'GET'],
  );
});

test('a chunked origin that will not say the length fails with DF_ERR_INVALID_CONTENT_LENGTH', async (t) => {
  const f = await fixture(t, { origin: { ranges: false, chunked: true, headLength: false } });
  f.origin.setFile('/file', content(1000));
  await assert.rejects(f.download({ url: f.origin.url(), outputPath: f.out() }), { code: 'DF_ERR_INVALID_CONTENT_LENGTH' });
  assert.equal(await exists(f.out()), false);
});

for (const [name, length] of [
  ['an empty file', 0],
  ['a file of exactly one piece', PIECE],
  ['a file of one piece and one byte', PIECE + 1],
  ['a file of one byte', 1],
] as const) {
  test(`${name} (${length} bytes) downloads exactly`, async (t) => {
    const f = await fixture(t);
    const body = content(length, 8);
    f.origin.setFile('/file', body);
    const result = await f.download({ url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE });
    await assertFileEquals(f.out(), body);
    assert.equal(result.pieceCount, Math.ceil(length / PIECE));
    const pieceGets = f.origin.gets().slice(1).filter((r) => r.range !== undefined);
    assert.equal(pieceGets.length, result.pieceCount, 'one ranged GET per piece after the stat');
  });
}

test('an empty file with a digest verifies', async (t) => {
  const f = await fixture(t);
  f.origin.setFile('/file', Buffer.alloc(0));
  const digest = `sha256:${createHash('sha256').digest('hex')}`;
  const result = await f.download({ url: f.origin.url(), outputPath: f.out(), digest });
  assert.equal(result.digest, digest);
  await assertFileEquals(f.out(), Buffer.alloc(0));
});

const body = content(9 * MiB + 5, 9);
for (const digest of [
  `sha256:${createHash('sha256').update(body).digest('hex')}`,
  `sha512:${createHash('sha512').update(body).digest('hex')}`,
  `crc32:${crc32(body)}`,
  `sha256:${createHash('sha256').update(body).digest('hex').toUpperCase()}`,
]) {
  test(`digest ${digest.slice(0, 16)}... is verified`, async (t) => {
    const f = await fixture(t);
    f.origin.setFile('/file', body);
    const result = await f.download({ url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE, digest });
    assert.equal(result.digest, digest.toLowerCase());
    await assertFileEquals(f.out(), body);
  });
}

test('file:// URLs are read in pieces from the local filesystem', async (t) => {
  const f = await fixture(t);
  const body = content(11 * MiB, 10);
  const input = join(f.dir, 'input.bin');
  await writeFile(input, body);
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const result = await f.download({ url: pathToFileURL(input).href, outputPath: f.out(), pieceLength: PIECE, digest });
  assert.equal(result.pieceCount, 3);
  await assertFileEquals(f.out(), body);
});

test('a missing file:// path fails with DF_ERR_SOURCE_STATUS', async (t) => {
  const f = await fixture(t);
  await assert.rejects(
    f.download({ url: pathToFileURL(join(f.dir, 'nope')).href, outputPath: f.out() }),
    { code: 'DF_ERR_SOURCE_STATUS', status: 404 },
  );
  assert.equal(await exists(f.out()), false);
});

test('keepInStore leaves the task in the store after export', async (t) => {
  const f = await fixture(t);
  const data = content(5 * MiB, 11);
  f.origin.setFile('/file', data);
  const first = await f.download({ url: f.origin.url(), outputPath: f.out('a'), keepInStore: true });
  await assertFileEquals(f.out('a'), data);
  f.origin.resetLog();
  const second = await f.download({ url: f.origin.url(), outputPath: f.out('b') });
  await assertFileEquals(f.out('b'), data);
  assert.equal(second.resumedBytes, first.contentLength);
  assert.deepEqual(f.origin.pieceStarts(), [], 'nothing fetched again');
});

test('durable mode flushes in the background while downloading and still produces the exact file', async (t) => {
  // 72 MiB crosses the 64 MiB background-flush threshold once, so writeback runs during the download.
  const f = await fixture(t, { engine: { durable: true, concurrentPieceCount: 4 } });
  const body = content(72 * MiB + 5, 11);
  f.origin.setFile('/file', body);
  const result = await f.download({ url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE, digest: `sha256:${createHash('sha256').update(body).digest('hex')}` });
  assert.equal(result.pieceCount, 19);
  await assertFileEquals(f.out(), body);
});

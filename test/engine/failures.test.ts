/** The piece engine when the origin misbehaves or the output cannot take the file. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DownloadEvent } from '../../engine/index.ts';
import { assertFileEquals, exists, fixture, taskDataPath } from '../support/engine.ts';
import { content, MiB } from '../support/origin.ts';
import { closedPort } from '../support/temp.ts';

const PIECE = 4 * MiB;
const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

test('404 is not retried: one request, DF_ERR_SOURCE_STATUS with the status', async (t) => {
  const f = await fixture(t, { engine: { pieceRetries: 3 } });
  await assert.rejects(f.download({ url: f.origin.url('/missing'), outputPath: f.out() }), {
    code: 'DF_ERR_SOURCE_STATUS',
    status: 404,
  });
  assert.equal(f.origin.log.length, 1);
  assert.equal(await exists(f.out()), false);
});

test('500 is retried, then fails with DF_ERR_SOURCE_STATUS', async (t) => {
  const f = await fixture(t, { engine: { retryWindowMs: 0, pieceRetries: 2 } });
  f.origin.setStatus('/file', 500);
  await assert.rejects(f.download({ url: f.origin.url(), outputPath: f.out() }), { code: 'DF_ERR_SOURCE_STATUS', status: 500 });
  assert.equal(f.origin.log.length, 3, 'the first attempt and two retries');
});

test('a piece answered 503 once is retried and the download succeeds', async (t) => {
  const f = await fixture(t);
  const body = content(10 * MiB, 20);
  f.origin.setFile('/file', body).fault({ kind: 'status', status: 503, match: { rangeStart: PIECE } });
  const retries: DownloadEvent[] = [];
  await f.download({
    url: f.origin.url(),
    outputPath: f.out(),
    pieceLength: PIECE,
    onEvent: (e) => (e.type === 'retry' ? retries.push(e) : undefined),
  });
  await assertFileEquals(f.out(), body);
  assert.deepEqual(f.origin.pieceStarts().filter((s) => s === PIECE).length, 2);
  assert.equal(retries.length, 1);
  assert.equal(retries[0]!.type === 'retry' && retries[0]!.pieceNumber, 1);
});

test('a piece that always answers 500 fails the download after its retries', async (t) => {
  const f = await fixture(t, { engine: { retryWindowMs: 0, pieceRetries: 2, concurrentPieceCount: 1 } });
  f.origin.setFile('/file', content(10 * MiB, 21)).fault({ kind: 'status', status: 500, match: { rangeStart: PIECE }, times: Infinity });
  await assert.rejects(f.download({ url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE }), {
    code: 'DF_ERR_SOURCE_STATUS',
    status: 500,
  });
  assert.deepEqual(f.origin.pieceStarts(), [0, PIECE, PIECE, PIECE], 'piece 2 is never asked for once piece 1 failed');
  assert.equal(await exists(f.out()), false);
});

test('an origin down for longer than the retries in the middle of a download is waited out within retryWindowMs', async (t) => {
  const f = await fixture(t, { engine: { pieceRetries: 1, retryBaseDelayMs: 10, retryMaxDelayMs: 50, retryWindowMs: 10_000, concurrentPieceCount: 1 } });
  const body = content(10 * MiB, 25);
  f.origin.setFile('/file', body).fault({ kind: 'status', status: 503, match: { rangeStart: PIECE }, times: 6 });
  const retries: DownloadEvent[] = [];
  await f.download({ url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE, onEvent: (e) => (e.type === 'retry' ? retries.push(e) : undefined) });
  await assertFileEquals(f.out(), body);
  assert.equal(f.origin.pieceStarts().filter((s) => s === PIECE).length, 7, 'six 503s, then the piece');
  assert.equal(retries.length, 6, 'one retry beyond pieceRetries per 503');
});

test('an unreachable origin fails with DF_ERR_SOURCE_UNREACHABLE', async (t) => {
  const f = await fixture(t, { engine: { retryWindowMs: 0, pieceRetries: 1 } });
  const port = await closedPort();
  await assert.rejects(f.download({ url: `http://127.0.0.1:${port}/file`, outputPath: f.out() }), {
    code: 'DF_ERR_SOURCE_UNREACHABLE',
  });
});

for (const kind of ['reset', 'short'] as const) {
  test(`a connection ${kind === 'reset' ? 'reset' : 'closed early'} mid-piece is retried and the output is correct`, async (t) => {
    const f = await fixture(t);
    const body = content(13 * MiB, 22);
    f.origin.setFile('/file', body).fault({ kind, match: { rangeStart: 2 * PIECE } });
    const retries: DownloadEvent[] = [];
    await f.download({
      url: f.origin.url(),
      outputPath: f.out(),
      pieceLength: PIECE,
      digest: sha256(body),
      onEvent: (e) => (e.type === 'retry' ? retries.push(e) : undefined),
    });
    await assertFileEquals(f.out(), body);
    assert.equal(f.origin.pieceStarts().filter((s) => s === 2 * PIECE).length, 2);
    assert.equal(retries.length, 1);
    assert.equal(retries[0]!.type === 'retry' && (retries[0]!.error as { code?: string }).code, 'DF_ERR_SOURCE_PROTOCOL');
  });
}

test('an origin that stalls mid-piece every time fails with DF_ERR_SOURCE_TIMEOUT after the retries', async (t) => {
  const f = await fixture(t, { engine: { pieceTimeoutMs: 300, retryWindowMs: 0, pieceRetries: 1, concurrentPieceCount: 1 } });
  f.origin.setFile('/file', content(10 * MiB, 23)).fault({ kind: 'stall', match: { rangeStart: PIECE }, times: Infinity });
  await assert.rejects(f.download({ url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE }), {
    code: 'DF_ERR_SOURCE_TIMEOUT',
  });
  assert.equal(f.origin.pieceStarts().filter((s) => s === PIECE).length, 2);
  assert.equal(await exists(f.out()), false);
});

test('an origin that sends no headers fails with DF_ERR_SOURCE_TIMEOUT', async (t) => {
  const f = await fixture(t, { engine: { pieceTimeoutMs: 300, retryWindowMs: 0, pieceRetries: 0 } });
  f.origin.setFile('/file', content(1000)).fault({ kind: 'stall-headers', times: Infinity });
  await assert.rejects(f.download({ url: f.origin.url(), outputPath: f.out() }), { code: 'DF_ERR_SOURCE_TIMEOUT' });
});

test('an origin that stalls once recovers on the retry', async (t) => {
  const f = await fixture(t, { engine: { pieceTimeoutMs: 300, pieceRetries: 2 } });
  const body = content(10 * MiB, 24);
  f.origin.setFile('/file', body).fault({ kind: 'stall', match: { rangeStart: PIECE } });
  await f.download({ url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE });
  await assertFileEquals(f.out(), body);
  assert.equal(f.origin.pieceStarts().filter((s) => s === PIECE).length, 2);
});

test('a byte corrupted in transit fails the digest; nothing is left at the output or in the store', async (t) => {
  const f = await fixture(t);
  const body = content(13 * MiB, 25);
  const digest = sha256(body);
  f.origin.setFile('/file', body).fault({ kind: 'corrupt', match: { rangeStart: PIECE } });
  const request = { url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE, digest };
  let taskId = '';
  await assert.rejects(
    f.download({ ...request, onEvent: (e) => (e.type === 'started' ? (taskId = e.taskId) : undefined) }),
    { code: 'DF_ERR_TASK_DIGEST_MISMATCH' },
  );
  assert.equal(await exists(f.out()), false);
  assert.equal(await exists(taskDataPath(f.storageDir, taskId)), false, 'the task data is gone from the store');

  f.origin.resetLog();
  const result = await f.download(request);
  assert.equal(result.resumedBytes, 0);
  assert.deepEqual(f.origin.pieceStarts().sort((a, b) => a - b), [0, PIECE, 2 * PIECE, 3 * PIECE], 'everything is fetched again');
  await assertFileEquals(f.out(), body);
});

test('a wrong expected digest fails with DF_ERR_TASK_DIGEST_MISMATCH', async (t) => {
  const f = await fixture(t);
  f.origin.setFile('/file', content(5 * MiB, 26));
  await assert.rejects(f.download({ url: f.origin.url(), outputPath: f.out(), digest: `crc32:12345` }), {
    code: 'DF_ERR_TASK_DIGEST_MISMATCH',
  });
  assert.equal(await exists(f.out()), false);
});

test('a malformed digest is refused before anything is fetched', async (t) => {
  const f = await fixture(t);
  f.origin.setFile('/file', content(10));
  await assert.rejects(f.download({ url: f.origin.url(), outputPath: f.out(), digest: 'md5:abc' }), { code: 'DF_ERR_INVALID_DIGEST' });
  assert.equal(f.origin.log.length, 0);
});

test('an existing output without overwrite fails with DF_ERR_OUTPUT before any byte is fetched', async (t) => {
  const f = await fixture(t);
  f.origin.setFile('/file', content(10));
  await writeFile(f.out(), 'keep me');
  await assert.rejects(f.download({ url: f.origin.url(), outputPath: f.out() }), { code: 'DF_ERR_OUTPUT' });
  assert.equal(f.origin.log.length, 0);
  assert.equal(await readFile(f.out(), 'utf8'), 'keep me');
});

test('an existing output with overwrite is replaced', async (t) => {
  const f = await fixture(t);
  const body = content(5 * MiB, 27);
  f.origin.setFile('/file', body);
  await writeFile(f.out(), 'old');
  await f.download({ url: f.origin.url(), outputPath: f.out(), overwrite: true });
  await assertFileEquals(f.out(), body);
});

test('an output path that is a directory fails with DF_ERR_OUTPUT', async (t) => {
  const f = await fixture(t);
  await mkdir(f.out('dir'));
  await assert.rejects(f.download({ url: f.origin.url(), outputPath: f.out('dir'), overwrite: true }), { code: 'DF_ERR_OUTPUT' });
  assert.equal(f.origin.log.length, 0);
});

test('a missing parent directory fails with DF_ERR_OUTPUT before any byte is fetched', async (t) => {
  const f = await fixture(t);
  await assert.rejects(f.download({ url: f.origin.url(), outputPath: join(f.dir, 'no', 'such', 'out.bin') }), {
    code: 'DF_ERR_OUTPUT',
  });
  assert.equal(f.origin.log.length, 0);
});

test('an output created while downloading is not replaced without overwrite', async (t) => {
  const f = await fixture(t);
  f.origin.setFile('/file', content(5 * MiB, 28));
  await assert.rejects(
    f.download({
      url: f.origin.url(),
      outputPath: f.out(),
      onEvent: (e) => {
        if (e.type === 'finished') writeFileSync(f.out(), 'raced');
      },
    }),
    { code: 'DF_ERR_OUTPUT' },
  );
  assert.equal(await readFile(f.out(), 'utf8'), 'raced');
});

test('an unsupported scheme fails with DF_ERR_UNSUPPORTED_SCHEME', async (t) => {
  const f = await fixture(t);
  await assert.rejects(f.download({ url: 'ftp://127.0.0.1/file', outputPath: f.out() }), { code: 'DF_ERR_UNSUPPORTED_SCHEME' });
});

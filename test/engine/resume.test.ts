/** Resuming from the store: aborted runs, pieces corrupted on disk, changed origin content, concurrent runs. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { taskIdOf } from '../../api/index.ts';
import type { DownloadRequest } from '../../engine/index.ts';
import { taskRequest } from '../../daemon/index.ts';
import { assertFileEquals, exists, fixture, frontDoor, taskDataPath, type Fixture } from '../support/engine.ts';
import { content, MiB } from '../support/origin.ts';
import { waitFor } from '../support/temp.ts';

const PIECE = 4 * MiB;
const LENGTH = 16 * MiB + 99;
const ALL_PIECES = [0, 1, 2, 3, 4];
const startsOf = (pieces: readonly number[]) => pieces.map((n) => n * PIECE);
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

/** Runs a download and aborts it once `after` pieces finished; resolves the pieces that did. */
async function abortAfter(f: Fixture, request: DownloadRequest, after: number): Promise<number[]> {
  const controller = new AbortController();
  const finished: number[] = [];
  await assert.rejects(
    f.download({
      ...request,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type !== 'piece') return;
        finished.push(e.piece.number);
        if (finished.length === after) controller.abort(new Error('test stops here'));
      },
    }),
    { code: 'DF_ERR_ABORTED' },
  );
  return finished;
}

test('an aborted download resumes: only the missing pieces are fetched and the output is identical', async (t) => {
  const f = await fixture(t, { engine: { concurrentPieceCount: 1 } });
  const body = content(LENGTH, 30);
  f.origin.setFile('/file', body);
  const request = { url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE };
  const finished = await abortAfter(f, request, 2);
  assert.deepEqual(finished, [0, 1]);
  assert.equal(await exists(f.out()), false, 'no output from an aborted run');

  f.origin.resetLog();
  const result = await f.download(request);
  await assertFileEquals(f.out(), body);
  assert.equal(result.resumedBytes, 2 * PIECE);
  assert.deepEqual(sorted(f.origin.pieceStarts()), startsOf([2, 3, 4]));
});

test('an abort with pieces in flight keeps only the finished ones; a digest still verifies after resume', async (t) => {
  const f = await fixture(t, { engine: { concurrentPieceCount: 3 } });
  const body = content(LENGTH, 31);
  // Pieces past the first are slow, so some are mid-body when the abort comes.
  for (const piece of [1, 2, 3, 4]) f.origin.fault({ kind: 'throttle', match: { rangeStart: piece * PIECE }, chunkBytes: 256 * 1024, delayMs: 5 });
  f.origin.setFile('/file', body);
  const digest = `sha512:${createHash('sha512').update(body).digest('hex')}`;
  const request = { url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE, digest };
  const finished = await abortAfter(f, request, 1);
  assert.ok(finished.length < ALL_PIECES.length);

  f.origin.resetLog();
  f.origin.clearFaults();
  const result = await f.download(request);
  await assertFileEquals(f.out(), body);
  assert.equal(result.digest, digest);
  assert.deepEqual(sorted(f.origin.pieceStarts()), startsOf(ALL_PIECES.filter((n) => !finished.includes(n))));
});

test('a request that comes while the last follower of its task stops it waits, then resumes the task afresh', async (t) => {
  const f = await fixture(t, { engine: { concurrentPieceCount: 2 } });
  const body = content(LENGTH, 35);
  for (const piece of [1, 2, 3, 4]) f.origin.fault({ kind: 'throttle', match: { rangeStart: piece * PIECE }, chunkBytes: 256 * 1024, delayMs: 5 });
  f.origin.setFile('/file', body);
  // One front door for both requests, as in a daemon: the second finds the first one's entry.
  const service = frontDoor(f.engine, { keepTasks: true });
  const request = taskRequest({ url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE });
  const controller = new AbortController();
  let second: Promise<unknown> | undefined;
  const first = service.download(
    request,
    {
      onStarted: () => {},
      onPiece: () => {
        if (second) return;
        // Stop the only follower and ask again in the same tick: the download is still closing.
        controller.abort(new Error('test stops here'));
        f.origin.clearFaults();
        second = service.download(request, { onStarted: () => {}, onPiece: () => {} });
      },
    },
    { signal: controller.signal },
  );
  await assert.rejects(first, { code: 'DF_ERR_ABORTED' });
  assert.ok(second, 'a piece finished before the abort');
  await second;
  await assertFileEquals(f.out(), body);
});

test('a stored piece corrupted on disk between runs is fetched again', async (t) => {
  const f = await fixture(t, { engine: { concurrentPieceCount: 1 } });
  const body = content(LENGTH, 32);
  f.origin.setFile('/file', body);
  const request = { url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE };
  assert.deepEqual(await abortAfter(f, request, 3), [0, 1, 2]);

  const taskId = taskIdOf({ url: request.url, pieceLength: PIECE });
  const data = await open(taskDataPath(f.storageDir, taskId), 'r+');
  try {
    const byte = Buffer.alloc(1);
    await data.read(byte, 0, 1, PIECE + 1000);
    byte[0] = byte[0]! ^ 0x01;
    await data.write(byte, 0, 1, PIECE + 1000);
  } finally {
    await data.close();
  }

  f.origin.resetLog();
  const result = await f.download(request);
  await assertFileEquals(f.out(), body);
  assert.equal(result.resumedBytes, 2 * PIECE, 'pieces 0 and 2 were kept');
  assert.deepEqual(sorted(f.origin.pieceStarts()), startsOf([1, 3, 4]));
});

for (const validator of ['etag', 'last-modified'] as const) {
  test(`content changed at the origin between runs (new ${validator}) starts afresh`, async (t) => {
    const f = await fixture(t, { engine: { concurrentPieceCount: 1 } });
    const before = content(LENGTH, 33);
    const after = content(LENGTH, 34);
    const file = (body: Buffer, version: number) =>
      validator === 'etag'
        ? { body, etag: `"v${version}"` }
        : { body, etag: null, lastModified: new Date(Date.UTC(2024, 0, version)).toUTCString() };
    f.origin.setFile('/file', file(before, 1));
    const request = { url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE };
    await abortAfter(f, request, 2);

    f.origin.setFile('/file', file(after, 2));
    f.origin.resetLog();
    const result = await f.download(request);
    assert.equal(result.resumedBytes, 0);
    assert.deepEqual(sorted(f.origin.pieceStarts()), startsOf(ALL_PIECES));
    await assertFileEquals(f.out(), after);
  });
}

test('content that changes during a download fails with DF_ERR_SOURCE_CHANGED (If-Range)', async (t) => {
  const f = await fixture(t, { engine: { concurrentPieceCount: 1 } });
  f.origin.setFile('/file', content(LENGTH, 35));
  await assert.rejects(
    f.download({
      url: f.origin.url(),
      outputPath: f.out(),
      pieceLength: PIECE,
      onEvent: (e) => {
        if (e.type === 'piece' && e.piece.number === 0) f.origin.setFile('/file', content(LENGTH, 36));
      },
    }),
    { code: 'DF_ERR_SOURCE_CHANGED' },
  );
  assert.equal(await exists(f.out()), false);
});

// Decision: a second download of a task already open in this process fails at once rather than
// waiting; the content store's lock is per task and a caller that wants to share (the daemon)
// coordinates above the engine.
test('a second concurrent download of the same task fails with DF_ERR_STORAGE; the first completes', async (t) => {
  const f = await fixture(t, { engine: { concurrentPieceCount: 1 } });
  const body = content(LENGTH, 37);
  // The first run's first piece waits until the second run has failed, so both overlap for sure.
  const { promise: secondDone, resolve: release } = Promise.withResolvers<void>();
  f.origin.fault({ kind: 'hold', match: { rangeStart: 0 }, release: secondDone });
  f.origin.setFile('/file', body);
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const first = f.download({
    url: f.origin.url(),
    outputPath: f.out('first'),
    pieceLength: PIECE,
    onEvent: (e) => (e.type === 'started' ? started() : undefined),
  });
  await running;
  const second = { url: f.origin.url(), outputPath: f.out('second'), pieceLength: PIECE };
  await assert.rejects(f.download(second), { code: 'DF_ERR_STORAGE' });
  await assert.rejects(f.download(second), { code: 'DF_ERR_STORAGE' }, 'a failed attempt leaves the holder its lock');
  release();
  await first;
  await assertFileEquals(f.out('first'), body);
  assert.equal(await exists(f.out('second')), false);
  assert.deepEqual(sorted(f.origin.pieceStarts()), startsOf(ALL_PIECES), 'the failed run fetched no piece');
});

test('the same URL with another piece length is another task and may run alongside', async (t) => {
  const f = await fixture(t);
  const body = content(LENGTH, 38);
  f.origin.setFile('/file', body);
  const [a, b] = await Promise.all([
    f.download({ url: f.origin.url(), outputPath: f.out('a'), pieceLength: PIECE }),
    f.download({ url: f.origin.url(), outputPath: f.out('b'), pieceLength: 2 * PIECE }),
  ]);
  assert.notEqual(a.taskId, b.taskId);
  await assertFileEquals(f.out('a'), body);
  await assertFileEquals(f.out('b'), body);
});

test('an abort before any piece (during the stat, or already aborted) fails with DF_ERR_ABORTED', async (t) => {
  const f = await fixture(t);
  f.origin.setFile('/file', content(1000, 39)).fault({ kind: 'stall-headers', times: Infinity });
  const controller = new AbortController();
  const download = f.download({ url: f.origin.url(), outputPath: f.out(), signal: controller.signal });
  await waitFor('the stat request', () => f.origin.log.length > 0);
  controller.abort(new Error('test stops here'));
  await assert.rejects(download, { code: 'DF_ERR_ABORTED' });
  await assert.rejects(f.download({ url: f.origin.url(), outputPath: f.out(), signal: AbortSignal.abort() }), {
    code: 'DF_ERR_ABORTED',
  });
  assert.equal(await exists(f.out()), false);
});

/**
 * Malformed and hostile gRPC requests against a real dfdaemon process: each gets INVALID_ARGUMENT or
 * NOT_FOUND, and the daemon goes on serving the calls that are fine (a SyncPieces stream open
 * across all of them, a download afterwards).
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { taskIdOf } from '../../api/index.ts';
import { dfgetThrough, startDaemon } from '../support/daemon.ts';
import { assertFileEquals } from '../support/engine.ts';
import { call, collect, downloadClient, grpc, uploadClient } from '../support/grpc.ts';
import { content, MiB, Origin } from '../support/origin.ts';
import { tempDir } from '../support/temp.ts';

const { INVALID_ARGUMENT, NOT_FOUND } = grpc.status;

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (error) {
    return (error as { code: number }).code;
  }
  return grpc.status.OK;
}

test('bad requests get INVALID_ARGUMENT or NOT_FOUND; other calls keep working', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'df-grpc-');
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());
  const body = content(12 * MiB - 7, 501);
  origin.setFile('/file', body);
  const daemon = await startDaemon(t, dir, { name: 'grpc' });
  const cacheHome = join(dir, 'cache');
  const first = await dfgetThrough(daemon, [origin.url('/file'), '-O', join(dir, 'first.bin')], { cacheHome });
  assert.equal(first.code, 0, first.stderr);
  const taskId = taskIdOf({ url: origin.url('/file') });

  const upload = uploadClient(daemon.ports.upload);
  const local = downloadClient(daemon.socketPath);
  t.onTestFinished(() => {
    upload.close();
    local.close();
  });
  // A stream that stays healthy through everything below.
  const healthy = collect(upload.syncPieces({ hostId: 'child', taskId, interestedPieceNumbers: [] }));

  const sync = (request: Parameters<typeof upload.syncPieces>[0]) => statusOf(collect(upload.syncPieces(request)));
  assert.equal(await sync({ taskId: '../../../etc/passwd' }), INVALID_ARGUMENT, 'a path as task id');
  assert.equal(await sync({ taskId: 'x'.repeat(1024 * 1024) }), INVALID_ARGUMENT, 'a 1 MiB task id');
  assert.equal(await sync({ taskId: '' }), INVALID_ARGUMENT, 'an empty task id');
  assert.equal(await sync({ taskId: 'f'.repeat(64) }), NOT_FOUND, 'an unknown task');
  assert.equal(await sync({ taskId, interestedPieceNumbers: [3] }), INVALID_ARGUMENT, 'a piece number past the last');
  assert.equal(await sync({ taskId, interestedPieceNumbers: [0xffffffff] }), INVALID_ARGUMENT, 'a huge piece number');

  assert.equal(await statusOf(call(upload.statTask.bind(upload), { taskId: 'nope' })), INVALID_ARGUMENT);
  assert.equal(await statusOf(call(upload.statTask.bind(upload), { taskId: 'e'.repeat(64) })), NOT_FOUND);
  assert.equal(await statusOf(call(upload.deleteTask.bind(upload), { taskId: '..' })), INVALID_ARGUMENT);
  assert.equal(await statusOf(call(upload.deleteTask.bind(upload), { taskId: 'e'.repeat(64) })), NOT_FOUND);
  assert.equal(await statusOf(call(local.statTask.bind(local), { taskId: 'e'.repeat(64) })), NOT_FOUND);

  const download = (download: Record<string, unknown> | undefined) => statusOf(collect(local.downloadTask({ download })));
  const url = origin.url('/file');
  const out = join(dir, 'bad.bin');
  assert.equal(await download(undefined), INVALID_ARGUMENT, 'no download');
  assert.equal(await download({ url: '' }), INVALID_ARGUMENT, 'no url');
  assert.equal(await download({ url: 'not a url', outputPath: out }), INVALID_ARGUMENT);
  assert.equal(await download({ url: 'gopher://x/y', outputPath: out }), INVALID_ARGUMENT, 'an unsupported scheme');
  assert.equal(await download({ url: `${url}?${'a'.repeat(20_000)}`, outputPath: out }), INVALID_ARGUMENT, 'a huge url');
  assert.equal(await download({ url, outputPath: 'relative/out.bin' }), INVALID_ARGUMENT, 'a relative output path');
  assert.equal(await download({ url, outputPath: out, pieceLength: 1024 }), INVALID_ARGUMENT, 'a piece length under 4 MiB');
  assert.equal(await download({ url, outputPath: out, pieceLength: -1 }), INVALID_ARGUMENT, 'a negative piece length');
  assert.equal(await download({ url, outputPath: out, timeoutMs: -5 }), INVALID_ARGUMENT, 'a negative timeout');
  assert.equal(await download({ url, outputPath: out, digest: 'md5:abc' }), INVALID_ARGUMENT, 'a digest algorithm we do not know');
  assert.equal(await download({ url, outputPath: out, range: { start: 0, length: 10 } }), INVALID_ARGUMENT, 'a range');
  assert.equal(await download({ url, outputPath: out, requestHeader: { 'bad header': 'x' } }), INVALID_ARGUMENT, 'a header name with a space');
  assert.equal(await statusOf(collect(upload.downloadTask({ download: { url: 'file:///etc/passwd\0' } }))), INVALID_ARGUMENT, 'a NUL byte');

  // Still serving: the stream opened first got every piece, and a new download works.
  const pieces = await healthy;
  assert.deepEqual(pieces.map((piece) => piece.number).sort(), [0, 1, 2]);
  for (const piece of pieces) {
    assert.equal(piece.tcpPort, daemon.ports.pieces);
    assert.match(piece.digest, /^crc32:\d+$/);
  }
  const task = await call(upload.statTask.bind(upload), { taskId });
  assert.equal(task.contentLength, body.length);
  assert.equal(task.pieceCount, 3);
  assert.equal(task.state, 'Succeeded');
  const again = await dfgetThrough(daemon, [origin.url('/file'), '-O', join(dir, 'again.bin')], { cacheHome });
  assert.equal(again.code, 0, again.stderr);
  await assertFileEquals(join(dir, 'again.bin'), body);
  assert.equal(daemon.proc.running, true);

  await call(upload.deleteTask.bind(upload), { taskId });
  assert.equal(await statusOf(call(upload.statTask.bind(upload), { taskId })), NOT_FOUND, 'deleted');
});

test('SyncPieces follows a task while it downloads, then ends when it is complete', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'df-grpc-');
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());
  const body = content(5 * 4 * MiB, 502);
  origin.setFile('/file', body);
  let release!: () => void;
  const held = new Promise((resolve) => (release = () => resolve(undefined)));
  origin.fault({ kind: 'hold', match: { rangeStart: 3 * 4 * MiB }, release: held });
  const daemon = await startDaemon(t, dir, { name: 'sync' });
  const taskId = taskIdOf({ url: origin.url('/file') });
  const run = dfgetThrough(daemon, [origin.url('/file'), '-O', join(dir, 'out.bin')], { cacheHome: join(dir, 'cache') });
  const upload = uploadClient(daemon.ports.upload);
  t.onTestFinished(() => upload.close());
  // Until the task is open, it is NOT_FOUND; then the stream follows it.
  let stream;
  for (let attempt = 0; ; attempt++) {
    const candidate = upload.syncPieces({ taskId });
    const first = await new Promise<unknown>((resolve) => {
      candidate.once('data', (piece) => resolve(piece));
      candidate.once('error', (error) => resolve(error));
    });
    if (!(first instanceof Error)) {
      stream = { candidate, first };
      break;
    }
    assert.equal((first as unknown as { code: number }).code, NOT_FOUND);
    assert.ok(attempt < 500, 'the task opened');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const numbers = [(stream.first as { number: number }).number];
  stream.candidate.on('data', (piece: { number: number }) => numbers.push(piece.number));
  const ended = new Promise<void>((resolve, reject) => {
    stream.candidate.on('end', resolve);
    stream.candidate.on('error', reject);
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok(!numbers.includes(3), 'the held piece is not announced before it is recorded');
  release();
  await ended;
  assert.deepEqual([...numbers].sort(), [0, 1, 2, 3, 4]);
  const result = await run;
  assert.equal(result.code, 0, result.stderr);
});

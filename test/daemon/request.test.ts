/**
 * The one request shape and its wire form: every field a caller sets survives the trip through a
 * real protobuf encoding of common.v2.Download (what dfget sends the daemon and the daemon sends
 * the scheduler), so no field can be dropped on the way.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { downloadOf, LOCAL_ONLY_FIELDS, loadProtos, taskRequest, taskRequestOfDownload, type TaskRequest } from '../../daemon/index.ts';

const FULL: TaskRequest = taskRequest({
  url: 'https://example.com/layer?sig=1',
  headers: { authorization: 'Bearer t', 'x-extra': 'y' },
  tag: 'tag-1',
  application: 'app-1',
  filteredQueryParams: ['sig'],
  pieceLength: 8 * 1024 * 1024,
  contentForCalculatingTaskId: 'content-id',
  enableTaskIdBasedBlobDigest: true,
  digest: `sha256:${'ab'.repeat(32)}`,
  outputPath: '/tmp/out.bin',
  overwrite: true,
  forceHardLink: true,
  timeoutMs: 12_345,
  pieceTimeoutMs: 6_789,
  disableBackToSource: true,
  needBackToSource: true,
  concurrentPieceCount: 3,
  priority: 'LEVEL2',
  directFromOriginMaxBytes: 65_536,
  inOrderReader: true,
});

/** Through the real DownloadTask request codec, as on the wire. */
function overTheWire(request: TaskRequest) {
  const method = loadProtos().dfdaemon.DfdaemonDownload.service.DownloadTask;
  const bytes = method.requestSerialize({ download: downloadOf(request) });
  return method.requestDeserialize(bytes).download;
}

test('every field but the local-only ones survives dfget -> daemon', () => {
  const back = taskRequestOfDownload(overTheWire(FULL), { output: true });
  const withoutLocal = (request: TaskRequest) => Object.fromEntries(Object.entries(request).filter(([key]) => !(LOCAL_ONLY_FIELDS as readonly string[]).includes(key)));
  assert.deepEqual(withoutLocal(back), withoutLocal(FULL));
  for (const key of Object.keys(FULL) as Array<keyof TaskRequest>) {
    if ((LOCAL_ONLY_FIELDS as readonly string[]).includes(key)) continue;
    assert.notEqual(back[key], undefined, `${key} was lost on the wire`);
  }
});

test('a request to the scheduler carries the actual layout besides every field', () => {
  const wire = downloadOf(FULL, { contentLength: 100, pieceLength: 50, pieceCount: 2 });
  assert.equal(wire.actualContentLength, 100);
  assert.equal(wire.actualPieceCount, 2);
  assert.equal(wire.priority, 'LEVEL2');
  assert.equal(wire.concurrentPieceCount, 3);
  assert.equal(wire.pieceTimeoutMs, 6_789);
});

test('the upload service never writes an output, whatever the caller asks', () => {
  assert.equal(taskRequestOfDownload(overTheWire(FULL), { output: false }).outputPath, undefined);
});

test('defaults: priority LEVEL6, no output flags, not an in-order reader', () => {
  const request = taskRequest({ url: 'http://127.0.0.1/f' });
  assert.equal(request.priority, 'LEVEL6');
  assert.equal(request.overwrite, false);
  assert.equal(request.inOrderReader, false);
  assert.deepEqual(request.headers, {});
  assert.ok(Object.isFrozen(request));
});

test('bad values name the field', () => {
  const cases: Array<[Parameters<typeof taskRequest>[0], string, RegExp]> = [
    [{ url: 'http://x/f', pieceTimeoutMs: 0 }, 'DF_ERR_INVALID_ARGUMENT', /piece_timeout_ms/],
    [{ url: 'http://x/f', concurrentPieceCount: 2000 }, 'DF_ERR_INVALID_ARGUMENT', /concurrent_piece_count/],
    [{ url: 'http://x/f', priority: 'LEVEL9' as never }, 'DF_ERR_INVALID_ARGUMENT', /priority/],
    [{ url: 'http://x/f', timeoutMs: -1 }, 'DF_ERR_INVALID_ARGUMENT', /timeout_ms/],
    [{ url: 'http://x/f', headers: { 'x-a': 'b\r\nc' } }, 'DF_ERR_INVALID_ARGUMENT', /request_header/],
    [{ url: 'http://x/f', digest: 'md5:00' }, 'DF_ERR_INVALID_DIGEST', /download\.digest/],
    [{ url: 'gopher://x/f' }, 'DF_ERR_UNSUPPORTED_SCHEME', /schemes/],
  ];
  for (const [init, code, message] of cases) assert.throws(() => taskRequest(init), { code, message }, JSON.stringify(init));
});

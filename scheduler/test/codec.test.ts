import assert from 'node:assert/strict';
import { test } from 'vitest';
import { InvalidArgumentError, type commonv2 } from '../../api/index.ts';
import { decodeDownload, decodeHost, decodePiece } from '../service/codec.ts';

const MiB = 1024 * 1024;
const base = { url: 'http://x/y', filteredQueryParams: [], requestHeader: {}, priority: 'LEVEL0', type: 'STANDARD' } as unknown as commonv2.Download__Output;

test('the task layout: given, derived, or unknown', () => {
  const cases: readonly [Partial<commonv2.Download__Output>, [number, number, number]][] = [
    [{ actualContentLength: 10 * MiB, actualPieceLength: 4 * MiB, actualPieceCount: 3 }, [10 * MiB, 4 * MiB, 3]],
    [{ actualContentLength: 10 * MiB, actualPieceLength: 4 * MiB }, [10 * MiB, 4 * MiB, 3]],
    [{ actualContentLength: 0, actualPieceLength: 4 * MiB }, [0, 4 * MiB, 0]],
    [{ actualContentLength: 0 }, [0, 0, 0]],
    [{ pieceLength: 8 * MiB, actualContentLength: 8 * MiB }, [8 * MiB, 8 * MiB, 1]],
    [{}, [-1, 0, 0]],
  ];
  for (const [fields, [contentLength, pieceLength, pieceCount]] of cases) {
    const spec = decodeDownload({ ...base, ...fields });
    assert.deepEqual([spec.contentLength, spec.pieceLength, spec.pieceCount], [contentLength, pieceLength, pieceCount], JSON.stringify(fields));
  }
});

test('out-of-bounds downloads, pieces and hosts are INVALID_ARGUMENT naming the field', () => {
  const cases: readonly [() => unknown, RegExp][] = [
    [() => decodeDownload(undefined), /download is required/],
    [() => decodeDownload({ ...base, url: '' }), /download\.url is required/],
    [() => decodeDownload({ ...base, actualContentLength: 10, actualPieceLength: 0 }), /actual_piece_length/],
    [() => decodeDownload({ ...base, actualContentLength: 2 ** 53 + 2 }), /actual_content_length/],
    [() => decodeDownload({ ...base, actualContentLength: 2 ** 52, actualPieceLength: 1 }), /pieces; at most/],
    [() => decodeDownload({ ...base, priority: 'LEVEL7' as 'LEVEL6' }), /priority/],
    [() => decodeDownload({ ...base, digest: 'sha256:xyz' }), /download\.digest/],
    [() => decodeDownload({ ...base, requestHeader: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`h${i}`, 'v'])) }), /request_header/],
    [() => decodePiece({ number: 2 ** 24, length: 1 } as commonv2.Piece__Output, 'piece'), /piece\.number/],
    [() => decodePiece({ number: 0, offset: 0, length: 1, costMs: -5, createdAtMs: 0 } as commonv2.Piece__Output, 'piece'), /piece\.cost_ms/],
    [() => decodeHost({ id: 'h', ip: '1.2.3.4', port: 0 } as commonv2.Host__Output), /host\.port/],
    [() => decodeHost({ id: '', ip: '1.2.3.4', port: 1 } as commonv2.Host__Output), /host\.id is required/],
  ];
  for (const [decode, message] of cases) {
    assert.throws(decode, (error: unknown) => error instanceof InvalidArgumentError && message.test(error.message), String(message));
  }
});

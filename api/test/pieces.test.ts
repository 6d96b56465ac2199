import { test } from 'vitest';
import assert from 'node:assert/strict';
import { MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, pieceCountOf, pieceLengthOf, pieceRangeOf, piecesInRange } from '../index.ts';

const MiB = 1024 * 1024;

test('piece length at every boundary', () => {
  const cases: Array<[number, number]> = [
    [0, 4 * MiB],
    [1, 4 * MiB],
    [4 * MiB, 4 * MiB],
    [500 * 4 * MiB, 4 * MiB],
    [500 * (4 * MiB + 1) - 1, 4 * MiB], // floor(len/500) = 4 MiB exactly
    [500 * (4 * MiB + 1), 8 * MiB], // floor(len/500) = 4 MiB + 1 -> next power of two
    [500 * 8 * MiB, 8 * MiB],
    [500 * (8 * MiB + 1), 16 * MiB],
    [500 * (16 * MiB + 1), 32 * MiB],
    [500 * (32 * MiB + 1), 64 * MiB],
    [500 * 64 * MiB, 64 * MiB],
    [500 * (64 * MiB + 1), 64 * MiB], // cap
    [2 ** 50, 64 * MiB],
  ];
  for (const [length, want] of cases) assert.equal(pieceLengthOf(length), want, `content length ${length}`);
  assert.equal(MIN_PIECE_LENGTH, 4 * MiB);
  assert.equal(MAX_PIECE_LENGTH, 64 * MiB);
});

test('piece length rejects nonsense', () => {
  for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => pieceLengthOf(bad), RangeError);
});

test('piece count and ranges: last piece is short', () => {
  const L = 4 * MiB;
  const cases: Array<[number, number, number]> = [
    // content length, count, last piece length
    [0, 0, 0],
    [1, 1, 1],
    [L, 1, L],
    [L + 1, 2, 1],
    [3 * L - 5, 3, L - 5],
  ];
  for (const [length, count, last] of cases) {
    assert.equal(pieceCountOf(length, L), count, `count for ${length}`);
    if (count > 0) {
      const range = pieceRangeOf(count - 1, length, L);
      assert.equal(range.length, last);
      assert.equal(range.offset + range.length, length);
    }
  }
  assert.throws(() => pieceRangeOf(1, L, L), /out of range/);
  assert.throws(() => pieceRangeOf(-1, L, L), /out of range/);
  assert.throws(() => pieceCountOf(10, 0), RangeError);
});

test('pieces overlapping a byte range', () => {
  const L = 10;
  assert.deepEqual(piecesInRange(0, 10, 35, L), [0]);
  assert.deepEqual(piecesInRange(5, 10, 35, L), [0, 1]);
  assert.deepEqual(piecesInRange(30, 100, 35, L), [3]);
  assert.deepEqual(piecesInRange(0, 0, 35, L), []);
  assert.deepEqual(piecesInRange(40, 5, 35, L), []);
});

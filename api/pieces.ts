/** Piece layout math, exactly Dragonfly's (`resource/piece.rs::calculate_piece_length`). */

export const MIN_PIECE_LENGTH = 4 * 1024 * 1024;
export const MAX_PIECE_LENGTH = 64 * 1024 * 1024;
/** The piece count the formula aims at; files over ~16 GB exceed it because the length is capped. */
export const TARGET_PIECE_COUNT = 500;

function nextPowerOfTwo(n: number): number {
  if (n <= 1) return 1;
  return 2 ** Math.ceil(Math.log2(n));
}

function assertLength(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}

/** Piece length for a content length: next power of two of length/500, clamped to [4 MiB, 64 MiB]. */
export function pieceLengthOf(contentLength: number): number {
  assertLength('contentLength', contentLength);
  const ideal = nextPowerOfTwo(Math.floor(contentLength / TARGET_PIECE_COUNT));
  return Math.min(MAX_PIECE_LENGTH, Math.max(MIN_PIECE_LENGTH, ideal));
}

export function pieceCountOf(contentLength: number, pieceLength: number): number {
  assertLength('contentLength', contentLength);
  if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) {
    throw new RangeError(`pieceLength must be a positive integer, got ${pieceLength}`);
  }
  return Math.ceil(contentLength / pieceLength);
}

export interface PieceRange {
  readonly number: number;
  readonly offset: number;
  readonly length: number;
}

/** Offset and length of piece `number`; the last piece is short. */
export function pieceRangeOf(number: number, contentLength: number, pieceLength: number): PieceRange {
  const count = pieceCountOf(contentLength, pieceLength);
  if (!Number.isSafeInteger(number) || number < 0 || number >= count) {
    throw new RangeError(`piece ${number} is out of range: the task has ${count} pieces`);
  }
  const offset = number * pieceLength;
  return { number, offset, length: Math.min(pieceLength, contentLength - offset) };
}

/** Pieces overlapping the byte range [start, start+length), as Dragonfly's "interested pieces". */
export function piecesInRange(start: number, length: number, contentLength: number, pieceLength: number): number[] {
  assertLength('start', start);
  assertLength('length', length);
  const end = Math.min(contentLength, start + length);
  if (end <= start) return [];
  const first = Math.floor(start / pieceLength);
  const last = Math.floor((end - 1) / pieceLength);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

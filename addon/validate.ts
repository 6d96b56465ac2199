import { AddonError } from './errors.ts';
import type { HashAlgorithm } from './types.ts';

// Same checks and messages as the native glue (addon/src/glue.rs), so both paths reject alike.

export function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  return typeof value;
}

function invalid(op: string, message: string): AddonError {
  return new AddonError('DF_ERR_ADDON_INVALID_ARGUMENT', `${op}: ${message}`);
}

export function checkFd(op: string, name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    throw invalid(op, `${name} must be a non-negative integer, got ${describe(value)}`);
  }
}

export function checkSize(op: string, name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(op, `${name} must be a non-negative safe integer, got ${describe(value)}`);
  }
}

export function checkUint32(op: string, name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw invalid(op, `${name} must be an unsigned 32-bit integer, got ${describe(value)}`);
  }
}

export function checkBytes(op: string, name: string, value: unknown): asserts value is ArrayBufferView {
  if (!ArrayBuffer.isView(value)) throw invalid(op, `${name} must be a Uint8Array, got ${describe(value)}`);
}

export function checkAlgorithm(op: string, value: unknown, allowCrc32: true): asserts value is HashAlgorithm | 'crc32';
export function checkAlgorithm(op: string, value: unknown, allowCrc32: false): asserts value is HashAlgorithm;
export function checkAlgorithm(op: string, value: unknown, allowCrc32: boolean): void {
  if (value === 'sha256' || value === 'sha512' || (allowCrc32 && value === 'crc32')) return;
  const expected = allowCrc32 ? "'sha256', 'sha512' or 'crc32'" : "'sha256' or 'sha512'";
  const got = typeof value === 'string' ? `'${value}'` : describe(value);
  throw invalid(op, `algorithm must be ${expected}, got ${got}`);
}

export function rangePastEof(op: string, offset: number, length: number, size: number): AddonError {
  return new AddonError(
    'DF_ERR_ADDON_RANGE_PAST_EOF',
    `${op}: range ${offset}+${length} is past end of file (${size} bytes)`,
  );
}

/** receiveToFile's arguments, checked alike by both implementations before the socket is touched. */
export function checkReceive(
  socket: { readableEncoding: string | null },
  fileFd: unknown,
  position: unknown,
  length: unknown,
  prefix: unknown,
  idleTimeoutMs: unknown,
): Uint8Array {
  const op = 'receiveToFile';
  checkFd(op, 'fileFd', fileFd);
  checkSize(op, 'position', position);
  checkSize(op, 'length', length);
  checkSize(op, 'idleTimeoutMs', idleTimeoutMs);
  if (prefix !== undefined) checkBytes(op, 'prefix', prefix);
  const head = prefix === undefined ? new Uint8Array(0) : new Uint8Array(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  if (head.byteLength > length) throw invalid(op, `prefix of ${head.byteLength} bytes is longer than length ${length}`);
  // Decoded strings have lost the bytes: a socket with an encoding cannot be received from.
  if (socket.readableEncoding !== null) throw invalid(op, `socket must not have an encoding, has ${socket.readableEncoding}`);
  return head;
}

/** Test data: random files written once, hashed while they are written. */
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { addon } from '../../addon/index.ts';

const CHUNK_BYTES = 16 << 20;

/** Writes `size` random bytes to `path` (page cache stays warm); resolves their sha256 hex. */
export function writeRandomFile(path: string, size: number, signal: AbortSignal): string {
  const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, size));
  const hash = createHash('sha256');
  const fd = openSync(path, 'w', 0o644);
  try {
    for (let written = 0; written < size; ) {
      signal.throwIfAborted();
      const part = chunk.subarray(0, Math.min(chunk.byteLength, size - written));
      randomFillSync(part);
      hash.update(part);
      for (let offset = 0; offset < part.byteLength; ) offset += writeSync(fd, part, offset, part.byteLength - offset, written + offset);
      written += part.byteLength;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** A random buffer of `size` bytes. */
export function randomBuffer(size: number): Buffer {
  return randomFillSync(Buffer.allocUnsafe(size));
}

/** sha256 hex of the first `size` bytes of a file, off the JS thread (addon, or its node:crypto fallback). */
export async function sha256Of(path: string, size: number): Promise<string> {
  const fd = openSync(path, 'r');
  try {
    return await addon.hashFileRange(fd, 0, size, 'sha256');
  } finally {
    closeSync(fd);
  }
}

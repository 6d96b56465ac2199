/**
 * A one-file tar archive of random bytes: an image layer made without unpacking a bundle. POSIX
 * ustar: a 512-byte header, the data padded to 512 bytes, then two zero blocks.
 */
import { randomFill } from 'node:crypto';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';
import { check } from './errors.ts';

const randomFillAsync = promisify(randomFill) as (buffer: Buffer) => Promise<unknown>;

const BLOCK = 512;
/** An 11-digit octal size field holds up to 8 GiB - 1. */
const MAX_USTAR_SIZE = 0o77777777777;
/** A fixed mtime (2020-01-01) so only the random bytes differ between layers. */
const MTIME_SECONDS = 1_577_836_800;

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

/** The ustar header of a regular file `name` (root-owned, mode 0644) holding `size` bytes. */
export function ustarHeader(name: string, size: number): Buffer {
  check(name.length > 0 && Buffer.byteLength(name) <= 100 && !name.includes('\0'), `tar entry name must be 1-100 bytes, got ${JSON.stringify(name)}`);
  check(Number.isSafeInteger(size) && size >= 0 && size <= MAX_USTAR_SIZE, `tar entry size must be 0..${MAX_USTAR_SIZE}, got ${size}`);
  const header = Buffer.alloc(BLOCK);
  const put = (offset: number, text: string) => header.write(text, offset, 'latin1');
  put(0, name);
  put(100, octal(0o644, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(size, 12));
  put(136, octal(MTIME_SECONDS, 12));
  put(148, ' '.repeat(8)); // the checksum is computed with its own field as spaces
  put(156, '0');
  put(257, 'ustar\0');
  put(263, '00');
  put(265, 'root');
  put(297, 'root');
  let sum = 0;
  for (const byte of header) sum += byte;
  put(148, `${sum.toString(8).padStart(6, '0')}\0 `);
  return header;
}

/** Writes `path`: a tar holding one file `name` of `size` random bytes (node:crypto, 1 MiB at a time). */
export async function writeRandomTar(path: string, name: string, size: number): Promise<void> {
  const header = ustarHeader(name, size);
  const file = await open(path, 'w');
  try {
    await file.write(header, 0, BLOCK, 0);
    const chunk = Buffer.allocUnsafe(Math.min(Math.max(size, 1), 1 << 20));
    for (let written = 0; written < size; ) {
      const part = chunk.subarray(0, Math.min(chunk.length, size - written));
      await randomFillAsync(part);
      await file.write(part, 0, part.length, BLOCK + written);
      written += part.length;
    }
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    // Padding plus the two zero blocks that end the archive.
    const trailer = Buffer.alloc(padded - size + 2 * BLOCK);
    await file.write(trailer, 0, trailer.length, BLOCK + size);
  } finally {
    await file.close();
  }
}

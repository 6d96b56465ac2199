import type { Socket } from 'node:net';

export type HashAlgorithm = 'sha256' | 'sha512';

export interface Hasher {
  update(data: Uint8Array): void;
  /** Ends the hasher: later calls throw DF_ERR_ADDON_HASHER_FINISHED. */
  digestHex(): string;
}

export interface Addon {
  /** 'native' when the .node loaded, 'fallback' otherwise (or DF_NO_ADDON=1). */
  readonly kind: 'native' | 'fallback';
  /** CRC-32 (IEEE, same as zlib.crc32) of data, continuing from `initial` (default 0). Unsigned 32-bit. */
  crc32(data: Uint8Array, initial?: number): number;
  createHasher(algorithm: HashAlgorithm): Hasher;
  /** Hash of [offset, offset+length) of an open fd, off the JS thread. 'crc32' returns the decimal string.
   *  A range past the end of a regular file rejects with DF_ERR_ADDON_RANGE_PAST_EOF. */
  hashFileRange(fd: number, offset: number, length: number, algorithm: HashAlgorithm | 'crc32'): Promise<string>;
  /** Synchronous twin, for worker threads. */
  hashFileRangeSync(fd: number, offset: number, length: number, algorithm: HashAlgorithm | 'crc32'): string;
  /** Feed [offset, offset+length) of fd into an existing hasher (sync; for worker threads). */
  updateHasherFromFile(hasher: Hasher, fd: number, offset: number, length: number): void;
  /** pwrite of the whole buffer at position (loops on short writes), off the JS thread. Resolves bytes written. */
  writeAt(fd: number, data: Uint8Array, position: number): Promise<number>;
  /** Reserve [offset, offset+length) on disk (fallocate); resolves false where the fs cannot (then nothing changed). */
  allocate(fd: number, offset: number, length: number): Promise<boolean>;
  /** Send [offset, offset+length) of fileFd to a connected plain-TCP net.Socket; resolves bytes sent.
   *  Native: libc sendfile on socket's fd on a dedicated thread (never libuv's pool), EAGAIN -> poll(POLLOUT).
   *  Fallback: positional reads + socket.write with back-pressure. Rejects on EPIPE/ECONNRESET or abort. */
  sendFile(socket: Socket, fileFd: number, offset: number, length: number, signal?: AbortSignal): Promise<number>;
}

export const ADDON_DEFAULTS = Object.freeze({
  /** sendFile fails with DF_ERR_ADDON_TIMEOUT when the receiver accepts nothing for this long. */
  sendFileIdleTimeoutMs: 60_000,
  /** Fallback read size for hashing; the native side uses the same 1 MiB. */
  readChunkBytes: 1 << 20,
  /** Fallback sendFile chunk: a few socket buffers, so back-pressure is felt early. */
  sendChunkBytes: 256 << 10,
});

/** Values stored into the native sendFile abort flag (addon/src/sendfile.rs). */
export const ABORT_SIGNAL = 1;
export const ABORT_SOCKET_CLOSED = 2;

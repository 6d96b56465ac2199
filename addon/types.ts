import type { Socket } from 'node:net';

export type HashAlgorithm = 'sha256' | 'sha512';

export interface Hasher {
  update(data: Uint8Array): void;
  /** Ends the hasher: later calls throw DF_ERR_ADDON_HASHER_FINISHED. */
  digestHex(): string;
}

/** What receiveToFile wrote: the byte count (always the requested length) and their CRC-32 (IEEE). */
export interface Received {
  bytes: number;
  crc32: number;
}

/** Told the bytes of a receive on disk so far, counted from its position; only ever growing. */
export type OnWritten = (written: number) => void;

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
  /** Moves exactly `length` bytes from a connected plain-TCP socket into fileFd at `position`, with
   *  their CRC-32. `prefix` (body bytes the caller already read from the socket) comes first and
   *  counts toward `length`. Takes the socket over: JS stops reading it, and it is destroyed when
   *  the call settles (bytes after `length` are never read). Native: read + pwrite on a dedicated
   *  thread, EAGAIN -> poll(POLLIN). Fallback: 'data' events + positional writes with back-pressure.
   *  Rejects DF_ERR_ADDON_PEER_CLOSED (end of stream or reset before `length`; the message says how
   *  many bytes came), DF_ERR_ADDON_TIMEOUT (nothing for `idleTimeoutMs`), DF_ERR_ADDON_ABORTED.
   *  `onWritten` hears, while the call runs, how many bytes (prefix included) are on disk: the
   *  native thread publishes the count after each pwrite and JS polls it every
   *  `receiveProgressPollMs`; the fallback calls it after each write. Never after the call settles. */
  receiveToFile(
    socket: Socket,
    fileFd: number,
    position: number,
    length: number,
    prefix?: Uint8Array,
    signal?: AbortSignal,
    idleTimeoutMs?: number,
    onWritten?: OnWritten,
  ): Promise<Received>;
  /** receiveToFile for a kept-alive connection: the same bytes, results and errors, but on success
   *  the socket stays open for the next answer, paused, with bytes after `length` left to read
   *  (in the kernel, or put back into the stream when JS had read them). Native: the thread also
   *  peeks whether the peer ended the stream after the body; such a socket is destroyed before
   *  the call resolves, as the fallback does when it saw the end. On failure the socket is destroyed. */
  receiveToFileKeepAlive(
    socket: Socket,
    fileFd: number,
    position: number,
    length: number,
    prefix?: Uint8Array,
    signal?: AbortSignal,
    idleTimeoutMs?: number,
    onWritten?: OnWritten,
  ): Promise<Received>;
}

export const ADDON_DEFAULTS = Object.freeze({
  /** sendFile fails with DF_ERR_ADDON_TIMEOUT when the receiver accepts nothing for this long. */
  sendFileIdleTimeoutMs: 60_000,
  /** Fallback read size for hashing; the native side uses the same 1 MiB. */
  readChunkBytes: 1 << 20,
  /** Fallback sendFile chunk: a few socket buffers, so back-pressure is felt early. */
  sendChunkBytes: 256 << 10,
  /** receiveToFile fails with DF_ERR_ADDON_TIMEOUT when the sender sends nothing for this long. */
  receiveIdleTimeoutMs: 60_000,
  /** Fallback receiveToFile: bytes gathered before one positional write; the socket pauses above it. */
  receiveBatchBytes: 1 << 20,
  /** How often a native receive's published progress is read while it runs: a relay from this
   *  peer follows the piece about this far behind the disk, at ~70 cheap wakeups a second. */
  receiveProgressPollMs: 15,
});

/** Values stored into the native sendFile/receiveToFile abort flag (addon/src/sendfile.rs). */
export const ABORT_SIGNAL = 1;
export const ABORT_SOCKET_CLOSED = 2;

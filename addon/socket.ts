import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { AddonError } from './errors.ts';

/** Why a transfer stopped before its last byte, as seen from JS. */
export interface Stop {
  kind: 'aborted' | 'closed';
  cause: unknown;
}

/**
 * Watches the caller's signal and the socket for one transfer and calls `onStop` once. The 'error'
 * listener also means a reset during the transfer rejects the transfer instead of crashing a
 * process whose socket owner had no listener of its own.
 */
export function watchTransfer(socket: Socket, signal: AbortSignal | undefined, onStop: (stop: Stop) => void): () => void {
  let stopped = false;
  const stop = (s: Stop): void => {
    if (stopped) return;
    stopped = true;
    onStop(s);
  };
  const onAbort = (): void => stop({ kind: 'aborted', cause: signal?.reason });
  const onClose = (): void => stop({ kind: 'closed', cause: undefined });
  const onError = (err: Error): void => stop({ kind: 'closed', cause: err });
  signal?.addEventListener('abort', onAbort, { once: true });
  socket.on('close', onClose);
  socket.on('error', onError);
  if (signal?.aborted) onAbort();
  else if (socket.destroyed) onClose();
  return () => {
    signal?.removeEventListener('abort', onAbort);
    socket.off('close', onClose);
    socket.off('error', onError);
  };
}

export function stopError(stop: Stop, done: number, length: number, op = 'sendFile'): AddonError {
  if (stop.kind === 'aborted') {
    return new AddonError('DF_ERR_ADDON_ABORTED', `${op}: aborted after ${done} of ${length} bytes`, {
      cause: stop.cause,
    });
  }
  const errno = (stop.cause as { code?: unknown } | undefined)?.code;
  return new AddonError('DF_ERR_ADDON_PEER_CLOSED', `${op}: socket closed after ${done} of ${length} bytes`, {
    cause: stop.cause,
    errno: typeof errno === 'string' ? errno : undefined,
  });
}

/**
 * The kernel fd behind a plain TCP socket, or undefined where sendfile cannot be used (TLS, which
 * must encrypt in JS; sockets without a libuv handle fd). Reading `_handle` is the only way there is.
 */
export function socketFd(socket: Socket): number | undefined {
  if ('encrypted' in socket) return undefined;
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

const EMPTY = Buffer.alloc(0);

/**
 * Resolves once everything written to the socket so far reached the kernel, so sendfile bytes
 * cannot overtake them (headers first). An empty write completes in order after earlier writes.
 */
export function flushWrites(socket: Socket): Promise<void> {
  if (socket.writableLength === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    socket.write(EMPTY, (err) => (err ? reject(err) : resolve()));
  });
}

interface ReadingHandle {
  reading?: boolean;
  readStop?: () => number;
}

/**
 * Stops JS (libuv) from reading the socket, so another thread can read its fd without a byte going
 * to both, and returns what Node had read but nobody consumed yet (those bytes come first).
 * How it is guaranteed, in Node's own terms (lib/net.js):
 * - Everything that can start reading again is disarmed on this socket, which JS never reads again
 *   (it is destroyed after): the stream's `_read()` (called to refill its buffer) becomes a no-op,
 *   and `read()` / `resume()` become the plain stream methods, without the `readStart()` that
 *   net.Socket adds to them for sockets with `onread`. This also covers a `read(0)` or `resume()`
 *   that the stream already scheduled for a later tick.
 * - `_handle.readStop()` takes the fd out of libuv's poll set. libuv reads only inside its loop, on
 *   this thread, and this function does not yield to it: from here on no read runs or will run.
 *   `_handle.reading = false` keeps Node's bookkeeping true, as its own pause() does.
 * - Bytes read before that wait in the readable buffer: `read()` drains them here.
 */
export function takeOverReading(socket: Socket): Buffer[] {
  const methods = socket as unknown as { _read(size: number): void; read(size?: number): unknown; resume(): Socket };
  methods._read = () => {};
  methods.read = (size?: number) => Duplex.prototype.read.call(socket, size);
  methods.resume = () => Duplex.prototype.resume.call(socket) as Socket;
  socket.pause();
  const handle = (socket as unknown as { _handle?: ReadingHandle | null })._handle;
  if (handle?.reading === true && typeof handle.readStop === 'function') {
    handle.reading = false;
    const err = handle.readStop();
    if (err !== 0) throw new AddonError('DF_ERR_ADDON_IO', `receiveToFile: readStop failed with ${err}`);
  }
  const buffered: Buffer[] = [];
  // No encoding is set (checked by the caller), so every chunk is a Buffer.
  while (socket.readableLength > 0) {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null) break;
    buffered.push(chunk);
  }
  return buffered;
}

/**
 * takeOverReading for a socket that lives on after the transfer: the same guarantees while it
 * runs, and `restore()` gives the socket its own read methods back, paused (nothing reads until
 * its owner resumes it or restarts its handle), with `surplus` (bytes read past the transfer)
 * put back at the front of its readable buffer.
 */
export function lendReading(socket: Socket): { buffered: Buffer[]; restore: (surplus?: Uint8Array) => void } {
  const buffered = takeOverReading(socket);
  const own = socket as unknown as Record<string, unknown>;
  return {
    buffered,
    restore(surplus) {
      delete own['_read'];
      delete own['read'];
      delete own['resume'];
      // A read() while the no-op _read was in place left the stream waiting for that read forever.
      const state = (socket as unknown as { _readableState?: { reading?: boolean } })._readableState;
      if (state) state.reading = false;
      if (surplus !== undefined && surplus.byteLength > 0 && !socket.destroyed) socket.unshift(Buffer.from(surplus));
    },
  };
}

/** True once Node has read the end of the stream from the kernel (pushed EOF), consumed or not. */
export function readEnded(socket: Socket): boolean {
  return (socket as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended === true;
}

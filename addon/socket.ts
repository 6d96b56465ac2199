import type { Socket } from 'node:net';
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

export function stopError(stop: Stop, sent: number, length: number): AddonError {
  if (stop.kind === 'aborted') {
    return new AddonError('DF_ERR_ADDON_ABORTED', `sendFile: aborted after ${sent} of ${length} bytes`, {
      cause: stop.cause,
    });
  }
  const errno = (stop.cause as { code?: unknown } | undefined)?.code;
  return new AddonError('DF_ERR_ADDON_PEER_CLOSED', `sendFile: socket closed after ${sent} of ${length} bytes`, {
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

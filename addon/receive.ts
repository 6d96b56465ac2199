import fs from 'node:fs';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { AddonError, fromSystem } from './errors.ts';
import { readEnded, stopError, watchTransfer, type Stop } from './socket.ts';
import { ADDON_DEFAULTS, type OnWritten, type Received } from './types.ts';
import { checkReceive } from './validate.ts';

// The JS twin of the native receiveToFile (addon/src/receive.rs): same results, codes and rules.

const writev = promisify(fs.writev);
const OP = 'receiveToFile';

/** Positional writev of `chunks` back to back from `position`, looping on short writes. */
async function writeAllAt(fd: number, chunks: readonly Uint8Array[], position: number): Promise<void> {
  let pending = chunks.filter((c) => c.byteLength > 0);
  let at = position;
  while (pending.length > 0) {
    const { bytesWritten: written } = await writev(fd, pending, at).catch((err: unknown) => Promise.reject(fromSystem(`${OP}: pwrite at ${at}`, err)));
    at += written;
    let skip = written;
    while (pending.length > 0 && skip >= pending[0]!.byteLength) skip -= pending.shift()!.byteLength;
    if (skip > 0) pending[0] = pending[0]!.subarray(skip);
  }
}

export function peerClosed(received: number, length: number): AddonError {
  return new AddonError('DF_ERR_ADDON_PEER_CLOSED', `${OP}: peer closed the connection after ${received} of ${length} bytes`);
}

export function idleTimeout(idleMs: number, received: number, length: number): AddonError {
  return new AddonError('DF_ERR_ADDON_TIMEOUT', `${OP}: sender sent nothing for ${idleMs} ms, after ${received} of ${length} bytes`);
}

/** Fallback receiveToFile; see addon/types.ts for the contract. */
export function receiveToFile(
  socket: Socket,
  fileFd: number,
  position: number,
  length: number,
  prefix?: Uint8Array,
  signal?: AbortSignal,
  idleTimeoutMs: number = ADDON_DEFAULTS.receiveIdleTimeoutMs,
  onWritten?: OnWritten,
): Promise<Received> {
  return receive(socket, fileFd, position, length, prefix, signal, idleTimeoutMs, false, onWritten);
}

/** Fallback receiveToFileKeepAlive; see addon/types.ts for the contract. */
export function receiveToFileKeepAlive(
  socket: Socket,
  fileFd: number,
  position: number,
  length: number,
  prefix?: Uint8Array,
  signal?: AbortSignal,
  idleTimeoutMs: number = ADDON_DEFAULTS.receiveIdleTimeoutMs,
  onWritten?: OnWritten,
): Promise<Received> {
  return receive(socket, fileFd, position, length, prefix, signal, idleTimeoutMs, true, onWritten);
}

async function receive(
  socket: Socket,
  fileFd: number,
  position: number,
  length: number,
  prefix: Uint8Array | undefined,
  signal: AbortSignal | undefined,
  idleTimeoutMs: number,
  keepOpen: boolean,
  onWritten: OnWritten | undefined,
): Promise<Received> {
  const head = checkReceive(socket, fileFd, position, length, prefix, idleTimeoutMs);
  const batchLimit = ADDON_DEFAULTS.receiveBatchBytes;
  let crc = zlib.crc32(head);
  let received = head.byteLength;
  // Chunks read but not yet written (`queued` bytes), all within `length`.
  const queue: Buffer[] = [];
  let queued = 0;
  // Bytes of the batch being written: taken already, so they count against `length`.
  let writing = 0;
  // Bytes read past `length`: the next answer's, given back to a kept socket.
  const surplus: Buffer[] = [];
  let kept = false;
  let ended = false;
  let timedOut = false;
  let stop: Stop | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  let timer: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      notify();
    }, idleTimeoutMs);
  };
  const onData = (chunk: Buffer): void => {
    const take = Math.min(chunk.byteLength, length - received - writing - queued);
    if (take > 0) {
      queue.push(take < chunk.byteLength ? chunk.subarray(0, take) : chunk);
      queued += take;
    }
    if (take < chunk.byteLength && keepOpen) surplus.push(chunk.subarray(take));
    // Back-pressure: stop reading while a batch waits for the disk, and for good once all is here.
    if (queued >= batchLimit || received + writing + queued === length) socket.pause();
    armIdle();
    notify();
  };
  const onEnd = (): void => {
    ended = true;
    notify();
  };
  const unwatch = watchTransfer(socket, signal, (s) => {
    stop = s;
    notify();
  });
  try {
    // What the socket can no longer deliver is a failure only when it is still needed.
    if (stop && (stop.kind === 'aborted' || received < length)) throw stopError(stop, 0, length, OP);
    if (received < length) {
      // Listen before the first await: a socket resumed meanwhile (by anyone) would otherwise
      // emit its bytes to no listener, and they would be lost.
      socket.on('data', onData);
      socket.on('end', onEnd);
      armIdle();
      socket.resume();
    }
    await writeAllAt(fileFd, [head], position);
    if (head.byteLength > 0) onWritten?.(received);
    if (received === length) {
      kept = keepOpen;
      return { bytes: received, crc32: crc };
    }
    while (received < length) {
      if (stop?.kind === 'aborted') throw stopError(stop, received, length, OP);
      if (queue.length > 0) {
        const batch = queue.splice(0);
        const bytes = queued;
        queued = 0;
        for (const chunk of batch) crc = zlib.crc32(chunk, crc);
        // The next batch arrives while this one is written; memory stays at about two batches.
        if (received + bytes < length && !stop) {
          armIdle();
          socket.resume();
        }
        writing = bytes;
        await writeAllAt(fileFd, batch, position + received);
        writing = 0;
        received += bytes;
        onWritten?.(received);
        continue;
      }
      if (ended) throw peerClosed(received, length);
      if (stop) throw stopError(stop, received, length, OP);
      if (timedOut) throw idleTimeout(idleTimeoutMs, received, length);
      await new Promise<void>((resolve) => (wake = resolve));
    }
    kept = keepOpen;
    return { bytes: received, crc32: crc };
  } finally {
    clearTimeout(timer);
    unwatch();
    socket.off('data', onData);
    socket.off('end', onEnd);
    if (kept && !readEnded(socket) && !socket.destroyed) {
      socket.pause();
      if (surplus.length > 0) socket.unshift(Buffer.concat(surplus));
    } else {
      // receiveToFile never reuses a socket (unread bytes after `length` go with it); a kept one
      // that failed, or whose peer ended the stream, has nothing more to give either.
      socket.destroy();
    }
  }
}

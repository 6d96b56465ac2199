/**
 * Sends a byte range of a task file to a socket: sendfile through the addon on a plain TCP socket
 * (a transfer thread, so slow receivers never starve libuv's pool), positional reads and writes
 * otherwise. Files are read through OpenFiles: one read-only handle per task file while its pieces
 * are being sent, instead of an open and a close per piece (the largest share of the piece
 * server's own CPU).
 */
import type { Socket } from 'node:net';
import { loadAddon } from '../../addon/index.ts';
import { OpenFiles } from './open-files.ts';

export interface PieceSender {
  /** `native` sends with sendfile; `fallback` with read + write. */
  readonly kind: 'native' | 'fallback';
  /** Sends [offset, offset+length) of the file at `path`; resolves the bytes sent. Flush headers first. */
  send(socket: Socket, path: string, offset: number, length: number, signal?: AbortSignal): Promise<number>;
}

export function createPieceSender(options: { forceFallback?: boolean } = {}): PieceSender {
  const addon = loadAddon({ forceFallback: options.forceFallback ?? false });
  const files = new OpenFiles();
  return {
    kind: addon.kind,
    async send(socket, path, offset, length, signal) {
      const file = await files.acquire(path);
      try {
        return await addon.sendFile(socket, file.fd, offset, length, signal);
      } finally {
        file.release();
      }
    },
  };
}

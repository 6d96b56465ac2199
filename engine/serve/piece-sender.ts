/**
 * Sends a byte range of a task file to a socket: sendfile through the addon on a plain TCP socket
 * (a dedicated thread, so slow receivers never starve libuv's pool), positional reads and writes
 * otherwise. The file is opened per transfer, read-only, so a download closing or replacing its
 * task file never pulls a descriptor from under a transfer.
 */
import { open } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { loadAddon } from '../../addon/index.ts';

export interface PieceSender {
  /** `native` sends with sendfile; `fallback` with read + write. */
  readonly kind: 'native' | 'fallback';
  /** Sends [offset, offset+length) of the file at `path`; resolves the bytes sent. Flush headers first. */
  send(socket: Socket, path: string, offset: number, length: number, signal?: AbortSignal): Promise<number>;
}

export function createPieceSender(options: { forceFallback?: boolean } = {}): PieceSender {
  const addon = loadAddon({ forceFallback: options.forceFallback ?? false });
  return {
    kind: addon.kind,
    async send(socket, path, offset, length, signal) {
      const handle = await open(path, 'r');
      try {
        return await addon.sendFile(socket, handle.fd, offset, length, signal);
      } finally {
        await handle.close();
      }
    },
  };
}

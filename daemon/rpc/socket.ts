/**
 * The unix socket of the download service: a stale file left by a daemon that died is removed,
 * but a socket another live daemon answers on is never taken over (two daemons on one store and
 * one socket would corrupt each other's tasks).
 */
import { connect } from 'node:net';
import { lstat, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DaemonStartError } from '../errors.ts';

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (alive: boolean) => {
      socket.destroy();
      resolve(alive);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1_000, () => done(true));
  });
}

export async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const info = await lstat(path).catch(() => undefined);
  if (!info) return;
  if (!info.isSocket()) {
    throw new DaemonStartError(`${path} exists and is not a socket; refusing to replace it (download.server.socketPath)`);
  }
  if (await answers(path)) {
    throw new DaemonStartError(`another dfdaemon is serving on ${path} (download.server.socketPath); stop it or use another socket path`);
  }
  await rm(path, { force: true });
}

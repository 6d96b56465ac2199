/**
 * The origin: a private nginx (bench/lib/nginx.ts's config) inside the origin host's namespace,
 * listening on its address, with the access log the cluster bench reads, so the payload bytes the
 * origin sent can be told apart from the link's wire bytes (headers, ACKs, retransmissions).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childPidsOf } from '../cluster/proc.ts';
import { accessLogSize, readAccessLog } from '../cluster/origin.ts';
import { nginxConfig } from '../lib/nginx.ts';
import type { CpuLedger } from './cpu.ts';
import { startInHost, waitForHttp } from './hosts.ts';
import type { SimHost } from './netns.ts';
import type { SwarmFile } from './system.ts';

export const ORIGIN_PORT = 8080;
const READY_TIMEOUT_MS = 15_000;
/** What bench/cluster/origin.ts parses. */
const LOG_FORMAT = '$request $status $body_bytes_sent "$http_range"';

export interface NetnsOrigin {
  readonly url: string;
  track(ledger: CpuLedger): void;
  /** Body bytes of GETs of the file logged since start. */
  payloadBytes(): number;
  stop(): Promise<void>;
}

/** Starts nginx on `host` serving `file.dir`; resolves once the file answers 200 from inside the host. */
export async function startOrigin(nginxBinary: string, host: SimHost, file: SwarmFile, dir: string, signal: AbortSignal): Promise<NetnsOrigin> {
  mkdirSync(join(dir, 'tmp'), { recursive: true, mode: 0o755 });
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, nginxConfig(dir, file.dir, `${host.ip}:${ORIGIN_PORT}`, { accessLogFormat: LOG_FORMAT, workers: 1 }));
  const server = startInHost(host, 'nginx', nginxBinary, ['-p', dir, '-e', join(dir, 'error.log'), '-c', confPath]);
  const url = `http://${host.ip}:${ORIGIN_PORT}/${file.name}`;
  const accessLog = join(dir, 'access.log');
  try {
    await waitForHttp(host, url, READY_TIMEOUT_MS, signal, () => server.child.exitCode === null && server.child.signalCode === null);
  } catch (error) {
    await server.stop();
    throw new Error(`nginx on ${host.netns}: ${(error as Error).message}; stderr: ${server.stderr().trim().slice(-500)}`, { cause: error });
  }
  const logFrom = accessLogSize(accessLog);
  return {
    url,
    track(ledger) {
      const master = server.child.pid!;
      ledger.track('nginx', master);
      for (const worker of childPidsOf(master)) ledger.track('nginx', worker);
    },
    payloadBytes: () =>
      readAccessLog(accessLog, logFrom)
        .filter((entry) => entry.method === 'GET' && entry.path === `/${file.name}`)
        .reduce((sum, entry) => sum + entry.bodyBytes, 0),
    stop: server.stop,
  };
}

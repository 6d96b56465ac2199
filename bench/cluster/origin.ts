/**
 * A private nginx origin (RECIPES.md: `daemon off`, pid, logs and temp paths in a temp dir,
 * `sendfile on`, loopback only) that, unlike bench/lib/nginx.ts, keeps an access log of
 * `$request $status $body_bytes_sent "$http_range"`, so the bytes the origin really sent are
 * counted from the log, not inferred from the clients.
 */
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeLoopbackPort } from '../lib/nginx.ts';
import { startBackground } from '../lib/spawn.ts';
import { childPidsOf } from './proc.ts';

const READY_TIMEOUT_MS = 10_000;
const START_ATTEMPTS = 3;

export interface LoggedOrigin {
  /** `http://127.0.0.1:<port>/` */
  readonly baseUrl: string;
  /** The master; the workers are its children. */
  readonly masterPid: number;
  readonly accessLog: string;
  workerPids(): number[];
  stop(): Promise<void>;
}

/** One access-log line. */
export interface AccessEntry {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly bodyBytes: number;
  /** The request's Range header, `undefined` when it had none. */
  readonly range: string | undefined;
}

function config(dir: string, root: string, port: number, workers: number): string {
  return `daemon off;
master_process on;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  log_format df '$request $status $body_bytes_sent "$http_range"';
  access_log ${dir}/access.log df;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 30s;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`;
}

function headStatus(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'HEAD', timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(undefined));
    req.end();
  });
}

/**
 * Starts nginx serving `root` (world-readable: as root its worker runs as nobody) and waits until
 * `probePath` answers 200. `dir` holds the config, pid, logs and temp files.
 */
export async function startLoggedNginx(binary: string, dir: string, root: string, probePath: string, signal: AbortSignal, workers = 1): Promise<LoggedOrigin> {
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  chmodSync(dir, 0o755);
  const accessLog = join(dir, 'access.log');
  let lastError = '';
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await freeLoopbackPort();
    const confPath = join(dir, 'nginx.conf');
    writeFileSync(confPath, config(dir, root, port, workers));
    const server = startBackground('nginx', binary, ['-p', dir, '-e', join(dir, 'error.log'), '-c', confPath]);
    const baseUrl = `http://127.0.0.1:${port}/`;
    const deadline = performance.now() + READY_TIMEOUT_MS;
    let exited = false;
    server.child.once('exit', () => (exited = true));
    while (!exited && performance.now() < deadline && !signal.aborted) {
      const status = await headStatus(new URL(probePath, baseUrl).href);
      if (status === 200) {
        const masterPid = server.child.pid!;
        return { baseUrl, masterPid, accessLog, workerPids: () => childPidsOf(masterPid), stop: server.stop };
      }
      if (status !== undefined) lastError = `HEAD ${probePath} answered ${status}`;
      await sleep(50);
    }
    lastError = exited ? `nginx exited: ${server.stderr().trim()}` : lastError || 'nginx did not answer in time';
    await server.stop();
    signal.throwIfAborted();
  }
  throw new Error(`could not start nginx after ${START_ATTEMPTS} attempts: ${lastError}`);
}

const LINE = /^(\S+) (\S+) \S+ (\d{3}) (\d+) "(.*)"$/;

/** The access log's size now: entries after it are read with `readAccessLog(path, from)`. */
export function accessLogSize(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}

/** Entries of the access log from byte `from` on; a line that does not parse is an error. */
export function readAccessLog(path: string, from = 0): AccessEntry[] {
  const text = readFileSync(path).subarray(from).toString('utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const match = LINE.exec(line);
      if (!match) throw new Error(`unexpected nginx access log line: ${line.slice(0, 200)}`);
      const [, method, path, status, bytes, range] = match as unknown as [string, string, string, string, string, string];
      return { method, path, status: Number(status), bodyBytes: Number(bytes), range: range === '-' || range === '' ? undefined : range };
    });
}

/**
 * A private nginx serving one directory on loopback, as in RECIPES.md: `daemon off`, pid, logs and
 * every temp path inside a temp dir, `sendfile on`. Nothing system-wide is touched.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBackground } from './spawn.ts';

const READY_TIMEOUT_MS = 10_000;
const START_ATTEMPTS = 3;

export interface Origin {
  /** `http://127.0.0.1:<port>/` */
  readonly baseUrl: string;
  /** The master; the workers are its children. */
  readonly pid: number;
  /** The access log's path, when one was asked for. */
  readonly accessLog?: string | undefined;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** An nginx `log_format` for an access log at `<dir>/access.log`; default: no access log. */
  readonly accessLogFormat?: string | undefined;
  readonly workers?: number | undefined;
  /** nginx's `limit_rate` per connection (e.g. `2m` bytes/s), for a slow origin; default: none. */
  readonly limitRate?: string | undefined;
}

/** A port free right now on 127.0.0.1 (the OS picks; nginx binds it a moment later). */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not get a free loopback port');
  return address.port;
}

/**
 * The private config: pid, logs and temp paths under `dir`, `sendfile on`, serving `root` on
 * `listen` (`IP:PORT`).
 */
export function nginxConfig(dir: string, root: string, listen: string, options: NginxOptions): string {
  const accessLog = options.accessLogFormat
    ? `log_format df '${options.accessLogFormat}';\n  access_log ${dir}/access.log df;`
    : 'access_log off;';
  return `daemon off;
master_process on;
worker_processes ${options.workers ?? 1};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  ${accessLog}
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
    listen ${listen};
    root ${root};${options.limitRate ? `\n    limit_rate ${options.limitRate};` : ''}
  }
}
`;
}

/** Resolves the HEAD status of url, or undefined when nothing answers yet. */
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
 * Starts nginx serving `root` and waits until `probePath` answers 200. `dir` holds its config,
 * pid, logs and temp files. When running as root its worker drops to `nobody`, so `root` and its
 * parents must be world-traversable: the caller's temp dirs are made 0755.
 */
export async function startNginx(
  binary: string,
  dir: string,
  root: string,
  probePath: string,
  signal: AbortSignal,
  options: NginxOptions = {},
): Promise<Origin> {
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  chmodSync(dir, 0o755);
  let lastError = '';
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await freeLoopbackPort();
    const confPath = join(dir, 'nginx.conf');
    writeFileSync(confPath, nginxConfig(dir, root, `127.0.0.1:${port}`, options));
    const server = startBackground('nginx', binary, ['-p', dir, '-e', join(dir, 'error.log'), '-c', confPath]);
    const baseUrl = `http://127.0.0.1:${port}/`;
    const deadline = performance.now() + READY_TIMEOUT_MS;
    let exited = false;
    server.child.once('exit', () => (exited = true));
    while (!exited && performance.now() < deadline && !signal.aborted) {
      const status = await headStatus(new URL(probePath, baseUrl).href);
      if (status === 200) {
        const accessLog = options.accessLogFormat ? join(dir, 'access.log') : undefined;
        return { baseUrl, pid: server.child.pid!, accessLog, stop: server.stop };
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

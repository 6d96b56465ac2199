/**
 * The cluster bench's origin: bench/lib/nginx.ts's private nginx with an access log of
 * `$request $status $body_bytes_sent "$http_range"`, so the bytes the origin really sent are
 * counted from the log, not inferred from the clients.
 */
import { readFileSync, statSync } from 'node:fs';
import { startNginx } from '../lib/nginx.ts';
import { childPidsOf } from './proc.ts';

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

const LOG_FORMAT = '$request $status $body_bytes_sent "$http_range"';

/** Starts nginx serving `root` (see startNginx) with the access log this bench reads. */
export async function startLoggedNginx(binary: string, dir: string, root: string, probePath: string, signal: AbortSignal, workers = 1): Promise<LoggedOrigin> {
  const origin = await startNginx(binary, dir, root, probePath, signal, { accessLogFormat: LOG_FORMAT, workers });
  const masterPid = origin.pid;
  return { baseUrl: origin.baseUrl, masterPid, accessLog: origin.accessLog!, workerPids: () => childPidsOf(masterPid), stop: origin.stop };
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

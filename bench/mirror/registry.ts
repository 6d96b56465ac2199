/**
 * A private docker-registry (Debian's `docker-registry`, distribution 2.8) on a free loopback
 * port: its own config (storage in the bench's temp dir, access log on), stopped by PID. Two logs
 * are read as they come:
 * - the combined access log, one line per request with the bytes the handler wrote; this is what
 *   the bench counts blob bytes from (`"GET /v2/x/blobs/sha256:... HTTP/1.1" 206 4194304`). The
 *   registry writes it on stdout; both streams are parsed, so a build that writes it on stderr
 *   counts the same.
 * - the JSON "response completed" lines on stderr, with a completion time to the nanosecond and
 *   the handler's duration: the cold-start timeline is built from them.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup } from '../lib/cleanup.ts';
import { freeLoopbackPort } from '../lib/nginx.ts';
import { killGroup } from '../lib/spawn.ts';

const READY_TIMEOUT_MS = 15_000;
const START_ATTEMPTS = 3;
const STOP_GRACE_MS = 5_000;
const MARKER_QUERY = 'df-bench-marker';
const STDERR_TAIL_BYTES = 4096;

/** One combined access-log line. */
export interface AccessEntry {
  readonly method: string;
  /** Request target without its query. */
  readonly path: string;
  readonly query: string;
  readonly status: number;
  /** Bytes the handler wrote (for a HEAD, the Content-Length it announced). */
  readonly bytes: number;
  readonly userAgent: string;
}

/** One JSON "response completed" line: when the registry finished a request and how long it took. */
export interface CompletedRequest {
  readonly method: string;
  readonly uri: string;
  readonly status: number;
  readonly written: number;
  /** Epoch milliseconds (fractional) at completion. */
  readonly endMs: number;
  readonly durationMs: number;
  /** `Range` is not logged; the user agent is, so the bench's own requests can be told apart. */
  readonly userAgent: string;
}

export interface BenchRegistry {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly pid: number;
  /** Access-log entries so far (probes of readiness and markers left out). */
  readonly entries: readonly AccessEntry[];
  readonly completed: readonly CompletedRequest[];
  /** Waits until requests answered before this call are in `entries` (see the function). */
  settle(signal: AbortSignal): Promise<void>;
  stop(): Promise<void>;
}

const COMBINED = /^(\S+) \S+ \S+ \[[^\]]+\] "(\S+) (\S+) [^"]+" (\d{3}) (\d+|-) "(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)"$/;
const BLOB_PATH = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/;

export function parseAccessLine(line: string): AccessEntry | undefined {
  const match = COMBINED.exec(line.trim());
  if (!match) return undefined;
  const target = match[3]!;
  const at = target.indexOf('?');
  return {
    method: match[2]!,
    path: at === -1 ? target : target.slice(0, at),
    query: at === -1 ? '' : target.slice(at + 1),
    status: Number(match[4]),
    bytes: match[5] === '-' ? 0 : Number(match[5]),
    userAgent: match[6]!,
  };
}

/** Go's time.Duration text (`1.344301ms`, `850µs`, `1.2s`, `1m2.5s`) in milliseconds. */
export function parseGoDurationMs(text: string): number {
  const factors: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
  let total = 0;
  const parts = text.match(/[\d.]+(?:ns|us|µs|μs|ms|s|m|h)/g);
  if (!parts || parts.join('') !== text) return Number.NaN;
  for (const part of parts) {
    const unit = /(ns|us|µs|μs|ms|s|m|h)$/.exec(part)![1]!;
    total += Number(part.slice(0, -unit.length)) * factors[unit]!;
  }
  return total;
}

function parseCompletedLine(line: string): CompletedRequest | undefined {
  if (!line.startsWith('{')) return undefined;
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof fields['msg'] !== 'string' || !fields['msg'].startsWith('response completed')) return undefined;
  const time = String(fields['time'] ?? '');
  // Go prints nanoseconds; Date keeps milliseconds, so the fraction below them is added back.
  const fraction = /\.(\d+)Z$/.exec(time)?.[1] ?? '';
  const endMs = Date.parse(time) + Number(`0.${fraction.slice(3) || '0'}`);
  return {
    method: String(fields['http.request.method'] ?? ''),
    uri: String(fields['http.request.uri'] ?? ''),
    status: Number(fields['http.response.status'] ?? 0),
    written: Number(fields['http.response.written'] ?? 0),
    endMs,
    durationMs: parseGoDurationMs(String(fields['http.response.duration'] ?? '')),
    userAgent: String(fields['http.request.useragent'] ?? ''),
  };
}

/** Bytes of successful blob GETs among `entries`, per digest. */
export function blobGetBytes(entries: readonly AccessEntry[]): Map<string, number> {
  const bytes = new Map<string, number>();
  for (const entry of entries) {
    const digest = BLOB_PATH.exec(entry.path)?.[1];
    if (entry.method !== 'GET' || !digest || entry.status < 200 || entry.status >= 300) continue;
    bytes.set(digest, (bytes.get(digest) ?? 0) + entry.bytes);
  }
  return bytes;
}

/** Sum of a map's values. */
export function total(bytes: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const value of bytes.values()) sum += value;
  return sum;
}

function configFor(dir: string, port: number): string {
  // JSON is YAML too, and needs no quoting of paths by hand.
  return JSON.stringify(
    {
      version: '0.1',
      log: { level: 'info', formatter: 'json', accesslog: { disabled: false } },
      storage: { filesystem: { rootdirectory: join(dir, 'storage') }, delete: { enabled: true }, maintenance: { uploadpurging: { enabled: false } } },
      // A fixed secret keeps the "no HTTP secret" warning away.
      http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex') },
    },
    null,
    2,
  );
}

/** `GET /v2/?query`: the status, or undefined while nothing answers. */
function getPing(port: number, query: string, signal: AbortSignal): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: `/v2/?${query}`, agent: false, timeout: 2_000, signal }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode));
      res.once('error', () => resolve(undefined));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(undefined));
    req.end();
  });
}

/**
 * Starts docker-registry (`binary`) with storage under `dir` on a free loopback port; retries
 * when another process takes the port first. Stopped by `stop()` or the bench's cleanup.
 */
export async function startRegistry(binary: string, dir: string, signal: AbortSignal): Promise<BenchRegistry> {
  mkdirSync(join(dir, 'storage'), { recursive: true });
  const configPath = join(dir, 'config.yml');
  // REGISTRY_* variables would override the config file.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('REGISTRY_')));
  let lastError = '';
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await freeLoopbackPort();
    writeFileSync(configPath, configFor(dir, port));
    const child = spawn(binary, ['serve', configPath], { env, cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const entries: AccessEntry[] = [];
    const completed: CompletedRequest[] = [];
    let markers = 0;
    let seenMarker = 0;
    let stderrTail = '';
    let exited = false;
    const exit = new Promise<void>((resolve) => {
      child.once('exit', () => ((exited = true), resolve()));
      child.once('error', (error) => ((exited = true), (stderrTail += `\n${error.message}`), resolve()));
    });
    const onLine = (line: string) => {
      const entry = parseAccessLine(line);
      if (entry) {
        const marker = new URLSearchParams(entry.query).get(MARKER_QUERY);
        if (marker !== null) seenMarker = Math.max(seenMarker, Number(marker));
        else entries.push(entry);
        return;
      }
      const done = parseCompletedLine(line);
      if (done && !done.uri.includes(MARKER_QUERY)) completed.push(done);
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8').on('data', (text: string) => {
        if (stream === child.stderr) stderrTail = (stderrTail + text).slice(-STDERR_TAIL_BYTES);
        const lines = (partial + text).split('\n');
        partial = lines.pop()!;
        for (const line of lines) onLine(line);
      });
    }
    const stop = onCleanup(`docker-registry (pid ${child.pid})`, async () => {
      killGroup(child, 'SIGTERM');
      const late = await Promise.race([exit.then(() => false), sleep(STOP_GRACE_MS, true, { ref: false })]);
      if (late) {
        killGroup(child, 'SIGKILL');
        await exit;
      }
    });
    /** A marker request; resolves once its access line is in (lines come in completion order). */
    const settle = async (settleSignal: AbortSignal) => {
      const marker = ++markers;
      const deadline = performance.now() + READY_TIMEOUT_MS;
      while (seenMarker < marker) {
        settleSignal.throwIfAborted();
        if (exited) throw new Error(`docker-registry exited; stderr: ${stderrTail.trim().slice(-1000)}`);
        if (performance.now() > deadline) throw new Error(`docker-registry on port ${port} did not log a request within ${READY_TIMEOUT_MS / 1000}s`);
        if ((await getPing(port, `${MARKER_QUERY}=${marker}`, settleSignal)) === undefined) {
          await sleep(50); // Not listening yet.
          continue;
        }
        // Its line follows its answer by a moment; look a few times before asking again.
        for (let look = 0; look < 100 && seenMarker < marker; look++) await sleep(10);
      }
    };
    try {
      await settle(signal);
      entries.length = 0;
      completed.length = 0;
      return { url: `http://127.0.0.1:${port}`, pid: child.pid!, entries, completed, settle, stop };
    } catch (error) {
      await stop();
      lastError = (error as Error).message;
      if (signal.aborted || !/address already in use/.test(stderrTail)) throw error;
    }
  }
  throw new Error(`docker-registry did not start in ${START_ATTEMPTS} attempts: ${lastError}`);
}

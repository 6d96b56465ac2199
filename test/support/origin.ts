/**
 * A real HTTP origin for tests: in-memory files on 127.0.0.1 port 0, with the behaviours origins
 * have in the wild (no Range support, redirects, error statuses, chunked bodies) and faults
 * injected per request (reset, stall, corrupt byte, short body, throttle), plus a log of every
 * request so tests count what was fetched.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface OriginFile {
  body: Buffer;
  /** Strong ETag sent with every answer; default derived from the content, `null` for none. */
  etag?: string | null;
  /** Last-Modified sent with every answer; default none. */
  lastModified?: string | null;
}

export interface LoggedRequest {
  /** 0-based arrival order over the whole origin. */
  readonly index: number;
  readonly method: string;
  readonly path: string;
  /** The Range header, when sent. */
  readonly range?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

export type FaultKind =
  /** Headers and part of the body, then a TCP reset. */
  | 'reset'
  /** Headers, then nothing until the origin closes. */
  | 'stall'
  /** Nothing at all, not even headers, until the origin closes. */
  | 'stall-headers'
  /** The whole body with one byte flipped (at `at`, default the middle). */
  | 'corrupt'
  /** Full Content-Length announced, half the body sent, then the connection ends cleanly. */
  | 'short'
  /** The body in `chunkBytes` pieces with `delayMs` between them. */
  | 'throttle'
  /** An empty answer with `status`. */
  | 'status'
  /** Headers, then the body only once `release` settles. */
  | 'hold';

export interface Fault {
  readonly kind: FaultKind;
  /** Which requests it hits; every given field must match. An empty matcher hits every GET. */
  /** `minLength`: only ranged requests of at least this many bytes (pieces, not a 0-0 stat probe). */
  readonly match?: { index?: number; rangeStart?: number; path?: string; minLength?: number };
  /** How many matching requests it hits; default 1, Infinity for all. */
  times?: number;
  /** corrupt: offset within the body to flip. */
  readonly at?: number;
  /** throttle: bytes per write and pause between writes. */
  readonly chunkBytes?: number;
  readonly delayMs?: number;
  /** status: the status to answer. */
  readonly status?: number;
  /** hold: the body follows when this settles. */
  readonly release?: Promise<unknown>;
}

export interface OriginOptions {
  /** Honour Range and If-Range; false answers every GET with 200 and the whole body. Default true. */
  ranges?: boolean;
  /** 200 answers without Content-Length (chunked); HEAD still says the length. Default false. */
  chunked?: boolean;
  /** HEAD answers carry Content-Length. Default true. */
  headLength?: boolean;
  /** Serve HTTPS with this certificate and key (PEM). Default plain HTTP. */
  tls?: { cert: string; key: string } | undefined;
}

const RANGE = /^bytes=(\d+)-(\d*)$/;

export class Origin {
  readonly log: LoggedRequest[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #files = new Map<string, OriginFile>();
  readonly #statuses = new Map<string, number>();
  readonly #redirects = new Map<string, { location: string; status: number }>();
  readonly #faults: Fault[] = [];
  readonly #options: Required<Omit<OriginOptions, 'tls'>> & Pick<OriginOptions, 'tls'>;
  readonly #closed = new AbortController();
  /** The most ranged GETs this origin was answering at once (piece requests in flight). */
  maxRangedInFlight = 0;
  #rangedInFlight = 0;
  /** GET answers whose whole body left this server, by path and range. */
  readonly completed: Array<{ path: string; range?: string | undefined }> = [];

  private constructor(options: OriginOptions) {
    this.#options = { ranges: true, chunked: false, headLength: true, tls: undefined, ...options };
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch((error: unknown) => {
        res.destroy(error as Error);
      });
    };
    this.#server = options.tls ? createHttpsServer(options.tls, handler) : createServer(handler);
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  static async start(options: OriginOptions = {}): Promise<Origin> {
    const origin = new Origin(options);
    await new Promise<void>((resolve, reject) => {
      origin.#server.once('error', reject);
      origin.#server.listen(0, '127.0.0.1', () => resolve());
    });
    return origin;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  url(path = '/file'): string {
    return `${this.#options.tls ? 'https' : 'http'}://127.0.0.1:${this.port}${path}`;
  }

  setFile(path: string, file: OriginFile | Buffer): this {
    this.#files.set(path, Buffer.isBuffer(file) ? { body: file } : file);
    return this;
  }

  setStatus(path: string, status: number): this {
    this.#statuses.set(path, status);
    return this;
  }

  /** `location` may be a path on this origin or an absolute URL on another. */
  redirect(path: string, location: string, status = 302): this {
    this.#redirects.set(path, { location, status });
    return this;
  }

  fault(fault: Fault): this {
    this.#faults.push({ ...fault, times: fault.times ?? 1 });
    return this;
  }

  /**
   * Holds every piece answer (ranges of at least `pieceLength` bytes; the 0-0 stat probe passes)
   * until `open` piece requests are open at once, and 300 ms more: time for any further request
   * the downloader would make. So `maxRangedInFlight` shows how many it keeps open whatever the
   * machine's speed; after 10 s the answers go anyway (a downloader that never opens `open` then
   * shows fewer).
   */
  holdPiecesUntilOpen(pieceLength: number, open = 2): this {
    const release = (async () => {
      const deadline = Date.now() + 10_000;
      while (this.maxRangedInFlight < open && Date.now() < deadline) await sleep(20);
      await sleep(300);
    })();
    return this.fault({ kind: 'hold', times: Infinity, match: { minLength: pieceLength }, release });
  }

  clearFaults(): this {
    this.#faults.length = 0;
    return this;
  }

  /** Logged GETs, optionally of one path. */
  gets(path?: string): LoggedRequest[] {
    return this.log.filter((r) => r.method === 'GET' && (path === undefined || r.path === path));
  }

  /** Start offsets of the ranged GETs for a path, excluding the 1-byte stat probe. */
  pieceStarts(path = '/file'): number[] {
    return this.gets(path)
      .filter((r) => r.range !== undefined && r.range !== 'bytes=0-0')
      .map((r) => Number(RANGE.exec(r.range!)?.[1]));
  }

  resetLog(): void {
    this.log.length = 0;
    this.completed.length = 0;
  }

  async close(): Promise<void> {
    this.#closed.abort();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://origin').pathname;
    const range = req.headers.range;
    const entry: LoggedRequest = { index: this.log.length, method: req.method ?? '', path, range, headers: req.headers };
    this.log.push(entry);
    if (req.method === 'GET' && range !== undefined && range !== 'bytes=0-0') {
      this.maxRangedInFlight = Math.max(this.maxRangedInFlight, ++this.#rangedInFlight);
      res.once('close', () => this.#rangedInFlight--);
    }

    const redirect = this.#redirects.get(path);
    if (redirect) {
      res.writeHead(redirect.status, { location: redirect.location, 'content-length': 0 }).end();
      return;
    }
    const status = this.#statuses.get(path);
    if (status !== undefined) {
      res.writeHead(status, { 'content-length': 0 }).end();
      return;
    }
    const file = this.#files.get(path);
    if (!file) {
      res.writeHead(404, { 'content-length': 0 }).end();
      return;
    }
    const total = file.body.length;
    const validators: Record<string, string> = {};
    const etag = file.etag === undefined ? `"${createHash('sha256').update(file.body).digest('hex').slice(0, 16)}"` : file.etag;
    if (etag !== null) validators.etag = etag;
    if (file.lastModified) validators['last-modified'] = file.lastModified;

    if (req.method === 'HEAD') {
      const headers: Record<string, string | number> = { ...validators };
      if (this.#options.ranges) headers['accept-ranges'] = 'bytes';
      if (this.#options.headLength) headers['content-length'] = total;
      res.writeHead(200, headers).end();
      return;
    }
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-length': 0 }).end();
      return;
    }

    let start = 0;
    let end = total - 1;
    let partial = false;
    const ifRange = req.headers['if-range'];
    const rangeApplies = this.#options.ranges && range !== undefined && (ifRange === undefined || ifRange === etag || ifRange === file.lastModified);
    if (rangeApplies) {
      const match = RANGE.exec(range);
      if (!match) {
        res.writeHead(400, { 'content-length': 0 }).end();
        return;
      }
      start = Number(match[1]);
      end = match[2] === '' ? total - 1 : Math.min(Number(match[2]), total - 1);
      if (start >= total || end < start) {
        res.writeHead(416, { 'content-range': `bytes */${total}`, 'content-length': 0, ...validators }).end();
        return;
      }
      partial = true;
    }
    let body = file.body.subarray(start, end + 1);
    const fault = this.#takeFault(entry, partial ? start : undefined, partial ? end - start + 1 : undefined);
    const headers: Record<string, string | number> = { ...validators };
    if (this.#options.ranges) headers['accept-ranges'] = 'bytes';
    if (partial) headers['content-range'] = `bytes ${start}-${end}/${total}`;
    if (partial || !this.#options.chunked) headers['content-length'] = body.length;

    if (fault?.kind === 'stall-headers') return this.#stall(res);
    if (fault?.kind === 'status') {
      res.writeHead(fault.status ?? 500, { 'content-length': 0 }).end();
      return;
    }
    res.writeHead(partial ? 206 : 200, headers);
    switch (fault?.kind) {
      case 'stall':
        res.flushHeaders();
        return this.#stall(res);
      case 'reset':
        res.write(body.subarray(0, Math.floor(body.length / 2)));
        await sleep(20);
        res.socket?.resetAndDestroy();
        return;
      case 'short':
        res.write(body.subarray(0, Math.floor(body.length / 2)));
        await sleep(20);
        res.socket?.end();
        return;
      case 'hold':
        res.flushHeaders();
        await Promise.race([fault.release, this.#stall(res)]);
        break;
      case 'corrupt': {
        body = Buffer.from(body);
        const at = fault.at ?? Math.floor(body.length / 2);
        body[at] = body[at]! ^ 0xff;
        break;
      }
      case 'throttle':
        await this.#throttled(res, body, fault.chunkBytes ?? 64 * 1024, fault.delayMs ?? 10);
        this.#finished(res, path, range);
        return;
    }
    res.end(body);
    this.#finished(res, path, range);
  }

  #finished(res: ServerResponse, path: string, range: string | undefined): void {
    res.once('finish', () => this.completed.push({ path, range }));
  }

  async #throttled(res: ServerResponse, body: Buffer, chunkBytes: number, delayMs: number): Promise<void> {
    for (let at = 0; at < body.length; at += chunkBytes) {
      if (res.destroyed || this.#closed.signal.aborted) return;
      res.write(body.subarray(at, at + chunkBytes));
      await sleep(delayMs, undefined, { signal: this.#closed.signal }).catch(() => {});
    }
    res.end();
  }

  /** Holds the response open until the client gives up or the origin closes. */
  async #stall(res: ServerResponse): Promise<void> {
    await new Promise<void>((resolve) => {
      if (this.#closed.signal.aborted) return resolve();
      this.#closed.signal.addEventListener('abort', () => resolve(), { once: true });
      res.once('close', () => resolve());
    });
  }

  #takeFault(request: LoggedRequest, rangeStart: number | undefined, rangeLength: number | undefined): Fault | undefined {
    const fault = this.#faults.find((f) => {
      if ((f.times ?? 1) <= 0) return false;
      const m = f.match ?? {};
      if (m.index !== undefined && m.index !== request.index) return false;
      if (m.path !== undefined && m.path !== request.path) return false;
      if (m.rangeStart !== undefined && m.rangeStart !== rangeStart) return false;
      if (m.minLength !== undefined && (rangeLength === undefined || rangeLength < m.minLength)) return false;
      return true;
    });
    if (fault) fault.times = (fault.times ?? 1) - 1;
    return fault;
  }
}

/** Deterministic pseudo-random content (fast, no entropy needed). */
export function content(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  for (; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

export const MiB = 1024 * 1024;

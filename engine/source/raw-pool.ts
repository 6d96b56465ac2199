/**
 * Kept-alive connections for the raw range client (raw-range.ts): one pool per (host, port), each
 * connection carrying answer after answer, the next request written before the current body ends
 * (HTTP/1.1 answers come in request order). A body goes socket -> crc32 -> task file through
 * addon.receiveToFileKeepAlive, which leaves the socket for the next answer, so a piece costs one
 * native transfer and one JS callback instead of a connection and a thread.
 *
 * A request waiting behind another on a connection that then breaks or turns out not to keep
 * alive (`connection: close`, HTTP/1.0, a body without Content-Length, an end after the answer) is
 * sent again once on a new connection: a GET that was never answered may be repeated. Errors of a
 * request's own connection are those of requestRange, so callers map both alike.
 *
 * With `tls` every connection is a TLS client socket. Its plaintext exists only in JS, so heads are
 * read from 'data' events instead of libuv's `onread`, and the addon's receives, finding no plain
 * fd, move bodies through their JS twin (addon/native.ts): the same answers, one JS copy more.
 */
import net from 'node:net';
import tls from 'node:tls';
import { SourceProtocolError, SourceTimeoutError, SourceUnreachableError } from '../errors.ts';
import { RAW_RANGE_DEFAULTS, parseHead, requestHead, type KeptAnswer, type RawAnswer, type RawRangeRequest } from './raw-range.ts';

export const RAW_POOL_DEFAULTS = Object.freeze({
  /** A connection with nothing to carry is closed after this long (undici's keepAliveTimeout is 4 s; origins keep 5-75 s). */
  idleMs: 4_000,
  /** Kept connections per (host, port); more requests at once wait in line on them (pipelining). */
  connectionsPerHost: 8,
  /** Requests written on one connection before the first of them is answered in full. */
  pipelining: 2,
});

export interface RawPoolOptions {
  /** Connect with TLS (https: URLs): CA, client certificate and key, server identity check. */
  tls?: tls.ConnectionOptions;
  idleMs?: number;
  connectionsPerHost?: number;
  pipelining?: number;
}

interface Pending {
  readonly request: RawRangeRequest;
  readonly resolve: (answer: RawAnswer) => void;
  readonly reject: (error: unknown) => void;
  /** Sent again once already after a connection broke under it. */
  retried: boolean;
  settled: boolean;
  unlisten?: () => void;
}

// Where libuv reads a head into; see raw-range.ts's readBuffer for why it is small and shared.
const readBuffer = Buffer.allocUnsafe(16 * 1024);
const noop = (): void => {};

class KeptConnection {
  readonly socket: net.Socket;
  /** Written requests, oldest first; the first is being answered (head or body). */
  readonly queue: Pending[] = [];
  /** Answers taken in full on this connection. */
  answered = 0;
  reusable = true;
  #bodyOut = false;
  #connected = false;
  #head: Buffer = Buffer.alloc(0);
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #pool: RawPool;
  readonly #url: URL;

  /** A TLS connection: heads come from 'data' events (#onData), not from onread. */
  readonly #tls: boolean;
  readonly #onData = (chunk: Buffer): void => {
    if (this.#bodyOut || this.queue.length === 0) return;
    this.#head = Buffer.concat([this.#head, chunk]);
    if (!this.#parse()) return;
    // The body (and whatever follows) stays buffered in the paused stream for its reader.
    this.socket.off('data', this.#onData);
    this.socket.pause();
  };

  constructor(url: URL, pool: RawPool, tlsOptions: tls.ConnectionOptions | undefined) {
    this.#pool = pool;
    this.#url = url;
    this.#tls = tlsOptions !== undefined;
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (tlsOptions) {
      this.socket = tls.connect({ ...tlsOptions, host, port: Number(url.port || 443) });
      this.socket.setNoDelay(true);
      this.socket.pause();
    } else {
      this.socket = net.connect({
        host,
        port: Number(url.port || 80),
        noDelay: true,
        onread: { buffer: readBuffer, callback: (n, b) => this.#onRead(n, b as Buffer) },
      });
    }
    this.socket.on('error', noop);
    this.#timer = setTimeout(() => this.#broke(new SourceUnreachableError(url.href, { code: 'UND_ERR_CONNECT_TIMEOUT' }), false), RAW_RANGE_DEFAULTS.connectTimeoutMs);
    this.socket.on(tlsOptions ? 'secureConnect' : 'connect', () => {
      this.#connected = true;
      clearTimeout(this.#timer);
      for (const p of this.queue) this.socket.write(requestHead(p.request.url, p.request.headers, 'keep-alive'), 'latin1');
      if (this.queue[0]) this.#awaitHead();
    });
    this.socket.on('error', (error: NodeJS.ErrnoException) => {
      const href = this.queue[0]?.request.url.href ?? url.href;
      if (!this.#connected || error.code === 'ECONNRESET') this.#broke(new SourceUnreachableError(href, error), this.#connected);
      else this.#broke(new SourceProtocolError(`connection to ${href} broke: ${error.message}`, { cause: error }), true);
    });
    this.socket.on('end', () => this.#broke(new SourceProtocolError(`connection to ${this.queue[0]?.request.url.href ?? url.href} broke: closed before the response headers`), true));
    this.socket.on('close', () => this.#broke(new SourceProtocolError(`connection to ${url.href} closed`), true));
  }

  get idle(): boolean {
    return this.queue.length === 0 && !this.#closed;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(p: Pending): void {
    this.queue.push(p);
    clearTimeout(this.#timer);
    const signal = p.request.signal;
    if (signal) {
      const onAbort = (): void => this.#abort(p);
      signal.addEventListener('abort', onAbort, { once: true });
      p.unlisten = () => signal.removeEventListener('abort', onAbort);
    }
    if (this.#connected) this.socket.write(requestHead(p.request.url, p.request.headers, 'keep-alive'), 'latin1');
    if (this.#connected && this.queue.length === 1 && !this.#bodyOut) this.#awaitHead();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The first request in line is to be answered now: its header timeout runs from here. */
  #awaitHead(): void {
    const p = this.queue[0]!;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#broke(new SourceTimeoutError(p.request.url.href, p.request.timeoutMs), false), p.request.timeoutMs);
    // Bytes JS read past the last body (a fallback receive gives them back) come first.
    while (this.socket.readableLength > 0) {
      const chunk = this.socket.read() as Buffer | null;
      if (chunk === null) break;
      this.#head = Buffer.concat([this.#head, chunk]);
    }
    if (this.#head.length > 0 && this.#parse()) return;
    if (this.#tls) {
      this.socket.off('data', this.#onData).on('data', this.#onData);
      this.socket.resume();
      return;
    }
    const handle = (this.socket as unknown as { _handle?: { reading?: boolean; readStart?: () => number } | null })._handle;
    if (handle && handle.reading !== true && typeof handle.readStart === 'function') {
      handle.reading = true;
      handle.readStart();
    }
  }

  #onRead(nread: number, buffer: Buffer): boolean {
    // A body being read in JS (the fallback receive, an iterated body): a plain stream.
    if (this.#bodyOut || this.queue.length === 0) return this.socket.push(Buffer.from(buffer.subarray(0, nread)));
    this.#head = Buffer.concat([this.#head, buffer.subarray(0, nread)]);
    // false stops libuv reading: the body stays in the kernel for the native thread.
    return !this.#parse();
  }

  /** Parses a complete head in #head and hands the answer out; false while it is incomplete. */
  #parse(): boolean {
    const p = this.queue[0]!;
    const href = p.request.url.href;
    const end = this.#head.indexOf('\r\n\r\n', 0, 'latin1');
    if (end < 0 || end > RAW_RANGE_DEFAULTS.maxHeaderBytes) {
      if (this.#head.length > RAW_RANGE_DEFAULTS.maxHeaderBytes) {
        this.#broke(new SourceProtocolError(`origin ${href} sent more than ${RAW_RANGE_DEFAULTS.maxHeaderBytes} bytes of headers`), false);
        return true;
      }
      return false;
    }
    let parsed;
    try {
      parsed = parseHead(href, this.#head.toString('latin1', 0, end));
    } catch (error) {
      this.#broke(error, false);
      return true;
    }
    clearTimeout(this.#timer);
    const rest = this.#head.subarray(end + 4);
    const { headers, statusCode } = parsed;
    const length = headers['content-length'];
    const framed = headers['transfer-encoding'] === undefined && length !== undefined && /^\d+$/.test(length) && statusCode >= 200;
    if (!framed || parsed.httpVersion !== '1.1' || /(^|,)\s*close\s*(,|$)/i.test(headers['connection'] ?? '')) this.reusable = false;
    const bodyLength = framed ? Number(length) : rest.length;
    this.#head = Buffer.from(rest.subarray(bodyLength));
    this.#bodyOut = true;
    this.#pool.learned(this.#url, this.reusable);
    p.settled = true;
    p.unlisten?.();
    const kept: KeptAnswer | undefined = this.reusable ? { done: () => this.#bodyDone() } : undefined;
    p.resolve({ url: href, statusCode, headers, prefix: rest.subarray(0, bodyLength), socket: this.socket, kept });
    return true;
  }

  /** The reader took the whole body and left the socket open: the next answer, or idle. */
  #bodyDone(): void {
    this.#bodyOut = false;
    this.queue.shift();
    this.answered++;
    if (this.socket.destroyed || !this.reusable) {
      this.#broke(new SourceProtocolError(`connection to ${this.#url.href} is not kept alive`), true);
      return;
    }
    if (this.queue.length > 0) this.#awaitHead();
    else this.#pool.idle(this);
    this.#pool.pump(this.#url);
  }

  #abort(p: Pending): void {
    if (p.settled) return;
    p.settled = true;
    p.reject(p.request.signal?.reason);
    // Its answer will still come and nobody would read it: this connection ends with it.
    this.reusable = false;
    if (this.queue[0] === p && !this.#bodyOut) this.#broke(p.request.signal?.reason, true);
  }

  /**
   * The connection is done for. `retryable`: requests that were only waiting are sent again
   * (once each); a request whose own answer failed gets `error`, as requestRange would give it.
   */
  #broke(error: unknown, retryable: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.socket.destroy();
    const waiting = this.queue.splice(0).filter((p) => !p.settled);
    this.#pool.remove(this);
    for (const [i, p] of waiting.entries()) {
      p.unlisten?.();
      // The first in line on a fresh connection failed on its own account.
      const own = i === 0 && this.answered === 0 && !this.#bodyOut && !retryable;
      if (!own && (retryable || i > 0) && !p.retried) {
        p.retried = true;
        this.#pool.dispatch(p);
      } else {
        p.settled = true;
        p.reject(error);
      }
    }
  }
}

/** Kept-alive raw connections per (host, port); close() ends them all. */
export class RawPool {
  readonly #hosts = new Map<string, KeptConnection[]>();
  readonly #idleTimers = new Map<KeptConnection, NodeJS.Timeout>();
  /** Requests waiting for a connection slot, per host, when every connection is full. */
  readonly #waiting = new Map<string, Pending[]>();
  /** Hosts seen answering without keep-alive: callers may prefer another client for them. */
  readonly #noKeepAlive = new Set<string>();
  readonly #idleMs: number;
  readonly #tls: tls.ConnectionOptions | undefined;
  readonly #perHost: number;
  readonly #pipelining: number;
  #closed = false;

  constructor(options: RawPoolOptions = {}) {
    this.#idleMs = options.idleMs ?? RAW_POOL_DEFAULTS.idleMs;
    this.#tls = options.tls;
    this.#perHost = options.connectionsPerHost ?? RAW_POOL_DEFAULTS.connectionsPerHost;
    this.#pipelining = options.pipelining ?? RAW_POOL_DEFAULTS.pipelining;
  }

  /** One GET on a kept connection; resolves with the head, body left in the socket (RawAnswer). */
  request(request: RawRangeRequest): Promise<RawAnswer> {
    return new Promise<RawAnswer>((resolve, reject) => {
      if (request.signal?.aborted) return reject(request.signal.reason);
      if (this.#closed) return reject(new SourceUnreachableError(request.url.href, { code: 'UND_ERR_CLOSED' }));
      this.dispatch({ request, resolve, reject, retried: false, settled: false });
    });
  }

  /** False once this host answered without keep-alive. */
  keepsAlive(url: URL): boolean {
    return !this.#noKeepAlive.has(url.host);
  }

  /** Open connections to `url`'s host (for tests and metrics). */
  connections(url: URL): number {
    return this.#hosts.get(url.host)?.length ?? 0;
  }

  dispatch(p: Pending): void {
    const url = p.request.url;
    const list = this.#hosts.get(url.host) ?? [];
    this.#hosts.set(url.host, list);
    let conn = list.find((c) => c.idle);
    if (!conn && list.length >= this.#perHost) {
      // All busy: wait in line where a connection already proved it keeps alive.
      const lines = list.filter((c) => c.reusable && c.answered > 0 && c.queue.length < this.#pipelining && !c.closed);
      conn = lines.sort((a, b) => a.queue.length - b.queue.length)[0];
    }
    if (!conn && list.length >= this.#perHost) {
      const line = this.#waiting.get(url.host) ?? [];
      this.#waiting.set(url.host, line);
      line.push(p);
      const signal = p.request.signal;
      if (signal) {
        const onAbort = (): void => {
          const at = line.indexOf(p);
          if (at >= 0) line.splice(at, 1);
          p.settled = true;
          p.reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        p.unlisten = () => signal.removeEventListener('abort', onAbort);
      }
      return;
    }
    if (!conn) {
      conn = new KeptConnection(url, this, this.#tls);
      list.push(conn);
    }
    clearTimeout(this.#idleTimers.get(conn));
    this.#idleTimers.delete(conn);
    conn.send(p);
  }

  /** A connection has room again: the longest-waiting request of that host goes out. */
  pump(url: URL): void {
    const line = this.#waiting.get(url.host);
    while (line && line.length > 0) {
      const list = this.#hosts.get(url.host) ?? [];
      const free = list.length < this.#perHost || list.some((c) => c.idle || (c.reusable && c.answered > 0 && c.queue.length < this.#pipelining));
      if (!free) return;
      const p = line.shift()!;
      p.unlisten?.();
      this.dispatch(p);
    }
    if (line) this.#waiting.delete(url.host);
  }

  learned(url: URL, keepsAlive: boolean): void {
    if (keepsAlive) this.#noKeepAlive.delete(url.host);
    else this.#noKeepAlive.add(url.host);
  }

  idle(conn: KeptConnection): void {
    if (this.#closed) return conn.destroy();
    clearTimeout(this.#idleTimers.get(conn));
    const timer = setTimeout(() => conn.destroy(), this.#idleMs);
    timer.unref();
    this.#idleTimers.set(conn, timer);
  }

  remove(conn: KeptConnection): void {
    clearTimeout(this.#idleTimers.get(conn));
    this.#idleTimers.delete(conn);
    for (const [host, list] of this.#hosts) {
      const at = list.indexOf(conn);
      if (at < 0) continue;
      list.splice(at, 1);
      if (list.length === 0) this.#hosts.delete(host);
      if (!this.#closed) queueMicrotask(() => this.pump(new URL(`http://${host}`)));
    }
  }

  close(): void {
    this.#closed = true;
    for (const line of this.#waiting.values()) {
      for (const p of line.splice(0)) {
        p.unlisten?.();
        p.settled = true;
        p.reject(new SourceUnreachableError(p.request.url.href, { code: 'UND_ERR_CLOSED' }));
      }
    }
    for (const list of [...this.#hosts.values()]) for (const conn of [...list]) conn.destroy();
    this.#hosts.clear();
  }
}

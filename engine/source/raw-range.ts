/**
 * A minimal HTTP/1.1 client for the common case of a piece: one ranged GET on a connection of its
 * own (`Connection: close`, plain `http:` only), status line and headers parsed here, and the body
 * left in the socket so `addon.receiveToFile` moves it to the task file on a native thread. The
 * bytes never become JS buffers, and nothing waits for the collector. Everything unusual is for
 * the caller to hand to undici (engine/source/http-source.ts decides); this file only says what came.
 */
import net from 'node:net';
import { addon, type Addon } from '../../addon/index.ts';
import { SourceProtocolError, SourceTimeoutError, SourceUnreachableError, StorageError } from '../errors.ts';
import type { DirectBody } from './source.ts';

export const RAW_RANGE_DEFAULTS = Object.freeze({
  /** undici's default: a host that does not accept the connection in this time is unreachable. */
  connectTimeoutMs: 10_000,
  /** Status line and headers larger than this are refused (undici's default is 16 KiB). */
  maxHeaderBytes: 64 * 1024,
});

/** The one addon call the direct path needs; tests pass the fallback to run both. */
export type ReceiveToFile = Addon['receiveToFile'];

/**
 * The receiveToFile the direct path uses by default: the native addon's when it is loaded, else
 * false (the JS fallback would only move the same buffers through JS: undici does that better).
 */
export function nativeReceiveToFile(): ReceiveToFile | false {
  return addon.kind === 'native' && addon.receiveToFile;
}

/** The addon's receive that leaves the socket open for the next answer (raw-pool.ts), when native. */
export function nativeReceiveToFileKeepAlive(): ReceiveToFile | false {
  return addon.kind === 'native' && addon.receiveToFileKeepAlive;
}

export interface RawRangeRequest {
  readonly url: URL;
  /** Lower-case names: the caller's headers with range / if-range; Host and Connection are added. */
  readonly headers: Readonly<Record<string, string>>;
  /** No response headers, or no body bytes, for this long fails the request. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

export interface RawAnswer {
  readonly url: string;
  readonly statusCode: number;
  /** Lower-case names; repeated headers joined with ', ' as undici's answers are flattened. */
  readonly headers: Record<string, string>;
  /** Body bytes that arrived with the headers. */
  readonly prefix: Buffer;
  /** Paused. Whoever takes the answer destroys it or hands it to a RawRangeBody. */
  readonly socket: net.Socket;
  /** Set on a kept-alive connection (raw-pool.ts) that may carry another answer after this body. */
  readonly kept?: KeptAnswer | undefined;
}

/** How a reader gives a kept-alive connection back once it took exactly the body and left the socket open. */
export interface KeptAnswer {
  done(): void;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values may not carry CR, LF or NUL (header injection), nor anything that is not latin1.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** Framing and hop-by-hop headers this client sets itself, or that undici refuses to send. */
const RESERVED = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade', 'expect', 'te']);
const noop = (): void => {};

/** False when these headers are for undici to send (or refuse): nothing is then sent from here. */
export function canSendRaw(headers: Readonly<Record<string, string>>): boolean {
  return Object.entries(headers).every(([name, value]) => TOKEN.test(name) && FIELD_VALUE.test(value) && !RESERVED.has(name));
}

export function requestHead(url: URL, headers: Readonly<Record<string, string>>, connection: 'close' | 'keep-alive' = 'close'): string {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`];
  if (headers.host === undefined) lines.push(`host: ${url.host}`);
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  lines.push(`connection: ${connection}`, '', '');
  return lines.join('\r\n');
}

export function parseHead(url: string, head: string): { statusCode: number; headers: Record<string, string>; httpVersion: string } {
  const lines = head.split('\r\n');
  const status = /^HTTP\/(1\.[01]) (\d{3})(?: [^\r\n]*)?$/.exec(lines[0] ?? '');
  if (!status) throw new SourceProtocolError(`origin ${url} sent a malformed status line: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    // Obsolete line folding and lines without a name are refused, as undici's parser does.
    if (colon <= 0 || !TOKEN.test(name)) throw new SourceProtocolError(`origin ${url} sent a malformed header line: ${JSON.stringify(line.slice(0, 80))}`);
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { statusCode: Number(status[2]), headers, httpVersion: status[1]! };
}

/**
 * Where libuv reads into, shared by every raw connection: reads run one at a time on this thread
 * and each callback copies out what it keeps. Small on purpose: a piece's first read is all that
 * ever lands in JS on the direct path, and a 64 KiB read per piece (Node's default) would leave
 * 16 MB of buffers per GiB for the collector.
 */
const readBuffer = Buffer.allocUnsafe(16 * 1024);

/**
 * Sends one GET and resolves once the status line and headers are in. Errors are the engine's,
 * mapped as http-source.ts maps undici's: not connected (refused, DNS, connect timeout) is
 * SourceUnreachableError; a reset before the headers too, as undici reports ECONNRESET; an end of
 * stream or garbage before them is SourceProtocolError; no headers within `timeoutMs` is
 * SourceTimeoutError; an abort rejects with the signal's reason.
 *
 * The socket reads through `onread` into readBuffer. Once the headers are in, the callback returns
 * false, which makes Node stop libuv reading before it returns: the body stays in the kernel for
 * receiveToFile. Should anyone read on in JS (the fallback receiveToFile, iterating the body), the
 * callback pushes copies into the stream, so the socket behaves as any other.
 */
export function requestRange(request: RawRangeRequest): Promise<RawAnswer> {
  const { url, signal, timeoutMs } = request;
  const href = url.href;
  return new Promise<RawAnswer>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let connected = false;
    let settled = false;
    let head: Buffer = Buffer.alloc(0);
    const onRead = (nread: number, buffer: Buffer): boolean => {
      // After the headers: a plain stream from here on, for whoever reads in JS.
      if (settled) return socket.push(Buffer.from(buffer.subarray(0, nread)));
      // Search from just before the new bytes: the blank line may straddle two reads.
      const from = Math.max(0, head.length - 3);
      head = Buffer.concat([head, buffer.subarray(0, nread)]);
      const end = head.indexOf('\r\n\r\n', from, 'latin1');
      if (end < 0 || end > RAW_RANGE_DEFAULTS.maxHeaderBytes) {
        if (head.length > RAW_RANGE_DEFAULTS.maxHeaderBytes) {
          fail(new SourceProtocolError(`origin ${href} sent more than ${RAW_RANGE_DEFAULTS.maxHeaderBytes} bytes of headers`));
          return false;
        }
        return true;
      }
      let parsed;
      try {
        parsed = parseHead(href, head.toString('latin1', 0, end));
      } catch (error) {
        fail(error);
        return false;
      }
      done();
      resolve({ url: href, statusCode: parsed.statusCode, headers: parsed.headers, prefix: head.subarray(end + 4), socket });
      return false;
    };
    const socket = net.connect({
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(url.port || 80),
      noDelay: true,
      onread: { buffer: readBuffer, callback: onRead },
    });
    // Stays for the socket's life: a reset nobody listens for would crash the process.
    socket.on('error', noop);
    const done = (): void => {
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect).off('end', onEnd).off('error', onError);
    };
    const fail = (error: unknown): void => {
      if (settled) return;
      done();
      socket.destroy();
      reject(error);
    };
    let timer = setTimeout(() => fail(new SourceUnreachableError(href, { code: 'UND_ERR_CONNECT_TIMEOUT' })), RAW_RANGE_DEFAULTS.connectTimeoutMs);
    const onAbort = (): void => fail(signal?.reason);
    const onConnect = (): void => {
      connected = true;
      clearTimeout(timer);
      timer = setTimeout(() => fail(new SourceTimeoutError(href, timeoutMs)), timeoutMs);
      socket.write(requestHead(url, request.headers), 'latin1');
    };
    const onError = (error: NodeJS.ErrnoException): void => {
      if (!connected || error.code === 'ECONNRESET') fail(new SourceUnreachableError(href, error));
      else fail(new SourceProtocolError(`connection to ${href} broke: ${error.message}`, { cause: error }));
    };
    const onEnd = (): void => fail(new SourceProtocolError(`connection to ${href} broke: closed before the response headers`));
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', onConnect).on('end', onEnd).on('error', onError);
  });
}

/**
 * An answer whose body this client can take as it is: the expected status (206 for an origin's
 * range, 200 for a parent's piece server), exact Content-Length, no transfer coding.
 */
export function isPlainBody(answer: RawAnswer, length: number, status: 200 | 206 = 206): boolean {
  return answer.statusCode === status && answer.headers['transfer-encoding'] === undefined && answer.headers['content-length'] === String(length);
}

/**
 * One piece's body still in its socket. receiveInto moves it with the addon; iterating it streams
 * it through JS instead (for code that only knows streams). Either way the socket is destroyed
 * after, and a body nobody takes is destroyed after `timeoutMs`.
 */
export class RawRangeBody implements DirectBody, AsyncIterable<Uint8Array> {
  readonly #answer: RawAnswer;
  readonly #length: number;
  readonly #timeoutMs: number;
  readonly #signal: AbortSignal | undefined;
  readonly #receive: ReceiveToFile;
  readonly #receiveKeepAlive: ReceiveToFile | undefined;
  #taken = false;
  readonly #onAbort = (): void => void this.#answer.socket.destroy();
  readonly #onTimeout = (): void => void this.#answer.socket.destroy();
  // The signal may outlive this body by a whole download: let go of it with the socket.
  readonly #onClose = (): void => this.#signal?.removeEventListener('abort', this.#onAbort);

  /** `receiveKeepAlive`: the addon's receiveToFileKeepAlive, used for an answer on a kept connection. */
  constructor(
    answer: RawAnswer,
    options: { length: number; timeoutMs: number; signal?: AbortSignal | undefined; receive: ReceiveToFile; receiveKeepAlive?: ReceiveToFile | undefined },
  ) {
    this.#answer = answer;
    this.#length = options.length;
    this.#timeoutMs = options.timeoutMs;
    this.#signal = options.signal;
    this.#receive = options.receive;
    this.#receiveKeepAlive = options.receiveKeepAlive;
    answer.socket.setTimeout(options.timeoutMs, this.#onTimeout);
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    answer.socket.once('close', this.#onClose);
  }

  async receiveInto(fd: number, position: number, length: number, onWritten?: (written: number) => void): Promise<{ bytes: number; crc32: number }> {
    const socket = this.#take();
    if (length !== this.#length) {
      socket.destroy();
      throw new SourceProtocolError(`${this.#answer.url}: asked to write ${length} bytes of a ${this.#length}-byte body`);
    }
    const { kept } = this.#answer;
    const keepAlive = kept !== undefined && this.#receiveKeepAlive !== undefined;
    try {
      const receive = keepAlive ? this.#receiveKeepAlive! : this.#receive;
      const got = await receive(socket, fd, position, length, this.#answer.prefix, this.#signal, this.#timeoutMs, onWritten);
      if (keepAlive && !socket.destroyed) {
        socket.off('close', this.#onClose);
        kept.done();
      }
      return got;
    } catch (error) {
      throw this.#mapError(error);
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    const socket = this.#take();
    let remaining = this.#length;
    try {
      const prefix = this.#answer.prefix.subarray(0, remaining);
      remaining -= prefix.length;
      if (prefix.length > 0) yield prefix;
      if (remaining === 0) return;
      let timedOut = false;
      socket.setTimeout(this.#timeoutMs, () => {
        timedOut = true;
        socket.destroy();
      });
      this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
      try {
        for await (const chunk of socket as AsyncIterable<Buffer>) {
          const part = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk;
          remaining -= part.length;
          yield part;
          if (remaining === 0) return;
        }
      } catch (error) {
        if (this.#signal?.aborted) throw this.#signal.reason;
        if (timedOut) throw new SourceTimeoutError(this.#answer.url, this.#timeoutMs, error);
        throw new SourceProtocolError(`connection to ${this.#answer.url} broke mid-body: ${(error as Error).message}`, { cause: error });
      }
      if (this.#signal?.aborted) throw this.#signal.reason;
      if (timedOut) throw new SourceTimeoutError(this.#answer.url, this.#timeoutMs);
      throw new SourceProtocolError(`connection to ${this.#answer.url} broke mid-body: closed after ${this.#length - remaining} of ${this.#length} bytes`);
    } finally {
      this.#signal?.removeEventListener('abort', this.#onAbort);
      socket.destroy();
    }
  }

  #take(): net.Socket {
    if (this.#taken) throw new StorageError('a piece body can be read only once');
    this.#taken = true;
    const { socket } = this.#answer;
    // From here the reader's own idle timeout and abort handling apply.
    socket.setTimeout(0);
    socket.off('timeout', this.#onTimeout);
    this.#signal?.removeEventListener('abort', this.#onAbort);
    return socket;
  }

  /** Addon errors in the engine's terms, as http-source.ts reports undici's body errors. */
  #mapError(error: unknown): unknown {
    const code = (error as { code?: unknown } | null)?.code;
    const { url } = this.#answer;
    if (this.#signal?.aborted) return this.#signal.reason;
    switch (code) {
      case 'DF_ERR_ADDON_PEER_CLOSED':
        return new SourceProtocolError(`connection to ${url} broke mid-body: ${(error as Error).message}`, { cause: error });
      case 'DF_ERR_ADDON_TIMEOUT':
        return new SourceTimeoutError(url, this.#timeoutMs, error);
      case 'DF_ERR_ADDON_IO':
        return new StorageError(`cannot write a piece of ${url} to the task file: ${(error as Error).message}`, { cause: error });
      default:
        return error;
    }
  }
}

/**
 * `http`/`https` origins through undici: stat with `Range: bytes=0-0` (presigned URLs are bound
 * to GET, so no HEAD first), pieces with Range + If-Range, redirects followed by the redirect
 * interceptor (redirect.ts) so credentials never leave for another origin, and every failure
 * mapped to an engine error.
 */
import { createRequire } from 'node:module';
import type { Dispatcher } from 'undici';
import { addon } from '../../addon/index.ts';
import {
  InvalidContentLengthError,
  SourceChangedError,
  SourceProtocolError,
  SourceStatusError,
  SourceTimeoutError,
  SourceUnreachableError,
} from '../errors.ts';
import { linkRates, type LinkRates, timedBody } from './link-rate.ts';
import { canSendRaw, isPlainBody, RawRangeBody, requestRange, type ReceiveToFile } from './raw-range.ts';
import { RawPool, type RawPoolOptions } from './raw-pool.ts';
import { REDIRECT_STATUSES, redirectInterceptor, redirectTraceOf, withoutCredentials } from './redirect.ts';
import type { ByteRange, DirectBody, ReadRequest, Source, SourceRequest, SourceStat } from './source.ts';

/**
 * undici is required on first use, not imported: whoever imports the engine only for its types,
 * errors or request checks (dfget --help, dfget through a daemon) skips its ~110 modules, about
 * 0.1 s of a short dfget's start here. It is CommonJS, so require() keeps this synchronous.
 */
let undiciModule: typeof import('undici') | undefined;
function undici(): typeof import('undici') {
  undiciModule ??= createRequire(import.meta.url)('undici') as typeof import('undici');
  return undiciModule;
}

export interface HttpSourceOptions {
  maxRedirects: number;
  redirectCacheTtlMs: number;
  /** For tests and proxies; default: a keep-alive Agent of our own. */
  dispatcher?: Dispatcher;
  /**
   * Ranged reads of `http:` URLs go socket -> task file without JS buffers (raw-range.ts), with
   * this receiveToFile. Default: the native addon's, when it is loaded and no dispatcher is given
   * (a dispatcher may be a proxy, which must see every request); false: always undici. An origin
   * whose ranges arrive slower than KEEP_ALIVE_BELOW_BYTES_PER_SECOND (link-rate.ts) gets undici's kept-alive
   * connections instead (link-rate.ts says why).
   */
  directReceive?: ReceiveToFile | false;
  /**
   * The kept-alive raw path (raw-pool.ts): with the addon's receiveToFileKeepAlive, direct ranges
   * share pipelined connections per (host, port), and slow origins take it too (one connection,
   * no JS copy); an origin that does not keep alive goes back to the rules above. Off by default.
   */
  keepAlive?: { receiveKeepAlive: ReceiveToFile; pool?: RawPoolOptions } | undefined;
  /** Measured rate per origin (`host:port`); default the process-wide `linkRates`. */
  rates?: LinkRates;
}

interface Answer {
  statusCode: number;
  headers: Record<string, string>;
  body: Dispatcher.ResponseData['body'];
  url: string;
}

export class HttpSource implements Source {
  /** The given or our own dispatcher, composed with the redirect interceptor. */
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #options: HttpSourceOptions;
  /** Original URL -> where it redirected, so later pieces skip the hop (Dragonfly caches 307s 10 min). */
  readonly #redirects = new Map<string, { target: string; expiresAt: number; dropCredentials: boolean }>();
  readonly #directReceive: ReceiveToFile | false;
  readonly #rates: LinkRates;
  readonly #pool: { raw: RawPool; receiveKeepAlive: ReceiveToFile } | undefined;

  constructor(options: HttpSourceOptions) {
    this.#options = options;
    this.#ownsDispatcher = !options.dispatcher;
    const base = options.dispatcher ?? new (undici().Agent)({ keepAliveTimeout: 30_000, connections: null });
    this.#dispatcher = base.compose(redirectInterceptor({ maxRedirects: options.maxRedirects }));
    this.#directReceive = options.directReceive ?? (!options.dispatcher && addon.kind === 'native' && addon.receiveToFile);
    this.#rates = options.rates ?? linkRates;
    if (this.#directReceive && options.keepAlive) {
      this.#pool = { raw: new RawPool(options.keepAlive.pool), receiveKeepAlive: options.keepAlive.receiveKeepAlive };
    }
  }

  async stat(request: SourceRequest): Promise<SourceStat> {
    let answer = await this.#request(request, { range: 'bytes=0-0' });
    if (answer.statusCode === 416) {
      // Empty content, or an origin that refuses this range: ask for all of it (and read none).
      discard(answer.body);
      answer = await this.#request(request, {});
    }
    try {
      if (answer.statusCode >= 400) throw new SourceStatusError(answer.url, answer.statusCode, answer.headers);
      const validator = validatorOf(answer.headers);
      if (answer.statusCode === 206) {
        const total = /^bytes\s+\d+-\d+\/(\d+)$/i.exec(answer.headers['content-range'] ?? '')?.[1];
        if (total === undefined) throw new SourceProtocolError(`origin answered 206 without a usable Content-Range for ${answer.url}`);
        return { contentLength: Number(total), rangeSupported: true, validator };
      }
      if (answer.statusCode !== 200) throw new SourceStatusError(answer.url, answer.statusCode, answer.headers);
      let length = lengthOf(answer.headers);
      if (length === undefined) length = await this.#lengthFromHead(request);
      if (length === undefined) throw new InvalidContentLengthError(request.url);
      return { contentLength: length, rangeSupported: false, validator };
    } finally {
      discard(answer.body);
    }
  }

  async read(request: ReadRequest): Promise<AsyncIterable<Uint8Array>> {
    const range = request.range;
    if (!range) return this.#readUndici(request);
    // Timed per origin (host and port), so slow links move to kept-alive connections.
    const key = new URL(request.url).host;
    const done = this.#rates.start(key);
    try {
      let body: AsyncIterable<Uint8Array> | undefined;
      if (this.#directReceive && (!this.#rates.isSlow(key) || this.#pool?.raw.keepsAlive(new URL(request.url)))) {
        body = await this.#readDirect(request, range, this.#directReceive);
      }
      return timedBody(body ?? (await this.#readUndici(request)), range.length, done);
    } catch (error) {
      done(undefined);
      throw error;
    }
  }

  async #readUndici(request: ReadRequest): Promise<AsyncIterable<Uint8Array>> {
    const answer = await this.#request(request, rangeHeaders(request));
    const error = answerError(request, answer);
    if (error) {
      discard(answer.body);
      throw error;
    }
    return mapBodyErrors(answer, request.timeoutMs);
  }

  /**
   * The piece over a connection of its own, its body left in the socket for receiveToFile. What
   * that client does not handle (redirects, other framing, https, odd headers) returns undefined:
   * the piece then goes through undici, which also gives those cases their usual errors.
   */
  async #readDirect(request: ReadRequest, range: ByteRange, receive: ReceiveToFile): Promise<(AsyncIterable<Uint8Array> & DirectBody) | undefined> {
    const { url, headers } = this.#firstHop(request, rangeHeaders(request));
    const target = new URL(url);
    if (target.protocol !== 'http:' || !canSendRaw(headers)) return undefined;
    const asked = { url: target, headers, timeoutMs: request.timeoutMs, signal: request.signal };
    const pool = this.#pool;
    const answer = pool ? await pool.raw.request(asked) : await requestRange(asked);
    if (answer.statusCode < 200 || (REDIRECT_STATUSES.has(answer.statusCode) && answer.headers.location)) {
      answer.socket.destroy();
      return undefined;
    }
    const error = answerError(request, answer);
    if (error || !isPlainBody(answer, range.length)) {
      answer.socket.destroy();
      if (error) throw error;
      return undefined;
    }
    return new RawRangeBody(answer, { length: range.length, timeoutMs: request.timeoutMs, signal: request.signal, receive, receiveKeepAlive: pool?.receiveKeepAlive });
  }

  async close(): Promise<void> {
    this.#pool?.raw.close();
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  async #lengthFromHead(request: SourceRequest): Promise<number | undefined> {
    const answer = await this.#request(request, {}, 'HEAD');
    discard(answer.body);
    return answer.statusCode < 400 ? lengthOf(answer.headers) : undefined;
  }

  /** One request, from the cached redirect target when there is one; where it ended up is cached. */
  async #request(request: SourceRequest, extra: Record<string, string>, method: 'GET' | 'HEAD' = 'GET'): Promise<Answer> {
    const { url, headers, dropCredentials } = this.#firstHop(request, extra);
    const answer = await this.#send(url, method, headers, request);
    if (answer.hops > 0) {
      this.#redirects.set(request.url, {
        target: answer.url,
        expiresAt: Date.now() + this.#options.redirectCacheTtlMs,
        dropCredentials: dropCredentials || answer.credentialsDropped,
      });
    }
    return answer;
  }

  /** Where the first request goes (a cached redirect target) and with which headers. */
  #firstHop(request: SourceRequest, extra: Record<string, string>): { url: string; headers: Record<string, string>; dropCredentials: boolean } {
    const cached = this.#redirects.get(request.url);
    const useCached = cached !== undefined && cached.expiresAt > Date.now();
    const headers = { ...lowerCaseKeys(request.headers ?? {}), ...extra };
    // Skipping the hops must not skip what they did: credentials stay behind on the first origin.
    const dropCredentials = useCached && cached.dropCredentials;
    return { url: useCached ? cached.target : request.url, headers: dropCredentials ? withoutCredentials(headers) : headers, dropCredentials };
  }

  async #send(url: string, method: 'GET' | 'HEAD', headers: Record<string, string>, request: SourceRequest): Promise<Answer & { hops: number; credentialsDropped: boolean }> {
    try {
      const parsed = new URL(url);
      const response = await this.#dispatcher.request({
        origin: parsed.origin,
        path: `${parsed.pathname}${parsed.search}`,
        method,
        headers,
        signal: request.signal,
        headersTimeout: request.timeoutMs,
        bodyTimeout: request.timeoutMs,
      });
      const trace = redirectTraceOf(response.context);
      return {
        statusCode: response.statusCode,
        headers: flatHeaders(response.headers),
        body: response.body,
        url: trace?.url ?? url,
        hops: trace?.hops ?? 0,
        credentialsDropped: trace?.credentialsDropped ?? false,
      };
    } catch (error) {
      throw mapError(error, url, request.timeoutMs);
    }
  }
}

function rangeHeaders(request: ReadRequest): Record<string, string> {
  const { range, validator } = request;
  if (!range) return {};
  const headers: Record<string, string> = { range: `bytes=${range.start}-${range.start + range.length - 1}` };
  if (validator) headers['if-range'] = validator;
  return headers;
}

/** Why an answer to a read is not the asked-for bytes, the same for undici's answers and raw ones. */
function answerError(request: ReadRequest, answer: { statusCode: number; headers: Record<string, string>; url: string }): Error | undefined {
  const range = request.range;
  const expected = range ? 206 : 200;
  if (answer.statusCode !== expected) {
    if (answer.statusCode >= 400) return new SourceStatusError(answer.url, answer.statusCode, answer.headers);
    if (range && answer.statusCode === 200 && request.validator) {
      return new SourceChangedError(request.url, `If-Range "${request.validator}" no longer matches`);
    }
    return new SourceProtocolError(`origin answered ${answer.statusCode} to a ${range ? 'range' : 'full'} request for ${answer.url}`);
  }
  if (range) {
    const match = /^bytes\s+(\d+)-(\d+)\//i.exec(answer.headers['content-range'] ?? '');
    if (!match || Number(match[1]) !== range.start || Number(match[2]) !== range.start + range.length - 1) {
      return new SourceProtocolError(
        `origin sent range "${answer.headers['content-range'] ?? ''}" for a request of bytes ${range.start}-${range.start + range.length - 1}`,
      );
    }
  }
  return undefined;
}

/**
 * Lets go of a body we will not read. undici reports a destroyed, unread body as an 'error' event
 * a tick later, which nobody would hear (the process would crash); dump() reads a small rest so
 * the connection is kept alive, and destroys a large one quietly.
 */
function discard(body: Answer['body']): void {
  void body.dump();
}

async function* mapBodyErrors(answer: Answer, timeoutMs: number): AsyncIterable<Uint8Array> {
  try {
    yield* answer.body;
  } catch (error) {
    const mapped = mapError(error, answer.url, timeoutMs);
    // The origin answered, so it was reached: a connection lost mid-body is a broken answer.
    if (mapped instanceof SourceUnreachableError) {
      throw new SourceProtocolError(`connection to ${answer.url} broke mid-body: ${(error as Error).message}`, { cause: error });
    }
    throw mapped;
  }
}

function mapError(error: unknown, url: string, timeoutMs: number): unknown {
  const undiciErrors = undici().errors;
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
    return new SourceTimeoutError(url, timeoutMs, error);
  }
  if ((error as Error)?.name === 'AbortError') return error;
  if (error instanceof undiciErrors.SocketError || (error as Error)?.message === 'other side closed') {
    return new SourceProtocolError(`connection to ${url} broke: ${(error as Error).message}`, { cause: error });
  }
  if (error instanceof undiciErrors.RequestContentLengthMismatchError || error instanceof undiciErrors.ResponseContentLengthMismatchError) {
    return new SourceProtocolError(`origin ${url} sent a body of the wrong length`, { cause: error });
  }
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|ECONNRESET|ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT)$/.test(code)) {
    return new SourceUnreachableError(url, error);
  }
  return error;
}

function flatHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined) out[key.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([key, value]) => [key.toLowerCase(), value]));
}

function lengthOf(headers: Record<string, string>): number | undefined {
  const value = headers['content-length'];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** If-Range needs a strong validator: a weak ETag would make every range request answer 200. */
function validatorOf(headers: Record<string, string>): string | undefined {
  const etag = headers.etag;
  if (etag && !etag.startsWith('W/')) return etag;
  return headers['last-modified'];
}

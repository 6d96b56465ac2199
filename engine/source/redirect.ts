/**
 * Following HTTP redirects as an undici interceptor (`dispatcher.compose(redirectInterceptor(...))`),
 * the one place where redirects are followed for origins and for the proxy's upstream requests.
 *
 * undici's own `interceptors.redirect` also strips Authorization, Cookie and Proxy-Authorization on
 * a cross-origin hop, but past its limit it hands the 3xx back as if it were the answer (or throws
 * a plain Error without a code), and it does not say where the answer finally came from. We need a
 * coded error for a loop and the final URL (the engine caches redirect targets for later pieces),
 * so this is a small interceptor of our own with the same credential rule.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { SourceProtocolError, TooManyRedirectsError } from '../errors.ts';

export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Headers that identify the user: they stay behind when a redirect leads to another origin. */
export const CREDENTIAL_HEADERS: readonly string[] = ['authorization', 'cookie', 'proxy-authorization'];

export interface RedirectOptions {
  /** Redirects followed per request; one more is a TooManyRedirectsError. */
  readonly maxRedirects: number;
}

/** Per request, next to undici's own options. */
export interface RedirectDispatchOptions {
  /** false: hand a 3xx back as the answer (a proxy relaying a client's request). Default true. */
  readonly followRedirects?: boolean;
}

/** Where the answer came from, in the answer's `context.redirect`. */
export interface RedirectTrace {
  /** The URL of the request that gave the answer. */
  readonly url: string;
  readonly hops: number;
  /** Credentials were left behind on an earlier origin. */
  readonly credentialsDropped: boolean;
}

/** The trace a redirect interceptor put in an answer's context; undefined when none ran. */
export function redirectTraceOf(context: unknown): RedirectTrace | undefined {
  return (context as { redirect?: RedirectTrace } | null | undefined)?.redirect;
}

export function isCrossOrigin(from: string | URL, to: string | URL): boolean {
  return new URL(from).origin !== new URL(to).origin;
}

/** The headers without credentials, names compared case-insensitively. */
export function withoutCredentials<T extends string | string[] | undefined>(headers: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !CREDENTIAL_HEADERS.includes(name.toLowerCase())));
}

export function redirectInterceptor(options: RedirectOptions): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts, handler) => {
    const { followRedirects = true, ...rest } = opts as Dispatcher.DispatchOptions & RedirectDispatchOptions;
    if (!followRedirects) return dispatch(rest, handler);
    return new RedirectHandler(dispatch, rest, handler, options.maxRedirects).start();
  };
}

type Headers = Record<string, string | string[]>;

class RedirectHandler implements Dispatcher.DispatchHandler {
  readonly #dispatch: Dispatcher.Dispatch;
  readonly #handler: Dispatcher.DispatchHandler;
  readonly #maxRedirects: number;
  readonly #startUrl: string;
  #opts: Dispatcher.DispatchOptions;
  #url: URL;
  #hops = 0;
  #credentialsDropped = false;
  /** Set while the current answer is a redirect we follow: its body is skipped. */
  #next: URL | undefined;
  /** The hop was refused: whatever the aborted answer still delivers is not the caller's. */
  #refused = false;

  constructor(dispatch: Dispatcher.Dispatch, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler, maxRedirects: number) {
    this.#dispatch = dispatch;
    this.#handler = handler;
    this.#maxRedirects = maxRedirects;
    this.#opts = { ...opts, headers: plainHeaders(opts.headers) };
    this.#url = new URL(opts.path, opts.origin);
    this.#startUrl = this.#url.href;
  }

  start(): boolean {
    return this.#dispatch(this.#opts, this);
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    const redirect: RedirectTrace = { url: this.#url.href, hops: this.#hops, credentialsDropped: this.#credentialsDropped };
    this.#handler.onRequestStart?.(controller, { ...(context as object), redirect });
  }

  onRequestUpgrade(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, socket: import('node:stream').Duplex): void {
    this.#handler.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.#next = undefined;
    const location = headers.location;
    // A request body cannot be sent twice; only a 303 (which drops it) may be followed then.
    const replayable = this.#opts.body == null || statusCode === 303;
    if (!REDIRECT_STATUSES.has(statusCode) || typeof location !== 'string' || !replayable) {
      this.#handler.onResponseStart?.(controller, statusCode, headers, statusMessage);
      return;
    }
    const error = this.#prepareHop(statusCode, location);
    if (error) {
      this.#refused = true;
      controller.abort(error);
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#next && !this.#refused) this.#handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    if (this.#refused) return;
    if (!this.#next) {
      this.#handler.onResponseEnd?.(controller, trailers);
      return;
    }
    this.#url = this.#next;
    this.#next = undefined;
    this.#dispatch(this.#opts, this);
  }

  onResponseError(controller: Dispatcher.DispatchController, error: Error): void {
    this.#handler.onResponseError?.(controller, error);
  }

  /** Readies the next request; an Error when it must not be made. */
  #prepareHop(statusCode: number, location: string): Error | undefined {
    if (this.#hops >= this.#maxRedirects) return new TooManyRedirectsError(this.#startUrl, this.#maxRedirects);
    let next: URL;
    try {
      next = new URL(location, this.#url);
    } catch (error) {
      return new SourceProtocolError(`${this.#url.href} redirected to "${location}", which is not a URL`, { cause: error });
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      return new SourceProtocolError(`${this.#url.href} redirected to a ${next.protocol} URL`);
    }
    const crossOrigin = isCrossOrigin(this.#url, next);
    const toGet = statusCode === 303 && this.#opts.method !== 'HEAD';
    // Host names the old origin (undici sets it from the new one); a 303 turns into a bodiless GET.
    const headers = Object.fromEntries(
      Object.entries(this.#opts.headers as Headers).filter(([name]) => {
        const lower = name.toLowerCase();
        if (lower === 'host') return false;
        if (toGet && lower.startsWith('content-')) return false;
        return !(crossOrigin && CREDENTIAL_HEADERS.includes(lower));
      }),
    );
    if (crossOrigin) this.#credentialsDropped = true;
    this.#hops += 1;
    this.#next = next;
    this.#opts = {
      ...this.#opts,
      origin: next.origin,
      path: `${next.pathname}${next.search}`,
      query: undefined,
      headers,
      ...(toGet ? { method: 'GET' as const, body: null } : {}),
    };
    return undefined;
  }
}

/** undici accepts headers as an object, a flat [name, value, ...] list or [name, value] pairs. */
function plainHeaders(headers: Dispatcher.DispatchOptions['headers']): Headers {
  const out: Headers = {};
  const add = (name: string, value: string | string[] | undefined): void => {
    if (value !== undefined) out[name] = value;
  };
  if (headers == null) return out;
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const [name, value] of headers as unknown as Array<[string, string]>) add(name, value);
    } else {
      for (let i = 0; i < headers.length; i += 2) add(String(headers[i]), headers[i + 1] as string);
    }
    return out;
  }
  const entries = Symbol.iterator in headers ? [...(headers as Iterable<[string, string | string[] | undefined]>)] : Object.entries(headers);
  for (const [name, value] of entries) add(name, value as string | string[] | undefined);
  return out;
}

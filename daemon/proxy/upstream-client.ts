/**
 * Requests the proxy makes on a client's behalf (manifests, pings, pass-through, the credential
 * check), through one keep-alive undici Agent. GET and HEAD redirects (registries answer blobs
 * with 307 to object storage) are followed by the engine's redirect interceptor, which leaves
 * credentials behind when a redirect leads to another origin. Other methods are relayed once,
 * body streamed, redirects untouched.
 */
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { redirectInterceptor, redirectTraceOf, TooManyRedirectsError, type RedirectDispatchOptions } from '../../engine/index.ts';
import { ERROR_TYPE_HEADER, UpstreamError } from './errors.ts';
import { relayedHeaders } from './request-headers.ts';

export interface UpstreamRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Readable | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Hand redirects back to the client instead (pass-through of non-GET methods). */
  readonly followRedirects?: boolean;
}

export interface UpstreamAnswer {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Dispatcher.ResponseData['body'];
  /** Where the answer came from, after redirects. */
  readonly url: string;
}

export class UpstreamClient {
  readonly #agent: Agent;
  readonly #dispatcher: Dispatcher;
  readonly #timeoutMs: number;

  constructor(options: { maxRedirects?: number; timeoutMs?: number } = {}) {
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#agent = new Agent({ keepAliveTimeout: 30_000, connect: { timeout: 10_000 } });
    this.#dispatcher = this.#agent.compose(redirectInterceptor({ maxRedirects: options.maxRedirects ?? 10 }));
  }

  /** The answer; a redirect loop is a TooManyRedirectsError, any other failure an UpstreamError. */
  async request(request: UpstreamRequest): Promise<UpstreamAnswer> {
    const follow = (request.followRedirects ?? true) && (request.method === 'GET' || request.method === 'HEAD');
    const parsed = new URL(request.url);
    const options: Dispatcher.RequestOptions & RedirectDispatchOptions = {
      origin: parsed.origin,
      path: `${parsed.pathname}${parsed.search}`,
      method: request.method as Dispatcher.HttpMethod,
      headers: { ...request.headers, host: parsed.host },
      body: request.body,
      signal: request.signal,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
      followRedirects: follow,
    };
    try {
      const response = await this.#dispatcher.request(options);
      const url = redirectTraceOf(response.context)?.url ?? request.url;
      return { statusCode: response.statusCode, headers: response.headers, body: response.body, url };
    } catch (error) {
      if (request.signal?.aborted || error instanceof TooManyRedirectsError) throw error;
      const code = (error as { code?: string }).code ?? '';
      throw new UpstreamError(`cannot reach ${parsed.origin}: ${code ? `${code} ` : ''}${(error as Error).message}`, { cause: error });
    }
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

/** Sends an upstream answer to the client as it is; an upstream error status is marked as the backend's. */
export async function relayAnswer(answer: UpstreamAnswer, res: ServerResponse, extraHeaders: Record<string, string> = {}): Promise<void> {
  const headers: Record<string, string | string[]> = { ...relayedHeaders(answer.headers), ...extraHeaders };
  if (answer.statusCode >= 400) headers[ERROR_TYPE_HEADER] = 'backend';
  res.writeHead(answer.statusCode, headers);
  await pipeline(answer.body, res);
}

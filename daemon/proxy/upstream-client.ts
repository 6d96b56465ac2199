/**
 * Requests the proxy makes on a client's behalf (manifests, pings, pass-through, the credential
 * check), through one keep-alive undici Agent. GET and HEAD redirects (registries answer blobs
 * with 307 to object storage) are followed here, and credentials stay behind when a redirect
 * leads to another origin. Other methods are relayed once, body streamed, redirects untouched.
 */
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import { ERROR_TYPE_HEADER, UpstreamError } from './errors.ts';
import { relayedHeaders } from './request-headers.ts';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const CREDENTIALS = ['authorization', 'cookie'];

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
  readonly #maxRedirects: number;
  readonly #timeoutMs: number;

  constructor(options: { maxRedirects?: number; timeoutMs?: number } = {}) {
    this.#maxRedirects = options.maxRedirects ?? 10;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#agent = new Agent({ keepAliveTimeout: 30_000, connect: { timeout: 10_000 } });
  }

  async request(request: UpstreamRequest): Promise<UpstreamAnswer> {
    const follow = (request.followRedirects ?? true) && (request.method === 'GET' || request.method === 'HEAD');
    let url = request.url;
    let headers = { ...request.headers };
    for (let hop = 0; ; hop++) {
      const answer = await this.#send(url, request.method, headers, request);
      const location = answer.headers.location;
      if (!follow || !REDIRECTS.has(answer.statusCode) || typeof location !== 'string') return answer;
      void answer.body.dump();
      if (hop >= this.#maxRedirects) throw new UpstreamError(`more than ${this.#maxRedirects} redirects from ${request.url}`);
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new UpstreamError(`${url} redirected to a ${next.protocol} URL`);
      if (next.origin !== new URL(url).origin) headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !CREDENTIALS.includes(name.toLowerCase())));
      url = next.href;
    }
  }

  close(): Promise<void> {
    return this.#agent.close();
  }

  async #send(url: string, method: string, headers: Record<string, string>, request: UpstreamRequest): Promise<UpstreamAnswer> {
    const parsed = new URL(url);
    try {
      const response = await this.#agent.request({
        origin: parsed.origin,
        path: `${parsed.pathname}${parsed.search}`,
        method: method as Dispatcher.HttpMethod,
        headers: { ...headers, host: parsed.host },
        body: request.body,
        signal: request.signal,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      return { statusCode: response.statusCode, headers: response.headers, body: response.body, url };
    } catch (error) {
      if (request.signal?.aborted) throw error;
      const code = (error as { code?: string }).code ?? '';
      throw new UpstreamError(`cannot reach ${parsed.origin}: ${code ? `${code} ` : ''}${(error as Error).message}`, { cause: error });
    }
  }
}

/** Sends an upstream answer to the client as it is; an upstream error status is marked as the backend's. */
export async function relayAnswer(answer: UpstreamAnswer, res: ServerResponse, extraHeaders: Record<string, string> = {}): Promise<void> {
  const headers: Record<string, string | string[]> = { ...relayedHeaders(answer.headers), ...extraHeaders };
  if (answer.statusCode >= 400) headers[ERROR_TYPE_HEADER] = 'backend';
  res.writeHead(answer.statusCode, headers);
  await pipeline(answer.body, res);
}

/**
 * The bench's HTTP client, on node:http so the clock can be read at the exact events that matter:
 * the request going out, the response headers, the first body byte, the last. Every request is
 * bounded by a timeout and the bench's abort signal.
 */
import { createHash } from 'node:crypto';
import { request, type Agent, type IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

export interface SendOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string | number>>;
  readonly body?: Buffer | Readable | undefined;
  readonly agent?: Agent | false;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request with a small body both ways (uploads stream `body`); the answer is buffered. */
export function send(url: string, options: SendOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent, signal: options.signal, timeout: options.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${url}: no answer within ${options.timeoutMs / 1000}s`)));
    req.once('error', reject);
    const body = options.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.once('error', (error) => req.destroy(error));
      body.pipe(req);
    }
  });
}

export interface BlobFetch {
  readonly status: number;
  readonly bytes: number;
  /** Hex sha256 of the body. */
  readonly sha256: string;
  /** From just before the request was made to its response headers, to the first body byte, to the end. */
  readonly headersMs: number;
  readonly firstByteMs: number;
  readonly totalMs: number;
  readonly headers: IncomingHttpHeaders;
}

/**
 * GETs a blob and hashes it on the way; the clock starts just before the request is created (so a
 * new connection's set-up counts, as it does for a runtime). A non-2xx answer is an error naming
 * the status and the start of its body.
 */
export function fetchBlob(url: string, options: Omit<SendOptions, 'method' | 'body'>): Promise<BlobFetch> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let headersMs = Number.NaN;
    let firstByteMs = Number.NaN;
    const req = request(url, { headers: options.headers, agent: options.agent, signal: options.signal, timeout: options.timeoutMs }, (res) => {
      headersMs = performance.now() - started;
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () => reject(new Error(`GET ${url} answered ${status}: ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`)));
        res.once('error', reject);
        return;
      }
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        if (bytes === 0) firstByteMs = performance.now() - started;
        bytes += chunk.byteLength;
        hash.update(chunk);
      });
      res.once('end', () => {
        if (!res.complete) reject(new Error(`GET ${url}: the body ended after ${bytes} bytes, before its Content-Length`));
        else resolve({ status, bytes, sha256: hash.digest('hex'), headersMs, firstByteMs, totalMs: performance.now() - started, headers: res.headers });
      });
      res.once('error', reject);
      res.once('aborted', () => reject(new Error(`GET ${url}: the connection closed after ${bytes} bytes`)));
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url}: idle for ${options.timeoutMs / 1000}s`)));
    req.once('error', reject);
    req.end();
  });
}

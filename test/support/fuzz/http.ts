/**
 * Malformed HTTP/1.1 requests, written as raw bytes, for the daemon's piece server, its proxy and
 * registry mirror, and the manager's REST API. Every generator keeps the machine on loopback: an
 * absolute URL, a CONNECT authority, `?ns=`, `X-Dragonfly-Registry` or a JSON body field that
 * could name another host is replaced by a loopback one (`keepLoopback`).
 */
import { isIP } from 'node:net';
import type { Rng } from './rng.ts';

export interface RawRequest {
  readonly method: string;
  readonly target: string;
  readonly version: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
  /** `\r\n`, or a bare `\n` as some broken clients send. */
  readonly eol: string;
  /** Bytes sent instead of a request (garbage, TLS, an HTTP/2 preface). */
  readonly raw?: Buffer | undefined;
  /** Close our side after sending (the server sees EOF mid-request). */
  readonly halfClose: boolean;
}

export function encodeRequest(request: RawRequest): Buffer {
  if (request.raw) return request.raw;
  const { eol } = request;
  const line = request.version === '' ? `${request.method} ${request.target}` : `${request.method} ${request.target} ${request.version}`;
  const head = [line, ...request.headers.map(([name, value]) => `${name}: ${value}`)].join(eol);
  return Buffer.concat([Buffer.from(`${head}${eol}${eol}`, 'latin1'), request.body]);
}

export function describeRequest(request: RawRequest): string {
  if (request.raw) return `raw ${request.raw.length} bytes: ${JSON.stringify(request.raw.subarray(0, 80).toString('latin1'))}`;
  const headers = request.headers.map(([n, v]) => `${n}: ${v.length > 60 ? `${v.slice(0, 60)}...(${v.length})` : v}`).join(' | ');
  return JSON.stringify(`${request.method} ${request.target.slice(0, 200)} ${request.version}`) + ` [${headers.slice(0, 300)}] body ${request.body.length}B${request.halfClose ? ' half-closed' : ''}`;
}

const LOOPBACK_AUTHORITY = /^(127\.0\.0\.1|localhost|\[::1\])(:\d*)?$/i;

/** Whether a registry address (`host[:port]`, optional scheme) could reach past loopback. */
export function leavesLoopback(value: string): boolean {
  const rest = value.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/$/, '');
  return /^[A-Za-z0-9.\-[\]:]+$/.test(rest) && !LOOPBACK_AUTHORITY.test(rest);
}

/** JSON-ish data with every IP or URL that is not loopback replaced by a loopback one. */
export function keepLoopback<T>(value: T): T {
  if (typeof value === 'string') {
    if (isIP(value) && !/^(127\.|::1$|::ffff:127\.)/.test(value)) return '127.0.0.1' as T;
    if (/:\/\//.test(value) && !/^[a-z][a-z0-9+.-]*:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/i.test(value)) return 'http://127.0.0.1:1/' as T;
    if (leavesLoopback(value) && /^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?$/i.test(value.trim())) return '127.0.0.1' as T;
    return value;
  }
  if (Array.isArray(value)) return value.map((item) => keepLoopback(item)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, keepLoopback(v)])) as T;
  }
  return value;
}

const TOKEN_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$&\'()*+,;=:@%/?#[] \t\\"<>^`{|}';

/** Path pieces that traverse, encode a traversal, or trip decoders. */
export const TRAVERSALS = [
  '..', '../..', '%2e%2e', '%2E%2e', '.%2e', '%2e.', '..%2f', '%2f..', '..%5c', '..\\..', '%252e%252e', '%c0%ae%c0%ae', '\u2025',
  '....//', '.', '%00', '%', '%zz', '%2', '//', ';', ';..', '?', '#', '~', '../../../../etc/passwd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
];

export function segment(rng: Rng): string {
  return rng.weighted<() => string>([
    [3, () => rng.pick(TRAVERSALS)],
    [2, () => rng.string(TOKEN_CHARS, rng.int(0, 12))],
    [1, () => rng.string('a', rng.pick([255, 256, 1024, 9000]))],
    [1, () => rng.bytes(rng.int(1, 8)).toString('latin1')],
    [1, () => rng.edgeNumber()],
  ])();
}

export function methodOf(rng: Rng, usual: readonly string[]): string {
  return rng.weighted<() => string>([
    [12, () => rng.pick(usual)],
    [3, () => rng.pick(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'PROPFIND', 'BREW'])],
    [1, () => rng.pick(['get', 'G E T', '', 'GET\u0000', 'GET\t', '\u00e9GET', 'X'.repeat(rng.int(20, 300))])],
    [1, () => rng.string(TOKEN_CHARS, rng.int(1, 10))],
  ])();
}

function versionOf(rng: Rng): string {
  return rng.weighted<string>([[20, 'HTTP/1.1'], [3, 'HTTP/1.0'], [1, rng.pick(['HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1x', '', 'http/1.1', 'HTTP/1', 'HTTP/1.1 extra', 'HTTP/01.01'])]]);
}

/** Range values that parsers get wrong. */
export function rangeValue(rng: Rng): string {
  const n = () => rng.weighted<string>([[4, String(rng.int(0, 5_000_000))], [1, rng.edgeNumber()]]);
  return rng.pick([
    () => `bytes=${n()}-${n()}`,
    () => `bytes=${n()}-`,
    () => `bytes=-${n()}`,
    () => `bytes=${n()}-${n()},${n()}-${n()}`,
    () => 'bytes=-',
    () => 'bytes=',
    () => `items=${n()}-${n()}`,
    () => `bytes = ${n()} - ${n()}`,
    () => `bytes=${n()}`,
    () => `BYTES=${n()}-${n()}`,
    () => `bytes=${'0-1,'.repeat(rng.int(50, 2000))}0-1`,
    () => segment(rng),
  ])();
}

/** Headers no well-behaved client sends, or sends in ways servers trip over. */
export function oddHeader(rng: Rng): [string, string] {
  return rng.pick<() => [string, string]>([
    () => ['Content-Length', rng.edgeNumber()],
    () => ['Transfer-Encoding', rng.pick(['chunked', 'gzip', 'chunked, chunked', 'identity', 'x'])],
    () => ['Expect', rng.pick(['100-continue', 'nonsense'])],
    () => ['Connection', rng.pick(['close', 'keep-alive', 'upgrade', 'Range, Host', 'x-dragonfly-registry'])],
    () => ['Upgrade', rng.pick(['websocket', 'h2c', 'HTTP/2.0'])],
    () => ['Host', rng.pick(['', '127.0.0.1', '127.0.0.1:99999', 'a b', '[::1', '%00'])],
    () => ['X-Big', 'x'.repeat(rng.pick([4_000, 17_000, 70_000]))],
    () => [rng.string(TOKEN_CHARS, rng.int(0, 10)), rng.string(TOKEN_CHARS, rng.int(0, 20))],
    () => ['X-Ctl', `a${String.fromCharCode(rng.int(0, 31))}b`],
    () => ['Range', rangeValue(rng)],
    () => ['If-Range', rng.pick(['"etag"', 'Mon, 32 Foo 2024', segment(rng)])],
    () => ['Authorization', rng.pick(['Bearer', 'Bearer ', 'Basic !!!', 'Basic ' + Buffer.from(':').toString('base64'), `Bearer ${rng.string(TOKEN_CHARS, 40)}`, 'Bearer a.b.c'])],
    () => ['Accept-Encoding', rng.pick(['gzip', '*', 'br;q=2'])],
  ])();
}

/** Garbage that is not an HTTP request at all. */
export function notHttp(rng: Rng): Buffer {
  return rng.pick<() => Buffer>([
    () => rng.bytes(rng.int(1, 512)),
    () => Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
    () => Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]),
    () => Buffer.from('\r\n\r\n\r\n', 'latin1'),
    () => Buffer.from(`GET / HTTP/1.1\r\n${'X: y\r\n'.repeat(rng.int(200, 3_000))}\r\n`, 'latin1'),
    () => Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n', 'latin1'),
    () => Buffer.from('GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef', 'latin1'),
    () => Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n folded: header\r\n\r\n', 'latin1'),
    () => Buffer.from(`${'GET / HTTP/1.1\r\nHost: a\r\n\r\n'.repeat(rng.int(2, 20))}`, 'latin1'),
    () => Buffer.from('GET /\u0000 HTTP/1.1\r\n\r\n', 'latin1'),
  ])();
}

export interface RequestParts {
  readonly method: string;
  readonly target: string;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly body?: Buffer;
}

/** A request around `parts`, with its framing broken now and then. */
export function frame(rng: Rng, parts: RequestParts): RawRequest {
  const headers: Array<readonly [string, string]> = [['Host', '127.0.0.1'], ...(parts.headers ?? [])];
  for (let i = rng.weighted<number>([[6, 0], [3, 1], [1, rng.int(2, 5)]]); i > 0; i--) headers.push(oddHeader(rng));
  let body = parts.body ?? Buffer.alloc(0);
  if (body.length > 0 && !headers.some(([n]) => /^(content-length|transfer-encoding)$/i.test(n))) headers.push(['Content-Length', String(body.length)]);
  if (rng.chance(0.05)) body = Buffer.concat([body, rng.bytes(rng.int(1, 200))]);
  const raw = rng.chance(0.06) ? notHttp(rng) : undefined;
  // A request that may be incomplete as framed (garbage, a length or chunking we made up) is
  // followed by EOF, so a server that waits for the rest is not counted as hanging.
  const maybeIncomplete = raw !== undefined || body.length > 0 || headers.some(([n]) => /^(content-length|transfer-encoding|expect)$/i.test(n));
  return {
    method: parts.method,
    target: parts.target,
    version: versionOf(rng),
    headers,
    body,
    eol: rng.chance(0.05) ? '\n' : '\r\n',
    raw,
    halfClose: maybeIncomplete || rng.chance(0.3),
  };
}

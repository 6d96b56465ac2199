/**
 * What the proxy answers when it cannot do what was asked. Registry clients read the OCI error
 * body (`{"errors":[{"code","message"}]}`); every answer also says whose fault it was in
 * `X-Dragonfly-Error-Type` (Dragonfly's `backend` | `proxy` | `dfdaemon`). The HTTP status always
 * comes from api's code table, one code per kind of refusal.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { DfError, statusOf, type ErrorCode } from '../../api/index.ts';

export type ErrorType = 'backend' | 'proxy' | 'dfdaemon';

/** OCI distribution error codes this mirror uses. */
export type OciErrorCode = 'NAME_INVALID' | 'NAME_UNKNOWN' | 'DIGEST_INVALID' | 'TAG_INVALID' | 'UNSUPPORTED' | 'DENIED' | 'UNAUTHORIZED' | 'BLOB_UNKNOWN';

/** The client's request is wrong or not allowed: a 4xx, and the daemon goes on. One subclass per status. */
export abstract class ProxyRequestError extends DfError {
  readonly ociCode: OciErrorCode;
  constructor(code: ErrorCode, ociCode: OciErrorCode, message: string) {
    super(code, message);
    this.ociCode = ociCode;
  }
}

/** A malformed name, digest, tag, header or URL: 400. */
export class BadProxyRequestError extends ProxyRequestError {
  constructor(ociCode: OciErrorCode, message: string) {
    super('DF_ERR_PROXY_BAD_REQUEST', ociCode, message);
    this.name = 'BadProxyRequestError';
  }
}

/** The client's address is outside `proxy.server.allowedClients`: 403. */
export class ProxyClientDeniedError extends ProxyRequestError {
  constructor(message: string) {
    super('DF_ERR_PROXY_CLIENT_DENIED', 'DENIED', message);
    this.name = 'ProxyClientDeniedError';
  }
}

/** A path that is not part of the registry API this mirror serves: 404. */
export class ProxyRouteNotFoundError extends ProxyRequestError {
  constructor(ociCode: OciErrorCode, message: string) {
    super('DF_ERR_PROXY_ROUTE_NOT_FOUND', ociCode, message);
    this.name = 'ProxyRouteNotFoundError';
  }
}

/** A method the mirror does not serve (it serves pulls only): 405. */
export class ProxyMethodNotAllowedError extends ProxyRequestError {
  constructor(message: string) {
    super('DF_ERR_PROXY_METHOD_NOT_ALLOWED', 'UNSUPPORTED', message);
    this.name = 'ProxyMethodNotAllowedError';
  }
}

/** Request headers larger than the server takes, refused by node:http before any handler: 431. */
export class ProxyHeadersTooLargeError extends ProxyRequestError {
  constructor(message: string) {
    super('DF_ERR_PROXY_HEADERS_TOO_LARGE', 'UNSUPPORTED', message);
    this.name = 'ProxyHeadersTooLargeError';
  }
}

/** No certificate could be made for an intercepted CONNECT tunnel: 502, the proxy's own fault. */
export class InterceptError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_PROXY_INTERCEPT', message, options);
    this.name = 'InterceptError';
  }
}

/** The upstream could not be reached, spoke no HTTP or redirected where we do not follow: 502, the backend's fault. */
export class UpstreamError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_UPSTREAM_FAILED', message, options);
    this.name = 'UpstreamError';
  }
}

export const ERROR_TYPE_HEADER = 'x-dragonfly-error-type';

function errorTypeOf(error: unknown): ErrorType {
  if (error instanceof ProxyRequestError || error instanceof InterceptError) return 'proxy';
  if (error instanceof UpstreamError) return 'backend';
  return 'dfdaemon';
}

/** One error answer; mid-body there is no status left, so the connection is cut instead. */
export function sendProxyError(res: ServerResponse, error: unknown, options: { head?: boolean } = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const code: OciErrorCode | 'UNKNOWN' = error instanceof ProxyRequestError ? error.ociCode : 'UNKNOWN';
  const message = error instanceof Error ? error.message : String(error);
  const body = `${JSON.stringify({ errors: [{ code, message }] })}\n`;
  res.writeHead(statusOf(error).http, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'docker-distribution-api-version': 'registry/2.0',
    [ERROR_TYPE_HEADER]: errorTypeOf(error),
  });
  res.end(options.head ? undefined : body);
}

/**
 * The same answer written straight to a socket, where node:http has no response object: a client
 * error before any handler ran, or a CONNECT refused. The connection closes after it.
 */
export function refuseSocket(socket: Socket, error: unknown, options: { body?: boolean } = {}): void {
  if (!socket.writable) return void socket.destroy();
  const status = statusOf(error).http;
  const body = options.body === false ? '' : `${error instanceof Error ? error.message : String(error)}\n`;
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    ...(body ? ['content-type: text/plain'] : []),
    `content-length: ${Buffer.byteLength(body)}`,
    `${ERROR_TYPE_HEADER}: ${errorTypeOf(error)}`,
    'connection: close',
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}

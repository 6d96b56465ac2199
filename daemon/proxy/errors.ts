/**
 * What the proxy answers when it cannot do what was asked. Registry clients read the OCI error
 * body (`{"errors":[{"code","message"}]}`); every answer also says whose fault it was in
 * `X-Dragonfly-Error-Type` (Dragonfly's `backend` | `proxy` | `dfdaemon`).
 */
import type { ServerResponse } from 'node:http';
import { DfError, statusOf } from '../../api/index.ts';

export type ErrorType = 'backend' | 'proxy' | 'dfdaemon';

/** OCI distribution error codes this mirror uses. */
export type OciErrorCode = 'NAME_INVALID' | 'NAME_UNKNOWN' | 'DIGEST_INVALID' | 'TAG_INVALID' | 'UNSUPPORTED' | 'DENIED' | 'UNAUTHORIZED' | 'BLOB_UNKNOWN';

/** The client's request is wrong or not allowed: a 4xx, and the daemon goes on. */
export class ProxyRequestError extends DfError {
  readonly ociCode: OciErrorCode;
  readonly status: number;
  constructor(ociCode: OciErrorCode, message: string, status = 400) {
    super(status === 403 ? 'DF_ERR_PERMISSION_DENIED' : status === 404 ? 'DF_ERR_NOT_FOUND' : 'DF_ERR_INVALID_ARGUMENT', message);
    this.name = 'ProxyRequestError';
    this.ociCode = ociCode;
    this.status = status;
  }
}

/** The upstream could not be reached or spoke no HTTP: 502, the backend's fault. */
export class UpstreamError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_SOURCE_UNREACHABLE', message, options);
    this.name = 'UpstreamError';
  }
}

export const ERROR_TYPE_HEADER = 'x-dragonfly-error-type';

function errorTypeOf(error: unknown): ErrorType {
  if (error instanceof ProxyRequestError) return 'proxy';
  if (error instanceof UpstreamError) return 'backend';
  return 'dfdaemon';
}

/** One error answer; mid-body there is no status left, so the connection is cut instead. */
export function sendProxyError(res: ServerResponse, error: unknown, options: { head?: boolean } = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = error instanceof ProxyRequestError ? error.status : statusOf(error).http;
  const code: OciErrorCode | 'UNKNOWN' = error instanceof ProxyRequestError ? error.ociCode : 'UNKNOWN';
  const message = error instanceof Error ? error.message : String(error);
  const body = `${JSON.stringify({ errors: [{ code, message }] })}\n`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'docker-distribution-api-version': 'registry/2.0',
    [ERROR_TYPE_HEADER]: errorTypeOf(error),
  });
  res.end(options.head ? undefined : body);
}

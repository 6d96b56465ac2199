/** Errors of the piece engine. Each has a stable `code` from api's table. */
import { DfError } from '../api/index.ts';

/** The origin answered with a status that is not success. `status` is what the origin said. */
export class SourceStatusError extends DfError {
  readonly status: number;
  readonly url: string;
  readonly headers: Record<string, string>;
  constructor(url: string, status: number, headers: Record<string, string> = {}) {
    super('DF_ERR_SOURCE_STATUS', `origin answered ${status} for ${url}`);
    this.name = 'SourceStatusError';
    this.status = status;
    this.url = url;
    this.headers = headers;
  }
  /** 5xx, 408 and 429 may pass; other 4xx will not change by asking again. */
  get retryable(): boolean {
    return this.status >= 500 || this.status === 408 || this.status === 429;
  }
}

export class SourceUnreachableError extends DfError {
  constructor(url: string, cause: unknown) {
    const reason = (cause as { code?: string })?.code ?? (cause as Error)?.message ?? String(cause);
    super('DF_ERR_SOURCE_UNREACHABLE', `cannot reach ${url}: ${reason}`, { cause });
    this.name = 'SourceUnreachableError';
  }
}

export class SourceTimeoutError extends DfError {
  constructor(url: string, timeoutMs: number, cause?: unknown) {
    super('DF_ERR_SOURCE_TIMEOUT', `origin ${url} sent nothing for ${timeoutMs} ms`, { cause });
    this.name = 'SourceTimeoutError';
  }
}

/** The origin broke the HTTP contract we rely on: short body, wrong Content-Range, reset mid-body. */
export class SourceProtocolError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_SOURCE_PROTOCOL', message, options);
    this.name = 'SourceProtocolError';
  }
}

/** Redirects went on past the limit. Not retryable: a loop redirects the same way again. */
export class TooManyRedirectsError extends DfError {
  readonly url: string;
  constructor(url: string, maxRedirects: number) {
    super('DF_ERR_TOO_MANY_REDIRECTS', `more than ${maxRedirects} redirects from ${url}`);
    this.name = 'TooManyRedirectsError';
    this.url = url;
  }
}

/** The content changed at the origin while we were downloading it (If-Range answered 200, or the length moved). */
export class SourceChangedError extends DfError {
  constructor(url: string, what: string) {
    super('DF_ERR_SOURCE_CHANGED', `content of ${url} changed during the download: ${what}`);
    this.name = 'SourceChangedError';
  }
}

export class InvalidContentLengthError extends DfError {
  constructor(url: string) {
    super('DF_ERR_INVALID_CONTENT_LENGTH', `origin did not say how long ${url} is (no Content-Length or Content-Range)`);
    this.name = 'InvalidContentLengthError';
  }
}

export class UnsupportedSchemeError extends DfError {
  constructor(url: string, known: readonly string[]) {
    super('DF_ERR_UNSUPPORTED_SCHEME', `no source for "${url}": supported schemes are ${known.join(', ')}`);
    this.name = 'UnsupportedSchemeError';
  }
}

export class TaskDigestMismatchError extends DfError {
  readonly expected: string;
  readonly actual: string;
  constructor(expected: string, actual: string) {
    super('DF_ERR_TASK_DIGEST_MISMATCH', `digest mismatch: expected ${expected}, downloaded content has ${actual}`);
    this.name = 'TaskDigestMismatchError';
    this.expected = expected;
    this.actual = actual;
  }
}

export class PieceDigestMismatchError extends DfError {
  constructor(number: number, expected: string, actual: string) {
    super('DF_ERR_PIECE_DIGEST_MISMATCH', `piece ${number} digest mismatch: expected ${expected}, got ${actual}`);
    this.name = 'PieceDigestMismatchError';
  }
}

export class StorageError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_STORAGE', message, options);
    this.name = 'StorageError';
  }
}

/** The output path cannot take the result: exists without overwrite, missing parent directory. */
export class OutputError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_OUTPUT', message, options);
    this.name = 'OutputError';
  }
}

export class AbortedError extends DfError {
  constructor(reason?: unknown) {
    super('DF_ERR_ABORTED', 'download aborted', { cause: reason });
    this.name = 'AbortedError';
  }
}

/** Errors worth another attempt at the same piece. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof SourceStatusError) return error.retryable;
  return (
    error instanceof SourceTimeoutError ||
    error instanceof SourceProtocolError ||
    error instanceof SourceUnreachableError
  );
}

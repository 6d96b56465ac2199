/** Stable codes shared by the native addon (addon/src/error.rs) and the JS fallback. */
export type AddonErrorCode =
  | 'DF_ERR_ADDON_INVALID_ARGUMENT'
  | 'DF_ERR_ADDON_RANGE_PAST_EOF'
  | 'DF_ERR_ADDON_IO'
  | 'DF_ERR_ADDON_PEER_CLOSED'
  | 'DF_ERR_ADDON_ABORTED'
  | 'DF_ERR_ADDON_TIMEOUT'
  | 'DF_ERR_ADDON_HASHER_FINISHED'
  | 'DF_ERR_ADDON_INTERNAL';

const CODES: ReadonlySet<string> = new Set<AddonErrorCode>([
  'DF_ERR_ADDON_INVALID_ARGUMENT',
  'DF_ERR_ADDON_RANGE_PAST_EOF',
  'DF_ERR_ADDON_IO',
  'DF_ERR_ADDON_PEER_CLOSED',
  'DF_ERR_ADDON_ABORTED',
  'DF_ERR_ADDON_TIMEOUT',
  'DF_ERR_ADDON_HASHER_FINISHED',
  'DF_ERR_ADDON_INTERNAL',
]);

export interface AddonErrorOptions {
  cause?: unknown;
  /** Name of the failed syscall's errno ('EBADF', 'ENOSPC', 'EPIPE'), when there was one. */
  errno?: string | undefined;
}

/** Every error either implementation throws or rejects with. Check `code`, not the message. */
export class AddonError extends Error {
  override name = 'AddonError';
  readonly code: AddonErrorCode;
  readonly errno: string | undefined;

  constructor(code: AddonErrorCode, message: string, options: AddonErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errno = options.errno;
  }
}

/** Native errors arrive as plain Errors with `code`/`errno` set by N-API; give them our class. */
export function fromNative(error: unknown, cause?: unknown): unknown {
  if (!(error instanceof Error) || error instanceof AddonError) return error;
  const { code, errno } = error as Error & { code?: unknown; errno?: unknown };
  if (typeof code !== 'string' || !CODES.has(code)) return error;
  return new AddonError(code as AddonErrorCode, error.message, {
    cause,
    errno: typeof errno === 'string' ? errno : undefined,
  });
}

/** Wraps a Node fs/net error from the fallback so both paths report the same code and errno. */
export function fromSystem(op: string, error: unknown): AddonError {
  if (error instanceof AddonError) return error;
  const errno = (error as { code?: unknown } | null)?.code;
  const name = typeof errno === 'string' ? errno : undefined;
  const peerGone = name === 'EPIPE' || name === 'ECONNRESET';
  const message = error instanceof Error ? error.message : String(error);
  return new AddonError(peerGone ? 'DF_ERR_ADDON_PEER_CLOSED' : 'DF_ERR_ADDON_IO', `${op} failed: ${message}`, {
    cause: error,
    errno: name,
  });
}

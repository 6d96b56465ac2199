/**
 * Any thrown value to a gRPC status, through the code tables: handlers hand errors to
 * `toGrpcError` and never build statuses by hand. Pure: no grpc-js import; the result is the
 * `{code, details}` shape grpc-js accepts from a callback or `call.emit('error', ...)`.
 */
import { DfError, ERROR_STATUS, GrpcStatus } from './errors.ts';

/**
 * Status codes the services need that ERROR_STATUS does not have yet. Kept in a table of their own
 * because ERROR_STATUS is frozen in errors.ts; they belong there and can move without changing any
 * caller, since both tables are looked up by code.
 */
export const EXTRA_ERROR_STATUS = Object.freeze({
  /** The request is valid but the state forbids it: an invalid state transition, a retry limit. */
  DF_ERR_FAILED_PRECONDITION: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 412 },
  DF_ERR_PERMISSION_DENIED: { grpc: GrpcStatus.PERMISSION_DENIED, http: 403 },
  DF_ERR_RESOURCE_EXHAUSTED: { grpc: GrpcStatus.RESOURCE_EXHAUSTED, http: 429 },
  DF_ERR_UNAVAILABLE: { grpc: GrpcStatus.UNAVAILABLE, http: 503 },
});

export type ExtraErrorCode = keyof typeof EXTRA_ERROR_STATUS;

/** An error whose code lives in EXTRA_ERROR_STATUS. Tests match on `code`, never on message text. */
export class StatusError extends Error {
  readonly code: ExtraErrorCode;
  constructor(code: ExtraErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'StatusError';
  }
}

export interface GrpcStatusObject {
  readonly code: number;
  readonly details: string;
}

function isGrpcCode(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 16;
}

/**
 * The gRPC status for any thrown value: DfError and StatusError by their code's table entry, a
 * value that already carries a numeric gRPC code (a grpc-js ServiceError passed through) keeps it,
 * an AbortError is CANCELLED, anything else is INTERNAL.
 */
export function grpcStatusOf(error: unknown): GrpcStatusObject {
  if (error instanceof DfError) return { code: ERROR_STATUS[error.code].grpc, details: error.message };
  if (error instanceof StatusError) return { code: EXTRA_ERROR_STATUS[error.code].grpc, details: error.message };
  if (typeof error === 'object' && error !== null) {
    const { code, details, message, name } = error as { code?: unknown; details?: unknown; message?: unknown; name?: unknown };
    if (isGrpcCode(code)) return { code, details: typeof details === 'string' ? details : String(message ?? '') };
    if (name === 'AbortError') return { code: GrpcStatus.CANCELLED, details: String(message ?? 'aborted') };
    if (typeof message === 'string') return { code: GrpcStatus.INTERNAL, details: message };
  }
  return { code: GrpcStatus.INTERNAL, details: String(error) };
}

/** An Error carrying `code` and `details` as grpc-js reads them; the original error is its cause. */
export function toGrpcError(error: unknown): Error & GrpcStatusObject {
  const status = grpcStatusOf(error);
  return Object.assign(new Error(status.details, { cause: error }), status);
}

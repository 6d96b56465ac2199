/**
 * Any thrown value to a gRPC status, through the code tables: handlers hand errors to
 * `toGrpcError` and never build statuses by hand. Pure: no grpc-js import; the result is the
 * `{code, details}` shape grpc-js accepts from a callback or `call.emit('error', ...)`.
 */
import { DfError, ERROR_STATUS, GrpcStatus } from './errors.ts';

export interface GrpcStatusObject {
  readonly code: number;
  readonly details: string;
}

function isGrpcCode(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 16;
}

/**
 * The gRPC status for any thrown value: a DfError by its code's table entry, a
 * value that already carries a numeric gRPC code (a grpc-js ServiceError passed through) keeps it,
 * an AbortError is CANCELLED, anything else is INTERNAL.
 */
export function grpcStatusOf(error: unknown): GrpcStatusObject {
  if (error instanceof DfError) return { code: ERROR_STATUS[error.code].grpc, details: error.message };
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

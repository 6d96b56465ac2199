/**
 * Error codes shared by every component, and the one table that maps them to gRPC and HTTP
 * statuses. Handlers never build statuses by hand: they look the code up here.
 */

/** gRPC status numbers (google.rpc.Code) used by the table; named so the table reads. */
export const GrpcStatus = Object.freeze({
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
  INTERNAL: 13,
});

export const ERROR_STATUS = Object.freeze({
  DF_ERR_INVALID_ARGUMENT: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  DF_ERR_INVALID_DIGEST: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  DF_ERR_INVALID_URL: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  DF_ERR_INVALID_UNIT: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  DF_ERR_NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404 },
  DF_ERR_ALREADY_EXISTS: { grpc: GrpcStatus.ALREADY_EXISTS, http: 409 },
  DF_ERR_UNSUPPORTED_SCHEME: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  DF_ERR_SOURCE_STATUS: { grpc: GrpcStatus.INTERNAL, http: 502 },
  DF_ERR_SOURCE_UNREACHABLE: { grpc: GrpcStatus.UNAVAILABLE, http: 502 },
  DF_ERR_SOURCE_TIMEOUT: { grpc: GrpcStatus.DEADLINE_EXCEEDED, http: 504 },
  DF_ERR_SOURCE_PROTOCOL: { grpc: GrpcStatus.INTERNAL, http: 502 },
  DF_ERR_SOURCE_CHANGED: { grpc: GrpcStatus.ABORTED, http: 502 },
  DF_ERR_INVALID_CONTENT_LENGTH: { grpc: GrpcStatus.INTERNAL, http: 502 },
  DF_ERR_PIECE_DIGEST_MISMATCH: { grpc: GrpcStatus.DATA_LOSS, http: 502 },
  DF_ERR_TASK_DIGEST_MISMATCH: { grpc: GrpcStatus.DATA_LOSS, http: 502 },
  DF_ERR_STORAGE: { grpc: GrpcStatus.INTERNAL, http: 500 },
  DF_ERR_OUTPUT: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409 },
  DF_ERR_ABORTED: { grpc: GrpcStatus.CANCELLED, http: 499 },
  /** The request is valid but the state forbids it: an invalid state transition, a retry limit. */
  DF_ERR_FAILED_PRECONDITION: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 412 },
  DF_ERR_PERMISSION_DENIED: { grpc: GrpcStatus.PERMISSION_DENIED, http: 403 },
  DF_ERR_RESOURCE_EXHAUSTED: { grpc: GrpcStatus.RESOURCE_EXHAUSTED, http: 429 },
  DF_ERR_UNAVAILABLE: { grpc: GrpcStatus.UNAVAILABLE, http: 503 },
  DF_ERR_INTERNAL: { grpc: GrpcStatus.INTERNAL, http: 500 },
});

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Base of every error the project throws on purpose. Tests match on `code`, never on message text. */
export class DfError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'DfError';
  }
}

export class InvalidArgumentError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_INVALID_ARGUMENT', message, options);
    this.name = 'InvalidArgumentError';
  }
}

/** The HTTP and gRPC statuses for any thrown value; unknown errors are internal. */
export function statusOf(error: unknown): { grpc: number; http: number } {
  if (error instanceof DfError) return ERROR_STATUS[error.code];
  return ERROR_STATUS.DF_ERR_INTERNAL;
}

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
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
});

/**
 * Every code, one per failure kind (fastify's FST_ERR_* way): a client, a log or a test can tell
 * a lost parent from a lost scheduler by the code alone. The generic codes (INVALID_ARGUMENT,
 * NOT_FOUND, ...) are for `InvalidArgumentError` and plain `DfError`s built at one call site.
 */
export const ERROR_STATUS = Object.freeze({
  DF_ERR_INVALID_ARGUMENT: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  DF_ERR_INVALID_DIGEST: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  DF_ERR_INVALID_URL: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  DF_ERR_INVALID_UNIT: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  /** gRPC request bytes that are not the method's protobuf message (grpc-js alone would answer INTERNAL). */
  DF_ERR_UNDECODABLE_REQUEST: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  /** A config file key has a bad value or is unknown. */
  DF_ERR_INVALID_CONFIG: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  /** A command-line flag or argument is wrong. */
  DF_ERR_USAGE: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  DF_ERR_NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404 },
  DF_ERR_ALREADY_EXISTS: { grpc: GrpcStatus.ALREADY_EXISTS, http: 409 },
  DF_ERR_UNSUPPORTED_SCHEME: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  DF_ERR_SOURCE_STATUS: { grpc: GrpcStatus.INTERNAL, http: 502 },
  DF_ERR_SOURCE_UNREACHABLE: { grpc: GrpcStatus.UNAVAILABLE, http: 502 },
  DF_ERR_SOURCE_TIMEOUT: { grpc: GrpcStatus.DEADLINE_EXCEEDED, http: 504 },
  DF_ERR_SOURCE_PROTOCOL: { grpc: GrpcStatus.INTERNAL, http: 502 },
  /** The origin's redirects went on past maxRedirects (usually a loop): asking again gives the same. */
  DF_ERR_TOO_MANY_REDIRECTS: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 502 },
  DF_ERR_SOURCE_CHANGED: { grpc: GrpcStatus.ABORTED, http: 502 },
  DF_ERR_INVALID_CONTENT_LENGTH: { grpc: GrpcStatus.INTERNAL, http: 502 },
  DF_ERR_PIECE_DIGEST_MISMATCH: { grpc: GrpcStatus.DATA_LOSS, http: 502 },
  DF_ERR_TASK_DIGEST_MISMATCH: { grpc: GrpcStatus.DATA_LOSS, http: 502 },
  DF_ERR_STORAGE: { grpc: GrpcStatus.INTERNAL, http: 500 },
  DF_ERR_OUTPUT: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409 },
  DF_ERR_ABORTED: { grpc: GrpcStatus.CANCELLED, http: 499 },
  /** The request is valid but the state forbids it (generic; specific kinds have their own code). */
  DF_ERR_FAILED_PRECONDITION: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 412 },
  DF_ERR_PERMISSION_DENIED: { grpc: GrpcStatus.PERMISSION_DENIED, http: 403 },
  DF_ERR_RESOURCE_EXHAUSTED: { grpc: GrpcStatus.RESOURCE_EXHAUSTED, http: 429 },
  DF_ERR_UNAVAILABLE: { grpc: GrpcStatus.UNAVAILABLE, http: 503 },
  DF_ERR_INTERNAL: { grpc: GrpcStatus.INTERNAL, http: 500 },
  /** A process is stopping and ends the work it was doing. */
  DF_ERR_SHUTTING_DOWN: { grpc: GrpcStatus.UNAVAILABLE, http: 503 },
  /** The caller cancelled or its connection closed before the answer was complete. */
  DF_ERR_CLIENT_GONE: { grpc: GrpcStatus.CANCELLED, http: 499 },

  // dfdaemon and dfget
  /** A port or address the daemon must listen on is taken by another process. */
  DF_ERR_ADDRESS_IN_USE: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409 },
  /** The daemon cannot start for another reason: socket of a live daemon, locked storage, bad CA. */
  DF_ERR_DAEMON_START: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 500 },
  /** A parent could not give a piece; the piece goes to another parent, so the peer is a bad gateway. */
  DF_ERR_PARENT_FAILED: { grpc: GrpcStatus.UNAVAILABLE, http: 502 },
  /** The scheduler is unreachable or broke the stream: the download goes on without it. */
  /** Pieces are missing and back-to-source is disabled (by config or by the request). */
  DF_ERR_BACK_TO_SOURCE_DISABLED: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 502 },
  DF_ERR_SCHEDULER_UNAVAILABLE: { grpc: GrpcStatus.UNAVAILABLE, http: 503 },
  DF_ERR_INVALID_TLS_CA: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  /** An existing containerd / CRI-O config file cannot be merged. */
  DF_ERR_RUNTIME_CONFIG_INVALID: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  DF_ERR_RUNTIME_CONFIG_WRITE: { grpc: GrpcStatus.INTERNAL, http: 500 },

  // proxy and registry mirror
  DF_ERR_PROXY_BAD_REQUEST: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  DF_ERR_PROXY_CLIENT_DENIED: { grpc: GrpcStatus.PERMISSION_DENIED, http: 403 },
  DF_ERR_PROXY_ROUTE_NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404 },
  DF_ERR_PROXY_METHOD_NOT_ALLOWED: { grpc: GrpcStatus.UNIMPLEMENTED, http: 405 },
  DF_ERR_PROXY_HEADERS_TOO_LARGE: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 431 },
  /** No certificate could be made for an intercepted CONNECT tunnel. */
  DF_ERR_PROXY_INTERCEPT: { grpc: GrpcStatus.INTERNAL, http: 502 },
  /** The upstream of a proxied request could not be reached, or redirected where we do not follow. */
  DF_ERR_UPSTREAM_FAILED: { grpc: GrpcStatus.UNAVAILABLE, http: 502 },

  // dfscheduler
  /** A host, task or peer the scheduler does not know. */
  DF_ERR_RESOURCE_NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404 },
  DF_ERR_PEER_EXISTS: { grpc: GrpcStatus.ALREADY_EXISTS, http: 409 },
  DF_ERR_INVALID_TRANSITION: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 412 },
  /** Scheduling gave up (retry limit, LEVEL1 priority): Dragonfly answers FailedPrecondition. */
  DF_ERR_SCHEDULE_FAILED: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 412 },
  /** LEVEL2 priority and no peer has the task: Dragonfly answers NotFound. */
  DF_ERR_NO_CANDIDATE: { grpc: GrpcStatus.NOT_FOUND, http: 404 },
  DF_ERR_SCHEDULE_ABORTED: { grpc: GrpcStatus.CANCELLED, http: 499 },

  // dfmanager: resolving an image for preheat. The registry is the upstream, so its refusals and
  // bad answers are a bad gateway; FAILED_PRECONDITION where asking again gives the same answer.
  /** The registry (or its token service) answered 401/403 after the one retry with credentials. */
  DF_ERR_PREHEAT_UNAUTHORIZED: { grpc: GrpcStatus.PERMISSION_DENIED, http: 502 },
  DF_ERR_PREHEAT_REGISTRY_UNREACHABLE: { grpc: GrpcStatus.UNAVAILABLE, http: 502 },
  DF_ERR_PREHEAT_REGISTRY_TIMEOUT: { grpc: GrpcStatus.DEADLINE_EXCEEDED, http: 504 },
  /** Any other unexpected status from the registry or its token service (5xx, 429, 3xx). */
  DF_ERR_PREHEAT_REGISTRY_STATUS: { grpc: GrpcStatus.UNAVAILABLE, http: 502 },
  /** 404: the repository, tag or digest is unknown to the registry. */
  DF_ERR_PREHEAT_IMAGE_NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404 },
  DF_ERR_PREHEAT_MANIFEST_INVALID: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 502 },
  DF_ERR_PREHEAT_MANIFEST_TOO_LARGE: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 502 },
  DF_ERR_PREHEAT_TOKEN_INVALID: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 502 },
  /** A manifest list / index has no manifest for the requested platform. */
  DF_ERR_PREHEAT_PLATFORM_NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404 },
  /** dfmanager preheat: no byte moved on any host of a layer for job.preheat.stallTimeout. */
  DF_ERR_PREHEAT_STALLED: { grpc: GrpcStatus.DEADLINE_EXCEEDED, http: 504 },
  /** dfmanager preheat: the cluster has no active scheduler to ask. */
  DF_ERR_PREHEAT_NO_SCHEDULER: { grpc: GrpcStatus.UNAVAILABLE, http: 503 },
  /** dfmanager preheat: the scheduler refused the preheat or hosts failed it. */
  DF_ERR_PREHEAT_FAILED: { grpc: GrpcStatus.UNAVAILABLE, http: 502 },
  /** dfmanager get_task / delete_task: the cluster has no active scheduler to ask. */
  DF_ERR_TASK_JOB_NO_SCHEDULER: { grpc: GrpcStatus.UNAVAILABLE, http: 503 },
  /** dfmanager get_task / delete_task: a scheduler of the cluster did not answer. */
  DF_ERR_TASK_JOB_SCHEDULER_FAILED: { grpc: GrpcStatus.UNAVAILABLE, http: 502 },

  // dfmanager: its database and its API's callers.
  /** The manager's database cannot be opened, migrated or queried. */
  DF_ERR_MANAGER_STORE: { grpc: GrpcStatus.UNAVAILABLE, http: 503 },
  /** No credentials, or credentials that are wrong, expired or revoked. */
  DF_ERR_UNAUTHENTICATED: { grpc: GrpcStatus.UNAUTHENTICATED, http: 401 },
  /** A user, cluster, token... the request names is not in the manager's database. */
  DF_ERR_RECORD_NOT_FOUND: { grpc: GrpcStatus.NOT_FOUND, http: 404 },
  /** One field of a request is invalid in a way its JSON schema cannot say (a CIDR, a regex). */
  DF_ERR_INVALID_FIELD: { grpc: GrpcStatus.INVALID_ARGUMENT, http: 400 },
  /** The change would break an invariant: delete the default cluster, demote the last root. */
  DF_ERR_MANAGER_CONFLICT: { grpc: GrpcStatus.FAILED_PRECONDITION, http: 409 },
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

/** gRPC request bytes that do not decode as the method's request message. */
export class UndecodableRequestError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_UNDECODABLE_REQUEST', message, options);
    this.name = 'UndecodableRequestError';
  }
}

/** The process is stopping; whatever was running is ended with this reason. */
export class ShuttingDownError extends DfError {
  constructor(message: string) {
    super('DF_ERR_SHUTTING_DOWN', message);
    this.name = 'ShuttingDownError';
  }
}

/** The HTTP and gRPC statuses for any thrown value; unknown errors are internal. */
export function statusOf(error: unknown): { grpc: number; http: number } {
  if (error instanceof DfError) return ERROR_STATUS[error.code];
  return ERROR_STATUS.DF_ERR_INTERNAL;
}

/** Errors of the daemon and CLIs. */
import { DfError } from '../api/index.ts';

/** A flag or argument the user gave is wrong; the message names it and what is allowed. */
export class UsageError extends DfError {
  constructor(message: string) {
    super('DF_ERR_USAGE', message);
    this.name = 'UsageError';
  }
}

/** An unknown task, or a piece the task does not have (yet). */
export class NotFoundError extends DfError {
  constructor(message: string) {
    super('DF_ERR_NOT_FOUND', message);
    this.name = 'NotFoundError';
  }
}

/** A parent could not give a piece: unreachable, refused (4xx/429) or broke mid-body. The piece goes to another parent. */
export class ParentPieceError extends DfError {
  readonly parentId: string;
  readonly status: number | undefined;
  constructor(parentId: string, message: string, options?: { status?: number | undefined; cause?: unknown }) {
    super('DF_ERR_PARENT_FAILED', `parent ${parentId}: ${message}`, { cause: options?.cause });
    this.name = 'ParentPieceError';
    this.parentId = parentId;
    this.status = options?.status;
  }
}

/** The daemon cannot start: the socket belongs to another daemon, the store is locked, the CA is unusable. */
export class DaemonStartError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_DAEMON_START', message, options);
    this.name = 'DaemonStartError';
  }
}

/** A port the daemon must listen on is taken: the message names the config key to change. */
export class AddressInUseError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_ADDRESS_IN_USE', message, options);
    this.name = 'AddressInUseError';
  }
}

/** The caller of a request went away (cancelled gRPC call, closed HTTP connection): its work stops. */
export class ClientGoneError extends DfError {
  constructor(message: string) {
    super('DF_ERR_CLIENT_GONE', message);
    this.name = 'ClientGoneError';
  }
}

/** The scheduler is unreachable, broke the stream, or did not answer in time: finish without it. */
export class SchedulerLostError extends DfError {
  readonly grpcCode: number | undefined;
  constructor(message: string, options?: { cause?: unknown; grpcCode?: number | undefined }) {
    super('DF_ERR_SCHEDULER_UNAVAILABLE', message, { cause: options?.cause });
    this.name = 'SchedulerLostError';
    this.grpcCode = options?.grpcCode;
  }
}

/** Pieces are missing, no parent can give them, and the request or config forbids the origin. */
export class BackToSourceDisabledError extends DfError {
  constructor(message: string) {
    super('DF_ERR_BACK_TO_SOURCE_DISABLED', message);
    this.name = 'BackToSourceDisabledError';
  }
}

/** Errors of the manager. Each has its own code in api's table, which gives its HTTP and gRPC status. */
import { DfError } from '../api/index.ts';

/** The database cannot be opened, migrated or queried. */
export class StoreError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_MANAGER_STORE', message, options);
    this.name = 'StoreError';
  }
}

/** A request without valid credentials: none, wrong, expired or revoked. */
export class UnauthenticatedError extends DfError {
  constructor(message: string) {
    super('DF_ERR_UNAUTHENTICATED', message);
    this.name = 'UnauthenticatedError';
  }
}

/** Valid credentials that do not allow this: a guest, a token without the scope. */
export class ForbiddenError extends DfError {
  constructor(message: string) {
    super('DF_ERR_PERMISSION_DENIED', message);
    this.name = 'ForbiddenError';
  }
}

/** A record the request names does not exist. */
export class RecordNotFoundError extends DfError {
  constructor(what: string) {
    super('DF_ERR_RECORD_NOT_FOUND', `${what} does not exist`);
    this.name = 'RecordNotFoundError';
  }
}

/** A record with this unique name exists already. */
export class RecordExistsError extends DfError {
  constructor(what: string) {
    super('DF_ERR_ALREADY_EXISTS', `${what} exists already`);
    this.name = 'RecordExistsError';
  }
}

/** Too many requests of a kind in a short time (jobs per cluster per second). */
export class RateLimitedError extends DfError {
  constructor(message: string) {
    super('DF_ERR_RESOURCE_EXHAUSTED', message);
    this.name = 'RateLimitedError';
  }
}

/** One field of a request is invalid (beyond its JSON schema); `field` names it as `body.scopes.cidrs[0]`. */
export class InvalidFieldError extends DfError {
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super('DF_ERR_INVALID_FIELD', message, options);
    this.name = 'InvalidFieldError';
    this.field = field;
  }
}

/** A change that would break an invariant of the stored state (the default cluster, the last root). */
export class ConflictError extends DfError {
  constructor(message: string) {
    super('DF_ERR_MANAGER_CONFLICT', message);
    this.name = 'ConflictError';
  }
}

/**
 * Failures of resolving an image for preheat, one class and one code each (codes and statuses in
 * api/errors.ts). Messages name the registry host and the status, never credentials or tokens.
 */
import { DfError } from '../../api/index.ts';

/** The registry or its token service refused us (401/403) after the one retry a challenge allows. */
export class PreheatUnauthorizedError extends DfError {
  readonly status: number;
  constructor(message: string, status: number) {
    super('DF_ERR_PREHEAT_UNAUTHORIZED', message);
    this.name = 'PreheatUnauthorizedError';
    this.status = status;
  }
}

export class RegistryUnreachableError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_PREHEAT_REGISTRY_UNREACHABLE', message, options);
    this.name = 'RegistryUnreachableError';
  }
}

export class RegistryTimeoutError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_PREHEAT_REGISTRY_TIMEOUT', message, options);
    this.name = 'RegistryTimeoutError';
  }
}

/** A status we have no rule for (5xx, 429, a redirect on a manifest). */
export class RegistryStatusError extends DfError {
  readonly status: number;
  constructor(message: string, status: number) {
    super('DF_ERR_PREHEAT_REGISTRY_STATUS', message);
    this.name = 'RegistryStatusError';
    this.status = status;
  }
}

export class ImageNotFoundError extends DfError {
  constructor(message: string) {
    super('DF_ERR_PREHEAT_IMAGE_NOT_FOUND', message);
    this.name = 'ImageNotFoundError';
  }
}

export class ManifestInvalidError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_PREHEAT_MANIFEST_INVALID', message, options);
    this.name = 'ManifestInvalidError';
  }
}

export class ManifestTooLargeError extends DfError {
  constructor(message: string) {
    super('DF_ERR_PREHEAT_MANIFEST_TOO_LARGE', message);
    this.name = 'ManifestTooLargeError';
  }
}

/** The token service answered 200 but without a usable `token` / `access_token`. */
export class TokenInvalidError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_PREHEAT_TOKEN_INVALID', message, options);
    this.name = 'TokenInvalidError';
  }
}

export class PlatformNotFoundError extends DfError {
  readonly available: readonly string[];
  constructor(message: string, available: readonly string[]) {
    super('DF_ERR_PREHEAT_PLATFORM_NOT_FOUND', message);
    this.name = 'PlatformNotFoundError';
    this.available = available;
  }
}

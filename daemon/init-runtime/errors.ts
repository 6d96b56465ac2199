/** Errors of `dfdaemon init-runtime` besides UsageError (a bad flag). */
import { DfError } from '../../api/index.ts';

/** An existing runtime config file cannot be read or merged: not TOML, or a layout we must not guess at. */
export class InvalidConfigFileError extends DfError {
  readonly file: string;
  /** 1-based line of the problem, when known. */
  readonly line: number | undefined;
  constructor(message: string, options: { file: string; line?: number | undefined; cause?: unknown }) {
    super('DF_ERR_RUNTIME_CONFIG_INVALID', message, { cause: options.cause });
    this.name = 'InvalidConfigFileError';
    this.file = options.file;
    this.line = options.line;
  }
}

/** A config file could not be read, backed up or written (permissions, a full disk, a path that is a directory). */
export class ConfigWriteError extends DfError {
  readonly file: string;
  constructor(message: string, options: { file: string; cause?: unknown }) {
    super('DF_ERR_RUNTIME_CONFIG_WRITE', message, { cause: options.cause });
    this.name = 'ConfigWriteError';
    this.file = options.file;
  }
}

/** Errors of the daemon and CLIs. */
import { DfError } from '../api/index.ts';

/** A flag or argument the user gave is wrong; the message names it and what is allowed. */
export class UsageError extends DfError {
  constructor(message: string) {
    super('DF_ERR_INVALID_ARGUMENT', message);
    this.name = 'UsageError';
  }
}

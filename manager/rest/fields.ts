/** Checks that JSON schemas cannot express (a CIDR, a regular expression), failing with the field named. */
import { InvalidArgumentError } from '../../api/index.ts';
import { InvalidFieldError } from '../errors.ts';
import { checkScopes, type ClusterScopes } from '../scopes.ts';

/**
 * `checkScopes` names the bad element at the start of its message (`body.scopes.cidrs[0]: ...`);
 * that prefix becomes the answer's `field`.
 */
export function checkedScopes(input: unknown, path: string): ClusterScopes {
  try {
    return checkScopes(input, path);
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    const field = error.message.startsWith(path) ? error.message.slice(0, error.message.indexOf(':')) : path;
    throw new InvalidFieldError(field, error.message, { cause: error });
  }
}

/** A regular expression as the schedulers will compile it (JavaScript syntax, unanchored). */
export function checkedRegex(pattern: string, field: string): string {
  try {
    new RegExp(pattern);
    return pattern;
  } catch (error) {
    throw new InvalidFieldError(field, `${field}: ${JSON.stringify(pattern)} is not a regular expression`, { cause: error });
  }
}

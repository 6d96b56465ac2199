/** Small helpers every repository shares: pages of a list and telling a unique violation apart. */

export interface Page {
  readonly limit: number;
  readonly offset: number;
}

export interface Paged<T> {
  readonly items: T[];
  readonly total: number;
}

/**
 * Whether a failed insert or update broke a UNIQUE constraint: node:sqlite says so in the message
 * (errcode 2067 SQLITE_CONSTRAINT_UNIQUE), pg in the SQLSTATE.
 */
export function isUniqueViolation(error: unknown): boolean {
  const { code, errcode, message } = (error ?? {}) as { code?: unknown; errcode?: unknown; message?: unknown };
  if (code === '23505') return true;
  if (errcode === 2067 || errcode === 1555) return true;
  return typeof message === 'string' && /UNIQUE constraint failed/.test(message);
}

/** A JSON text column back to a value; a malformed row (written by hand) reads as `fallback`. */
export function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

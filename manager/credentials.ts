/**
 * The manager's credentials, as pure functions over node:crypto: salted scrypt password hashes
 * (parameters inside the stored string, so they can be raised later without breaking old rows) and
 * personal access tokens (a recognisable prefix + 32 random bytes, kept only as sha256).
 */
import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** scrypt cost: N=2^14, r=8 (16 MiB, ~40 ms here): slow for guessing, fine for a sign-in. */
export const SCRYPT_DEFAULTS = Object.freeze({ N: 16_384, r: 8, p: 1, keyBytes: 32, saltBytes: 16 });

/** Every PAT starts with this, so secret scanners and people can tell what leaked. */
export const PAT_PREFIX = 'dfp_';
const PAT_RANDOM_BYTES = 32;
/** Characters of the token kept for lists: the prefix and 4 of its 43 random characters. */
const PAT_DISPLAY_LENGTH = PAT_PREFIX.length + 4;

function scrypt(password: string, salt: Buffer, keyBytes: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, keyBytes, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** `scrypt$N$r$p$<salt b64url>$<key b64url>`. */
export async function hashPassword(password: string): Promise<string> {
  const { N, r, p, keyBytes, saltBytes } = SCRYPT_DEFAULTS;
  const salt = randomBytes(saltBytes);
  const key = await scrypt(password, salt, keyBytes, { N, r, p, maxmem: 256 * N * r });
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `password` matches `stored`; a malformed stored string never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((value) => Number.isInteger(value) && value > 0)) return false;
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (expected.length === 0) return false;
  const key = await scrypt(password, salt, expected.length, { N, r, p, maxmem: 256 * N * r });
  return timingSafeEqual(key, expected);
}

/** A random password for the first root user: 24 base64url characters (144 bits). */
export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}

export interface NewPat {
  /** The whole token: shown once to its creator, never stored. */
  readonly token: string;
  readonly hash: string;
  /** What lists show to tell tokens apart. */
  readonly prefix: string;
}

export function hashPat(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function newPat(): NewPat {
  const token = PAT_PREFIX + randomBytes(PAT_RANDOM_BYTES).toString('base64url');
  return { token, hash: hashPat(token), prefix: token.slice(0, PAT_DISPLAY_LENGTH) };
}

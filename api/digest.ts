/** Digest strings, Dragonfly's format `alg:encoded`: `crc32:<decimal u32>`, `sha256:<hex>`, `sha512:<hex>`. */
import { DfError } from './errors.ts';

export type DigestAlgorithm = 'crc32' | 'sha256' | 'sha512';

export interface Digest {
  readonly algorithm: DigestAlgorithm;
  /** Lower-case hex for sha*, decimal for crc32. */
  readonly encoded: string;
}

const HEX_LENGTH = { sha256: 64, sha512: 128 } as const;
const MAX_U32 = 0xffff_ffff;

export class InvalidDigestError extends DfError {
  constructor(message: string) {
    super('DF_ERR_INVALID_DIGEST', message);
    this.name = 'InvalidDigestError';
  }
}

/**
 * Parses `alg:encoded`. Unlike Dragonfly, a crc32 value need not be zero-padded to 10 digits:
 * `crc32:0` is the CRC of the empty string and Dragonfly itself renders it that way.
 */
export function parseDigest(text: string): Digest {
  const colon = text.indexOf(':');
  if (colon <= 0) {
    throw new InvalidDigestError(`digest "${text}" must look like alg:value, e.g. sha256:<64 hex>`);
  }
  const algorithm = text.slice(0, colon).toLowerCase();
  const encoded = text.slice(colon + 1);
  if (algorithm === 'crc32') {
    if (!/^\d{1,10}$/.test(encoded) || Number(encoded) > MAX_U32) {
      throw new InvalidDigestError(`crc32 digest "${encoded}" must be a decimal number from 0 to ${MAX_U32}`);
    }
    return { algorithm, encoded: String(Number(encoded)) };
  }
  if (algorithm === 'sha256' || algorithm === 'sha512') {
    const want = HEX_LENGTH[algorithm];
    if (encoded.length !== want) {
      throw new InvalidDigestError(`${algorithm} digest must have ${want} hex characters, got ${encoded.length}`);
    }
    if (!/^[0-9a-fA-F]+$/.test(encoded)) {
      throw new InvalidDigestError(`${algorithm} digest "${encoded}" is not hexadecimal`);
    }
    return { algorithm, encoded: encoded.toLowerCase() };
  }
  throw new InvalidDigestError(`unsupported digest algorithm "${algorithm}": use crc32, sha256 or sha512`);
}

export function formatDigest(digest: Digest): string {
  return `${digest.algorithm}:${digest.encoded}`;
}

/** A piece digest from a crc32 value (unsigned). */
export function crc32Digest(value: number): string {
  return `crc32:${value >>> 0}`;
}

/**
 * A job's credentials at rest: AES-256-GCM under one key that every replica shares through
 * `manager_secrets`, so whichever replica takes a task over can read them. The ciphertext lives in
 * `job_secrets` only while the job runs; the key alone reveals nothing once that row is gone.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { getOrCreateSecret } from '../store/secrets.ts';
import type { Database } from '../store/schema.ts';

const KEY_NAME = 'job_secrets_aes256gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** What a job may need to reach a registry or an origin. */
export interface JobCredentials {
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** The request's headers (they may carry an Authorization). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** Headers the peers must send, found while resolving (a registry token). */
  readonly resolvedHeaders?: Readonly<Record<string, string>> | undefined;
}

export class JobSecretBox {
  private readonly key: Buffer;

  private constructor(key: Buffer) {
    this.key = key;
  }

  static async open(db: Kysely<Database>, now: number): Promise<JobSecretBox> {
    const value = await getOrCreateSecret(db, KEY_NAME, () => randomBytes(32).toString('base64url'), now);
    const key = Buffer.from(value, 'base64url');
    if (key.length !== 32) throw new RangeError(`manager_secrets ${KEY_NAME} is not a 32-byte key`);
    return new JobSecretBox(key);
  }

  /** base64url of iv ‖ tag ‖ ciphertext; the job id is bound in as associated data. */
  seal(jobKey: string, credentials: JobCredentials): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(jobKey));
    const body = Buffer.concat([cipher.update(JSON.stringify(credentials), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  open(jobKey: string, sealed: string): JobCredentials {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(jobKey));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const text = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    return JSON.parse(text) as JobCredentials;
  }
}

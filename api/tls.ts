/**
 * Mutual TLS between the processes of a cluster (dfdaemon piece and upload servers, dfscheduler):
 * the config fields (Dragonfly's `caCert`, `cert`, `key`, PEM file paths) and the check of what
 * they point to. The trust rule is one CA: a peer is admitted when its certificate chains to the
 * CA, whatever address it is reached at (addresses come from announcements and may be NAT'ed), so
 * the server's name is not matched against its certificate. Pure: the caller passes the file reader.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { ConfigError, field, type OptionalStringField } from './config.ts';

/** One TLS section of a config file: all three set (mTLS on) or none (off). */
export interface TlsPaths {
  readonly caCert?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/** The schema of one TLS section; `what` names the link it secures, for the docs. */
export function tlsFields(what: string): { caCert: OptionalStringField; cert: OptionalStringField; key: OptionalStringField } {
  return {
    caCert: field.optionalString({ doc: `PEM CA certificate(s) the other side of ${what} must chain to; with cert and key, mutual TLS is on` }),
    cert: field.optionalString({ doc: `PEM certificate (chain) this process presents on ${what}, signed by caCert` }),
    key: field.optionalString({ doc: `PEM private key of cert (never logged)` }),
  };
}

const TLS_KEYS = ['caCert', 'cert', 'key'] as const;

/** True when the section turns TLS on; throws naming the missing key when only some are set. */
export function checkTlsPaths(path: string, section: TlsPaths): boolean {
  const set = TLS_KEYS.filter((key) => section[key] !== undefined);
  if (set.length === 0) return false;
  const missing = TLS_KEYS.find((key) => section[key] === undefined);
  if (missing) throw new ConfigError(`${path}.${missing}`, `is required with ${set.map((key) => `${path}.${key}`).join(' and ')} (caCert, cert and key go together)`);
  for (const key of TLS_KEYS) if (section[key] === '') throw new ConfigError(`${path}.${key}`, 'must not be empty');
  return true;
}

/**
 * A CA, a certificate and its key, read and checked. The key is kept out of JSON, `util.inspect`
 * and string conversion, so a log line or an API answer that includes this object cannot leak it.
 */
export class TlsMaterial {
  /** PEM of the CA certificate(s). */
  readonly ca: string;
  /** PEM of this process's certificate (and chain). */
  readonly cert: string;
  readonly #key: string;
  /** Where the three came from, for messages. */
  readonly source: string;

  constructor(source: string, ca: string, cert: string, key: string) {
    this.source = source;
    this.ca = ca;
    this.cert = cert;
    this.#key = key;
    Object.freeze(this);
  }

  /** PEM of the private key. Handed only to TLS contexts. */
  get key(): string {
    return this.#key;
  }

  toJSON(): { source: string; key: string } {
    return { source: this.source, key: '[redacted]' };
  }

  toString(): string {
    return `TlsMaterial(${this.source})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** Reads a file as text; rejects with the errno (ENOENT, EACCES) as `code`. */
export type ReadText = (file: string) => Promise<string>;

async function readPem(path: string, file: string, read: ReadText): Promise<string> {
  try {
    return await read(file);
  } catch (error) {
    throw new ConfigError(path, `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** Every certificate of a PEM text; throws naming the key when there is none or one is broken. */
function certificatesOf(path: string, file: string, pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(path, `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new ConfigError(path, `${file}: certificate ${i + 1} is not a valid X.509 certificate (${(error as Error).message})`);
    }
  });
}

function privateKeyOf(path: string, file: string, pem: string): KeyObject {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) throw new ConfigError(path, `${file} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`);
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem)) throw new ConfigError(path, `${file} is an encrypted private key; give it unencrypted (readable by this process only)`);
  try {
    return createPrivateKey(pem);
  } catch (error) {
    // Node's message names the format problem, never the key's bytes.
    throw new ConfigError(path, `${file} is not a valid PEM private key (${(error as Error).message})`);
  }
}

/**
 * The section's files read and checked, or undefined when the section is off. Each failure is a
 * ConfigError naming the key (`upload.server.key`) and the file, never the file's content: a file
 * that cannot be read, holds no PEM of its kind, a CA that is not a CA, a certificate that is
 * expired or not yet valid, a key that does not belong to the certificate.
 */
export async function loadTlsMaterial(path: string, section: TlsPaths, read: ReadText, now: Date = new Date()): Promise<TlsMaterial | undefined> {
  if (!checkTlsPaths(path, section)) return undefined;
  const caFile = section.caCert!;
  const certFile = section.cert!;
  const keyFile = section.key!;
  const [caPem, certPem, keyPem] = await Promise.all([readPem(`${path}.caCert`, caFile, read), readPem(`${path}.cert`, certFile, read), readPem(`${path}.key`, keyFile, read)]);
  const cas = certificatesOf(`${path}.caCert`, caFile, caPem);
  cas.forEach((ca, i) => {
    if (!ca.ca) throw new ConfigError(`${path}.caCert`, `${caFile}: certificate ${i + 1} (${ca.subject.replace(/\n/g, ', ')}) is not a CA certificate`);
  });
  const [leaf] = certificatesOf(`${path}.cert`, certFile, certPem);
  const validFrom = new Date(leaf!.validFrom);
  const validTo = new Date(leaf!.validTo);
  if (now < validFrom || now > validTo) throw new ConfigError(`${path}.cert`, `${certFile} is valid from ${leaf!.validFrom} to ${leaf!.validTo}, not now`);
  const key = privateKeyOf(`${path}.key`, keyFile, keyPem);
  if (!leaf!.checkPrivateKey(key)) throw new ConfigError(`${path}.key`, `${keyFile} is not the private key of ${path}.cert (${certFile})`);
  return new TlsMaterial(path, caPem, certPem, keyPem);
}

/**
 * Node's `checkServerIdentity` for clients of cluster peers: the chain to the CA is checked by the
 * TLS stack; the name is not (see the file comment).
 */
export function anyNameInCluster(): undefined {
  return undefined;
}

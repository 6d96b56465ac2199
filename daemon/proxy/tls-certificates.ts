/**
 * Leaf certificates for intercepted CONNECT tunnels: for each host the proxy answers TLS for, an
 * EC P-256 certificate signed by the operator's CA (`proxy.server.caCert` / `caKey`), cached per
 * host in a bounded LRU. Independent of the proxy: it only turns a CA and a host into a
 * `tls.SecureContext`.
 *
 * Node can parse certificates (crypto.X509Certificate) but not create them. The certificate is
 * encoded with @peculiar/asn1-x509 (RFC 5280 ASN.1 schemas, the layer under @peculiar/x509 and
 * pkijs) and signed with node:crypto, so any key Node reads (PKCS#1, SEC1, PKCS#8; RSA, EC,
 * Ed25519) can be the CA's. node-forge was not used: it cannot hold or sign with EC keys.
 * @peculiar/x509 2.x was not used: it needs a global Reflect-metadata polyfill loaded first.
 */
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_serverAuth,
} from '@peculiar/asn1-x509';
import { createHash, createPrivateKey, generateKeyPair, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { promisify } from 'node:util';
import { DfError, InvalidArgumentError } from '../../api/index.ts';

const generateKeyPairAsync = promisify(generateKeyPair);
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export const LEAF_CERTIFICATE_DEFAULTS = Object.freeze({
  /** Hosts whose certificate stays cached; the least recently used is dropped beyond this. */
  maxEntries: 1000,
  validityMs: 365 * DAY_MS,
  /** notBefore this far in the past, so a client whose clock is a little behind accepts it. */
  backdateMs: HOUR_MS,
  /** A cached certificate this close to its notAfter is made anew. */
  renewBeforeMs: DAY_MS,
});

export interface LeafCertificatesOptions {
  readonly maxEntries?: number;
  readonly validityMs?: number;
  /** The clock; tests may move it. */
  readonly now?: () => number;
}

/** A leaf certificate issued for one host. */
export interface IssuedCertificate {
  readonly host: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** What the TLS server sends: the leaf, then the CA file's certificates except a self-signed root. */
  readonly chainPem: string;
  readonly notAfter: Date;
  readonly secureContext: SecureContext;
}

/** Why a CA cannot be used; stable, for tests and callers that explain it. */
export type TlsCaProblem = 'unreadable' | 'not-pem' | 'encrypted-key' | 'key-mismatch' | 'not-ca' | 'expired' | 'unsupported-key';

/** The configured CA cannot sign leaf certificates; the message names the file and what is wrong. */
export class TlsCaError extends DfError {
  readonly problem: TlsCaProblem;
  constructor(problem: TlsCaProblem, message: string, options?: { cause?: unknown }) {
    super('DF_ERR_INVALID_TLS_CA', message, options);
    this.name = 'TlsCaError';
    this.problem = problem;
  }
}

/** The CA as the issuer needs it. */
interface SigningCa {
  readonly key: KeyObject;
  /** Digest for crypto.sign; null for Ed25519/Ed448, which hash internally. */
  readonly digest: string | null;
  readonly signatureAlgorithm: { readonly algorithm: string; readonly parameters?: ArrayBuffer };
  /** The CA's subject exactly as encoded in its certificate: the leaf's issuer. */
  readonly subject: Name;
  /** The CA's subject key identifier, for the leaf's authority key identifier. */
  readonly keyIdentifier: ArrayBuffer;
  readonly notAfter: Date;
  /** The CA file's certificates that are not self-signed (an intermediate CA and its issuers up to the root), sent after the leaf. */
  readonly chainPem: string;
}

const ASN1_NULL = new Uint8Array([0x05, 0x00]).buffer;
const SIGNATURE_ALGORITHMS: Readonly<Record<string, { digest: string | null; algorithm: string; parameters?: ArrayBuffer }>> = {
  rsa: { digest: 'sha256', algorithm: '1.2.840.113549.1.1.11', parameters: ASN1_NULL }, // sha256WithRSAEncryption
  'ec:prime256v1': { digest: 'sha256', algorithm: '1.2.840.10045.4.3.2' }, // ecdsa-with-SHA256
  'ec:secp384r1': { digest: 'sha384', algorithm: '1.2.840.10045.4.3.3' },
  'ec:secp521r1': { digest: 'sha512', algorithm: '1.2.840.10045.4.3.4' },
  ed25519: { digest: null, algorithm: '1.3.101.112' },
  ed448: { digest: null, algorithm: '1.3.101.113' },
};

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (error as Error).message;
    throw new TlsCaError('unreadable', `cannot read the ${what} ${path}: ${reason}`, { cause: error });
  }
}

/** A root: clients have it already, so it is not sent after the leaf. */
function isSelfSigned(certificate: X509Certificate): boolean {
  return certificate.checkIssued(certificate) && certificate.verify(certificate.publicKey);
}

/** Reads and checks the CA: PEM, a key that matches, a CA certificate that may sign and is not expired. */
async function loadSigningCa(source: { certPath: string; keyPath: string } | { certPem: string; keyPem: string }, nowMs: number): Promise<SigningCa> {
  const certName = 'certPath' in source ? `CA certificate ${source.certPath}` : 'CA certificate';
  const keyName = 'keyPath' in source ? `CA key ${source.keyPath}` : 'CA key';
  const certPem = 'certPath' in source ? await readPem(source.certPath, 'CA certificate') : source.certPem;
  const keyPem = 'keyPath' in source ? await readPem(source.keyPath, 'CA key') : source.keyPem;
  const blocks = certPem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new TlsCaError('not-pem', `${certName}: no "-----BEGIN CERTIFICATE-----" block (PEM expected)`);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(blocks[0]!);
  } catch (error) {
    throw new TlsCaError('not-pem', `${certName}: not a valid X.509 certificate: ${(error as Error).message}`, { cause: error });
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem)) throw new TlsCaError('not-pem', `${keyName}: no "-----BEGIN ... PRIVATE KEY-----" block (PEM expected)`);
  if (/ENCRYPTED/.test(keyPem)) throw new TlsCaError('encrypted-key', `${keyName}: the key is encrypted; give an unencrypted key`);
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw new TlsCaError('not-pem', `${keyName}: not a valid private key: ${(error as Error).message}`, { cause: error });
  }
  if (!certificate.checkPrivateKey(key)) throw new TlsCaError('key-mismatch', `${keyName} does not belong to ${certName} (${certificate.subject.replace(/\n/g, ', ')})`);
  const parsed = AsnConvert.parse(certificate.raw, Certificate).tbsCertificate;
  const extensionValue = (id: string) => parsed.extensions?.find((item) => item.extnID === id)?.extnValue.buffer;
  const keyUsage = extensionValue(id_ce_keyUsage);
  const maySign = keyUsage === undefined || (AsnConvert.parse(keyUsage, KeyUsage).toNumber() & KeyUsageFlags.keyCertSign) !== 0;
  if (!certificate.ca || !maySign) {
    throw new TlsCaError('not-ca', `${certName} (${certificate.subject.replace(/\n/g, ', ')}) is not a CA certificate (basicConstraints CA:TRUE and keyCertSign needed)`);
  }
  if (certificate.validToDate.getTime() <= nowMs) throw new TlsCaError('expired', `${certName} expired on ${certificate.validToDate.toISOString()}`);
  const type = key.asymmetricKeyType === 'ec' ? `ec:${key.asymmetricKeyDetails?.namedCurve}` : String(key.asymmetricKeyType);
  const algorithm = SIGNATURE_ALGORITHMS[type];
  if (!algorithm) throw new TlsCaError('unsupported-key', `${keyName}: cannot sign with a ${type} key (RSA, EC P-256/P-384/P-521, Ed25519 or Ed448 expected)`);
  const subjectKeyIdentifier = extensionValue(id_ce_subjectKeyIdentifier);
  const keyIdentifier = subjectKeyIdentifier
    ? new Uint8Array(AsnConvert.parse(subjectKeyIdentifier, SubjectKeyIdentifier).buffer).slice().buffer
    : new Uint8Array(createHash('sha1').update(new Uint8Array(parsed.subjectPublicKeyInfo.subjectPublicKey)).digest()).buffer;
  return {
    key,
    digest: algorithm.digest,
    signatureAlgorithm: { algorithm: algorithm.algorithm, ...(algorithm.parameters ? { parameters: algorithm.parameters } : {}) },
    subject: parsed.subject,
    keyIdentifier,
    notAfter: certificate.validToDate,
    chainPem: blocks
      .filter((block) => !isSelfSigned(new X509Certificate(block)))
      .map((block) => `${block}\n`)
      .join(''),
  };
}

interface CacheEntry {
  readonly issued: Promise<IssuedCertificate>;
  /** Known once issued; the entry is renewed when close to it. */
  notAfterMs: number | undefined;
}

/** The name a certificate is issued for: an IP (v4/v6, brackets dropped) or a lowercase DNS name. */
export function normalizeHost(host: string): { name: string; ip: boolean } {
  const trimmed = host.trim();
  const bracketed = /^\[(.*)\]$/.exec(trimmed);
  if (bracketed) {
    if (isIP(bracketed[1]!) === 6) return { name: bracketed[1]!.toLowerCase(), ip: true };
    throw new InvalidArgumentError(`cannot issue a certificate for ${JSON.stringify(host)}: brackets hold an IPv6 address only`);
  }
  if (isIP(trimmed) !== 0) return { name: trimmed.toLowerCase(), ip: true };
  const name = trimmed.toLowerCase().replace(/\.$/, '');
  const labels = name.split('.');
  if (name.length === 0 || name.length > 253 || !labels.every((label) => /^(\*|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)$/.test(label)) || labels.slice(1).includes('*')) {
    throw new InvalidArgumentError(`cannot issue a certificate for ${JSON.stringify(host)}: not a DNS name or IP address`);
  }
  return { name, ip: false };
}

function toPem(label: string, der: Uint8Array | ArrayBuffer): string {
  const base64 = Buffer.from(der as ArrayBuffer).toString('base64');
  return `-----BEGIN ${label}-----\n${base64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** A positive serial of 127 random bits whose DER encoding is minimal (RFC 5280: at most 20 octets). */
function randomSerial(): ArrayBuffer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return new Uint8Array(bytes).buffer;
}

/** Issues leaf certificates signed by one CA, cached per host. */
export class LeafCertificates {
  readonly #ca: SigningCa;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #maxEntries: number;
  readonly #validityMs: number;
  readonly #now: () => number;

  private constructor(ca: SigningCa, options: LeafCertificatesOptions) {
    this.#ca = ca;
    this.#maxEntries = options.maxEntries ?? LEAF_CERTIFICATE_DEFAULTS.maxEntries;
    this.#validityMs = options.validityMs ?? LEAF_CERTIFICATE_DEFAULTS.validityMs;
    this.#now = options.now ?? Date.now;
    if (!Number.isInteger(this.#maxEntries) || this.#maxEntries < 1) throw new InvalidArgumentError(`maxEntries must be a positive integer, got ${this.#maxEntries}`);
    if (!(this.#validityMs > LEAF_CERTIFICATE_DEFAULTS.renewBeforeMs)) throw new InvalidArgumentError(`validityMs must be more than a day, got ${this.#validityMs}`);
  }

  /**
   * Reads the CA certificate and key (PEM files). Throws TlsCaError (code DF_ERR_INVALID_TLS_CA,
   * `problem` says which) when a file is missing or unreadable, is not PEM, the key is encrypted or
   * does not match the certificate, the certificate is not a CA or has expired, or the key type
   * cannot sign.
   */
  static async fromFiles(certPath: string, keyPath: string, options: LeafCertificatesOptions = {}): Promise<LeafCertificates> {
    const ca = await loadSigningCa({ certPath, keyPath }, (options.now ?? Date.now)());
    return new LeafCertificates(ca, options);
  }

  /** As fromFiles, from PEM text already in memory. */
  static async fromPem(certPem: string, keyPem: string, options: LeafCertificatesOptions = {}): Promise<LeafCertificates> {
    const ca = await loadSigningCa({ certPem, keyPem }, (options.now ?? Date.now)());
    return new LeafCertificates(ca, options);
  }

  /** How many hosts have a certificate cached (or being issued). */
  get size(): number {
    return this.#cache.size;
  }

  /** A TLS context that presents a leaf certificate for `host` (a DNS name or IP, `[v6]` allowed). */
  async secureContextFor(host: string): Promise<SecureContext> {
    return (await this.certificateFor(host)).secureContext;
  }

  /** The leaf certificate for `host`, from the cache or issued now; concurrent calls share one issue. */
  certificateFor(host: string): Promise<IssuedCertificate> {
    let normalized: { name: string; ip: boolean };
    try {
      normalized = normalizeHost(host);
    } catch (error) {
      return Promise.reject(error);
    }
    const { name } = normalized;
    const cached = this.#cache.get(name);
    if (cached && (cached.notAfterMs === undefined || cached.notAfterMs - this.#now() > LEAF_CERTIFICATE_DEFAULTS.renewBeforeMs)) {
      this.#cache.delete(name); // re-insert: Map order is the LRU order
      this.#cache.set(name, cached);
      return cached.issued;
    }
    const entry: CacheEntry = { issued: this.#issue(normalized), notAfterMs: undefined };
    this.#cache.set(name, entry);
    entry.issued.then(
      (issued) => (entry.notAfterMs = issued.notAfter.getTime()),
      () => {
        if (this.#cache.get(name) === entry) this.#cache.delete(name); // a failure is not cached
      },
    );
    while (this.#cache.size > this.#maxEntries) this.#cache.delete(this.#cache.keys().next().value!);
    return entry.issued;
  }

  async #issue(host: { name: string; ip: boolean }): Promise<IssuedCertificate> {
    const { publicKey, privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
    const now = this.#now();
    const notBefore = new Date(now - LEAF_CERTIFICATE_DEFAULTS.backdateMs);
    // Never past the CA's own end: a chain with a leaf outliving its issuer is rejected by some clients.
    const notAfter = new Date(Math.min(now + this.#validityMs, this.#ca.notAfter.getTime()));
    const der = this.#encodeAndSign(host, publicKey, notBefore, notAfter);
    const certPem = toPem('CERTIFICATE', der);
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const chainPem = `${certPem}${this.#ca.chainPem}`;
    return Object.freeze({ host: host.name, certPem, keyPem, chainPem, notAfter, secureContext: createSecureContext({ cert: chainPem, key: keyPem }) });
  }

  #encodeAndSign(host: { name: string; ip: boolean }, publicKey: KeyObject, notBefore: Date, notAfter: Date): Uint8Array {
    const spki = AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
    // A CN longer than 64 characters is invalid (RFC 5280 ub-common-name): then the SAN alone names the host.
    const subject = host.name.length <= 64 ? new Name([new RelativeDistinguishedName([new AttributeTypeAndValue({ type: '2.5.4.3', value: new AttributeValue({ utf8String: host.name }) })])]) : new Name();
    const signature = new AlgorithmIdentifier(this.#ca.signatureAlgorithm);
    const extensions = [
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
      extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth])),
      extension(id_ce_subjectAltName, subject.length === 0, new SubjectAlternativeName([new GeneralName(host.ip ? { iPAddress: host.name } : { dNSName: host.name })])),
      extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest())),
      extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(this.#ca.keyIdentifier) })),
    ];
    const tbsCertificate = new TBSCertificate({
      version: Version.v3,
      serialNumber: randomSerial(),
      signature,
      issuer: this.#ca.subject,
      validity: new Validity({ notBefore, notAfter }),
      subject,
      subjectPublicKeyInfo: spki,
      extensions: new Extensions(extensions),
    });
    const tbs = new Uint8Array(AsnConvert.serialize(tbsCertificate));
    const signatureValue = sign(this.#ca.digest, tbs, this.#ca.key);
    const certificate = new Certificate({ tbsCertificate, signatureAlgorithm: signature, signatureValue: new Uint8Array(signatureValue).buffer });
    return new Uint8Array(AsnConvert.serialize(certificate));
  }
}

/**
 * Throwaway certificates for TLS tests, made by the openssl CLI (independent of the code under
 * test): a CA to configure the proxy with, a certificate that is not a CA, and a self-signed
 * server certificate for an HTTPS test origin on 127.0.0.1.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A random positive serial per certificate (-CAcreateserial shares a file that openssl calls made at once corrupt). */
const uniqueSerial = (): string => `0x01${randomBytes(15).toString('hex')}`;

export interface PemFiles {
  readonly certPem: string;
  readonly keyPem: string;
  readonly certPath: string;
  readonly keyPath: string;
}

/** `secp256k1`: a curve Node reads but TLS certificates are not signed with; for refusal tests. */
export type TestKeyType = 'ec' | 'rsa' | 'ed25519' | 'secp256k1';

export interface TestCertificateOptions {
  /** File names are `<name>.pem` and `<name>.key` in the directory; also the CN. Default `test-ca`. */
  readonly name?: string;
  readonly keyType?: TestKeyType;
  /** basicConstraints CA:TRUE with keyCertSign (default), or an end-entity certificate. */
  readonly ca?: boolean;
  /** Subject alternative names in openssl syntax, e.g. `IP:127.0.0.1`, `DNS:origin.test`. */
  readonly altNames?: readonly string[];
  readonly days?: number;
  /** `traditional` writes the key as PKCS#1 (RSA) or SEC1 (EC) instead of PKCS#8. */
  readonly keyFormat?: 'pkcs8' | 'traditional';
}

const NEW_KEY: Readonly<Record<TestKeyType, readonly string[]>> = {
  ec: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'],
  rsa: ['-newkey', 'rsa:2048'],
  ed25519: ['-newkey', 'ed25519'],
  secp256k1: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
};

/** A self-signed certificate and its unencrypted key, written to `dir`. */
export async function createTestCertificate(dir: string, options: TestCertificateOptions = {}): Promise<PemFiles> {
  const name = options.name ?? 'test-ca';
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  // A private config: the system's openssl.cnf would add extensions of its own.
  const config = join(dir, `${name}.cnf`);
  await writeFile(config, '[req]\ndistinguished_name = dn\n[dn]\n');
  const extensions =
    (options.ca ?? true)
      ? ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign']
      : ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth'];
  if (options.altNames?.length) extensions.push(`subjectAltName=${options.altNames.join(',')}`);
  await execFileAsync(
    'openssl',
    ['req', '-x509', '-config', config, ...NEW_KEY[options.keyType ?? 'ec'], '-nodes', '-keyout', keyPath, '-out', certPath, '-days', String(options.days ?? 2), '-subj', `/CN=${name}/O=dragonfly-ts tests`, ...extensions.flatMap((value) => ['-addext', value])],
    { timeout: 30_000 },
  );
  let keyPem = await readFile(keyPath, 'utf8');
  if (options.keyFormat === 'traditional') {
    const key = createPrivateKey(keyPem);
    keyPem = key.export({ type: key.asymmetricKeyType === 'rsa' ? 'pkcs1' : 'sec1', format: 'pem' }).toString();
    await writeFile(keyPath, keyPem);
  }
  return { certPem: await readFile(certPath, 'utf8'), keyPem, certPath, keyPath };
}

/** A throwaway CA (EC P-256 unless `keyType` says otherwise) in `dir`. */
export function createTestCa(dir: string, options: Omit<TestCertificateOptions, 'ca' | 'altNames'> = {}): Promise<PemFiles> {
  return createTestCertificate(dir, { ...options, ca: true });
}

/** A self-signed server certificate for an HTTPS test origin on 127.0.0.1 (IP SAN); clients trust it with `ca: certPem`. */
export function createTestServerCertificate(dir: string, options: { name?: string; ip?: string; dnsNames?: readonly string[] } = {}): Promise<PemFiles> {
  const altNames = [`IP:${options.ip ?? '127.0.0.1'}`, ...(options.dnsNames ?? []).map((name) => `DNS:${name}`)];
  return createTestCertificate(dir, { name: options.name ?? 'test-origin', ca: false, altNames });
}

/**
 * An intermediate CA signed by `root`, in `dir`; its `.pem` holds the intermediate then the root,
 * as an operator's CA file for an intermediate usually does.
 */
export async function createTestIntermediateCa(dir: string, root: PemFiles, name = 'test-intermediate-ca'): Promise<PemFiles> {
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  const config = join(dir, `${name}.cnf`);
  await writeFile(config, '[req]\ndistinguished_name = dn\n[dn]\n[ext]\nbasicConstraints = critical,CA:TRUE,pathlen:0\nkeyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n');
  await execFileAsync('openssl', ['req', '-new', '-config', config, ...NEW_KEY.ec, '-nodes', '-keyout', keyPath, '-out', csrPath, '-subj', `/CN=${name}/O=dragonfly-ts tests`], { timeout: 30_000 });
  await execFileAsync('openssl', ['x509', '-req', '-in', csrPath, '-CA', root.certPath, '-CAkey', root.keyPath, '-set_serial', uniqueSerial(), '-days', '2', '-extfile', config, '-extensions', 'ext', '-out', certPath], { timeout: 30_000 });
  const certPem = `${(await readFile(certPath, 'utf8')).trim()}\n${root.certPem.trim()}\n`;
  await writeFile(certPath, certPem);
  return { certPem, keyPem: await readFile(keyPath, 'utf8'), certPath, keyPath };
}

/**
 * An end-entity certificate signed by `ca`, for mutual TLS between cluster processes: usable as
 * server and as client (extendedKeyUsage serverAuth, clientAuth), IP SAN 127.0.0.1 by default.
 */
export async function createTestLeafCertificate(
  dir: string,
  ca: PemFiles,
  options: { name: string; altNames?: readonly string[]; days?: number } = { name: 'test-leaf' },
): Promise<PemFiles> {
  const { name } = options;
  const certPath = join(dir, `${name}.pem`);
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  const config = join(dir, `${name}.cnf`);
  const altNames = options.altNames ?? ['IP:127.0.0.1'];
  await writeFile(
    config,
    `[req]\ndistinguished_name = dn\n[dn]\n[ext]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\nextendedKeyUsage = serverAuth,clientAuth\nsubjectAltName = ${altNames.join(',')}\n`,
  );
  await execFileAsync('openssl', ['req', '-new', '-config', config, ...NEW_KEY.ec, '-nodes', '-keyout', keyPath, '-out', csrPath, '-subj', `/CN=${name}/O=dragonfly-ts tests`], { timeout: 30_000 });
  await execFileAsync(
    'openssl',
    ['x509', '-req', '-in', csrPath, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-set_serial', uniqueSerial(), '-days', String(options.days ?? 2), '-extfile', config, '-extensions', 'ext', '-out', certPath],
    { timeout: 30_000 },
  );
  return { certPem: await readFile(certPath, 'utf8'), keyPem: await readFile(keyPath, 'utf8'), certPath, keyPath };
}

/** The three PEM paths of one process's mutual-TLS identity, as config sections take them. */
export interface TlsIdentity {
  readonly caCert: string;
  readonly cert: string;
  readonly key: string;
}

/** A CA in `dir` and, per name, a leaf certificate it signed: the identities of a test cluster. */
export async function createTestPki(dir: string, names: readonly string[], caName = 'cluster-ca'): Promise<{ ca: PemFiles; identities: Map<string, TlsIdentity> }> {
  await mkdir(dir, { recursive: true });
  const ca = await createTestCa(dir, { name: caName });
  const identities = new Map<string, TlsIdentity>();
  for (const name of names) {
    const leaf = await createTestLeafCertificate(dir, ca, { name: `${caName}-${name}` });
    identities.set(name, { caCert: ca.certPath, cert: leaf.certPath, key: leaf.keyPath });
  }
  return { ca, identities };
}

/**
 * `--mtls`: a throwaway CA and one certificate per simulated host (IP SAN = its namespace address,
 * usable as server and client), made by the openssl CLI in the run's work dir, so the daemons and
 * the scheduler run with mutual TLS on every link (daemon/README.md, "Mutual TLS").
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A random positive serial per certificate (-CAcreateserial shares a file that openssl calls made at once corrupt). */
const uniqueSerial = (): string => `0x01${randomBytes(15).toString('hex')}`;

/** The three PEM paths a config section takes (`caCert`, `cert`, `key`). */
export interface TlsIdentity {
  readonly caCert: string;
  readonly cert: string;
  readonly key: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const SUBJECT = (cn: string) => `/CN=${cn}/O=dragonfly-ts bench`;

/** A CA in `dir` and an identity signed by it for each `{name, ip}`. */
export async function createSwarmPki(dir: string, hosts: ReadonlyArray<{ readonly name: string; readonly ip: string }>): Promise<Map<string, TlsIdentity>> {
  await mkdir(dir, { recursive: true });
  const caCert = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  const caConfig = join(dir, 'ca.cnf');
  await writeFile(caConfig, '[req]\ndistinguished_name = dn\n[dn]\n');
  await run('openssl', ['req', '-x509', '-config', caConfig, ...EC, '-keyout', caKey, '-out', caCert, '-days', '7', '-subj', SUBJECT('swarm-ca'), '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { timeout: 30_000 });
  const identities = new Map<string, TlsIdentity>();
  await Promise.all(
    hosts.map(async ({ name, ip }) => {
      const cert = join(dir, `${name}.pem`);
      const key = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const config = join(dir, `${name}.cnf`);
      await writeFile(config, `[req]\ndistinguished_name = dn\n[dn]\n[ext]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\nextendedKeyUsage = serverAuth,clientAuth\nsubjectAltName = IP:${ip}\n`);
      await run('openssl', ['req', '-new', '-config', config, ...EC, '-keyout', key, '-out', csr, '-subj', SUBJECT(name)], { timeout: 30_000 });
      await run('openssl', ['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', uniqueSerial(), '-days', '7', '-extfile', config, '-extensions', 'ext', '-out', cert], { timeout: 30_000 });
      identities.set(name, { caCert, cert, key });
    }),
  );
  return identities;
}

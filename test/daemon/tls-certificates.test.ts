/**
 * Leaf certificates for intercepted tunnels, checked by real TLS handshakes on loopback against a
 * CA made by openssl: they validate against that CA (IP and DNS names), not against another one;
 * the cache and its bounds; every way a CA can be unusable.
 */
import { test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer, get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { connect, createServer, type PeerCertificate, type SecureContext } from 'node:tls';
import { LeafCertificates, TlsCaError, type IssuedCertificate, type TlsCaProblem } from '../../daemon/index.ts';
import { tempDir } from '../support/temp.ts';
import { createTestCa, createTestCertificate, createTestIntermediateCa, createTestServerCertificate, type PemFiles, type TestKeyType } from '../support/tls.ts';

const DAY_MS = 24 * 3_600_000;

interface Handshake {
  readonly authorized: boolean;
  readonly authorizationError: string | undefined;
  readonly peer: PeerCertificate;
  readonly echoed: string;
}

/**
 * A TLS server on 127.0.0.1 that presents `byName(sni)` for SNI names and `ipCertificate` without
 * SNI (clients send none for an IP), as the proxy does per CONNECT host; echoes one line.
 */
async function startServer(t: TestContext, ipCertificate: IssuedCertificate, byName: (name: string) => Promise<SecureContext>): Promise<number> {
  const server = createServer(
    {
      cert: ipCertificate.chainPem,
      key: ipCertificate.keyPem,
      SNICallback: (name, callback) => byName(name).then((context) => callback(null, context), (error: Error) => callback(error)),
    },
    (socket) => socket.once('data', (data) => socket.end(data)),
  );
  server.on('tlsClientError', () => undefined); // clients that reject our certificate end the handshake
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

/** Connects with `ca` as the only trust anchor; resolves with what the client saw (rejectUnauthorized off, so nothing throws). */
function handshake(port: number, ca: string, servername?: string): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca, ...(servername ? { servername } : {}), rejectUnauthorized: false, timeout: 10_000 });
    let echoed = '';
    socket.setEncoding('utf8');
    socket.on('secureConnect', () => socket.write('ping\n'));
    socket.on('data', (text: string) => (echoed += text));
    socket.on('timeout', () => socket.destroy(new Error('TLS test client timed out')));
    socket.on('error', reject);
    socket.on('end', () => {
      resolve({ authorized: socket.authorized, authorizationError: socket.authorizationError?.toString(), peer: socket.getPeerCertificate(), echoed });
      socket.destroy();
    });
  });
}

test('leaves for 127.0.0.1 and for DNS names validate against the CA, and not against another CA', async (t) => {
  const dir = await tempDir(t, 'df-tls-');
  const ca = await createTestCa(dir);
  const other = await createTestCa(dir, { name: 'other-ca' });
  const leaves = await LeafCertificates.fromFiles(ca.certPath, ca.keyPath);
  const port = await startServer(t, await leaves.certificateFor('127.0.0.1'), (name) => leaves.secureContextFor(name));

  const byIp = await handshake(port, ca.certPem);
  assert.equal(byIp.authorizationError, undefined);
  assert.equal(byIp.authorized, true);
  assert.equal(byIp.peer.subjectaltname, 'IP Address:127.0.0.1');
  assert.equal(byIp.echoed, 'ping\n');

  for (const name of ['registry.example.test', 'index.docker.io']) {
    const byName = await handshake(port, ca.certPem, name);
    assert.equal(byName.authorizationError, undefined, name);
    assert.equal(byName.authorized, true, name);
    assert.equal(byName.peer.subjectaltname, `DNS:${name}`);
    assert.equal(byName.echoed, 'ping\n');
  }

  const untrusted = await handshake(port, other.certPem, 'registry.example.test');
  assert.equal(untrusted.authorized, false);
  assert.equal(untrusted.authorizationError, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  const untrustedIp = await handshake(port, other.certPem);
  assert.equal(untrustedIp.authorized, false);
});

test('the leaf names exactly its host, is signed by the CA and lives within the CA', async (t) => {
  const dir = await tempDir(t, 'df-tls-');
  const ca = await createTestCa(dir);
  const caCertificate = new X509Certificate(ca.certPem);
  const before = Date.now();
  const leaves = await LeafCertificates.fromPem(ca.certPem, ca.keyPem);
  const issued = await leaves.certificateFor('a.example.test');
  const leaf = new X509Certificate(issued.certPem);
  assert.equal(leaf.checkHost('a.example.test'), 'a.example.test');
  assert.equal(leaf.checkHost('b.example.test'), undefined);
  assert.equal(leaf.checkIP('127.0.0.1'), undefined);
  assert.ok(leaf.verify(caCertificate.publicKey));
  assert.ok(leaf.checkIssued(caCertificate));
  assert.equal(leaf.ca, false);
  assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(leaf.validFromDate.getTime() < before - 30 * 60_000, 'backdated');
  // The CA lives 2 days: the leaf may not outlive it.
  assert.equal(leaf.validToDate.getTime(), caCertificate.validToDate.getTime());
  assert.ok(leaf.keyUsage?.includes('1.3.6.1.5.5.7.3.1'), 'serverAuth');
  assert.equal(issued.chainPem, issued.certPem, 'a self-signed root CA is not sent');

  const ipv6 = new X509Certificate((await leaves.certificateFor('[::1]')).certPem);
  assert.equal(ipv6.checkIP('::1'), '::1');
  const second = new X509Certificate((await leaves.certificateFor('b.example.test')).certPem);
  assert.notEqual(second.serialNumber, leaf.serialNumber);
});

test('CAs of every usual key type and key encoding sign leaves that validate', async (t) => {
  const dir = await tempDir(t, 'df-tls-');
  const cases: Array<[TestKeyType, 'pkcs8' | 'traditional']> = [
    ['ec', 'pkcs8'],
    ['ec', 'traditional'],
    ['rsa', 'traditional'],
    ['ed25519', 'pkcs8'],
  ];
  for (const [keyType, keyFormat] of cases) {
    const ca = await createTestCa(dir, { name: `ca-${keyType}-${keyFormat}`, keyType, keyFormat });
    if (keyFormat === 'traditional') assert.match(ca.keyPem, /BEGIN (RSA|EC) PRIVATE KEY/);
    const leaves = await LeafCertificates.fromFiles(ca.certPath, ca.keyPath);
    const port = await startServer(t, await leaves.certificateFor('127.0.0.1'), (name) => leaves.secureContextFor(name));
    for (const servername of [undefined, 'origin.test']) {
      const result = await handshake(port, ca.certPem, servername);
      assert.equal(result.authorizationError, undefined, `${keyType} ${keyFormat} ${servername}`);
      assert.equal(result.authorized, true, `${keyType} ${keyFormat} ${servername}`);
    }
  }
});

test('an intermediate CA: the leaf is sent with the intermediate, and clients trusting only the root accept it', async (t) => {
  const dir = await tempDir(t, 'df-tls-');
  const root = await createTestCa(dir, { name: 'root-ca' });
  const intermediate = await createTestIntermediateCa(dir, root);
  const leaves = await LeafCertificates.fromFiles(intermediate.certPath, intermediate.keyPath);
  const issued = await leaves.certificateFor('127.0.0.1');
  assert.equal(issued.chainPem.match(/BEGIN CERTIFICATE/g)?.length, 2, 'leaf and intermediate, not the root');
  const port = await startServer(t, issued, (name) => leaves.secureContextFor(name));
  for (const servername of [undefined, 'origin.test']) {
    const result = await handshake(port, root.certPem, servername);
    assert.equal(result.authorizationError, undefined, servername);
    assert.equal(result.authorized, true, servername);
  }
});

test('cache: one certificate per host (names normalised), shared while issued, bounded LRU, renewed near its end', async (t) => {
  const dir = await tempDir(t, 'df-tls-');
  const ca = await createTestCa(dir, { days: 30 });
  let now = Date.now();
  const leaves = await LeafCertificates.fromPem(ca.certPem, ca.keyPem, { maxEntries: 2, validityMs: 10 * DAY_MS, now: () => now });

  const [first, concurrent] = await Promise.all([leaves.certificateFor('a.test'), leaves.certificateFor('A.Test.')]);
  assert.equal(first, concurrent);
  assert.equal(await leaves.certificateFor('a.test'), first);
  const ipFirst = await leaves.certificateFor('[::1]');
  assert.equal(await leaves.certificateFor('::1'), ipFirst);
  assert.equal(leaves.size, 2);

  await leaves.certificateFor('a.test'); // a is now the most recent; ::1 the least
  await leaves.certificateFor('c.test');
  assert.equal(leaves.size, 2);
  assert.equal(await leaves.certificateFor('a.test'), first, 'a stayed');
  const ipAgain = await leaves.certificateFor('::1');
  assert.notEqual(ipAgain, ipFirst, '::1 was evicted and issued anew');
  assert.notEqual(ipAgain.certPem, ipFirst.certPem);
  assert.equal(leaves.size, 2);

  now += 9.5 * DAY_MS; // within a day of the leaf's end
  const renewed = await leaves.certificateFor('a.test');
  assert.notEqual(renewed, first);
  assert.ok(renewed.notAfter.getTime() > first.notAfter.getTime());
});

test('unusable CA files are refused with the file and the problem named', async (t) => {
  const dir = await tempDir(t, 'df-tls-');
  const ca = await createTestCa(dir);
  const other = await createTestCa(dir, { name: 'other-ca' });
  const endEntity = await createTestCertificate(dir, { name: 'not-a-ca', ca: false, altNames: ['DNS:x.test'] });
  const k1 = await createTestCa(dir, { name: 'k1-ca', keyType: 'secp256k1' });
  const write = async (name: string, text: string) => {
    await writeFile(join(dir, name), text);
    return join(dir, name);
  };
  await mkdir(join(dir, 'a-directory'));
  const encrypted = createPrivateKey(ca.keyPem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }).toString();
  const cases: Array<[string, string, string, TlsCaProblem, RegExp]> = [
    ['missing certificate', join(dir, 'missing.pem'), ca.keyPath, 'unreadable', /CA certificate .*missing\.pem: no such file/],
    ['key is a directory', ca.certPath, join(dir, 'a-directory'), 'unreadable', /CA key .*a-directory: is a directory/],
    ['certificate not PEM', await write('garbage.pem', 'hello\n'), ca.keyPath, 'not-pem', /garbage\.pem: no "-----BEGIN CERTIFICATE-----" block/],
    ['certificate PEM of garbage', await write('bad-body.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), ca.keyPath, 'not-pem', /bad-body\.pem: not a valid X\.509 certificate/],
    ['key not PEM', ca.certPath, await write('garbage.key', 'hello\n'), 'not-pem', /garbage\.key: no "-----BEGIN \.\.\. PRIVATE KEY-----" block/],
    ['key PEM of garbage', ca.certPath, await write('bad-body.key', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'), 'not-pem', /bad-body\.key: not a valid private key/],
    ['encrypted key', ca.certPath, await write('encrypted.key', encrypted), 'encrypted-key', /encrypted\.key: the key is encrypted/],
    ['key of another CA', ca.certPath, other.keyPath, 'key-mismatch', /other-ca\.key does not belong to CA certificate .*test-ca\.pem/],
    ['not a CA', endEntity.certPath, endEntity.keyPath, 'not-ca', /not-a-ca\.pem \(CN=not-a-ca.*\) is not a CA certificate/],
    ['key type that cannot sign certificates', k1.certPath, k1.keyPath, 'unsupported-key', /k1-ca\.key: cannot sign with a ec:secp256k1 key/],
  ];
  for (const [name, certPath, keyPath, problem, message] of cases) {
    await assert.rejects(
      LeafCertificates.fromFiles(certPath, keyPath),
      (error: unknown) => error instanceof TlsCaError && error.code === 'DF_ERR_INVALID_TLS_CA' && error.problem === problem && message.test(error.message),
      name,
    );
  }
  await assert.rejects(
    LeafCertificates.fromPem(ca.certPem, ca.keyPem, { now: () => Date.now() + 3 * DAY_MS }),
    (error: unknown) => error instanceof TlsCaError && error.problem === 'expired' && /CA certificate expired on \d{4}-/.test(error.message),
  );
});

test('hosts that are neither DNS names nor IPs are refused, and the failure is not cached', async (t) => {
  const dir = await tempDir(t, 'df-tls-');
  const ca: PemFiles = await createTestCa(dir);
  const leaves = await LeafCertificates.fromPem(ca.certPem, ca.keyPem);
  for (const host of ['', 'a..b', 'bad host', 'x'.repeat(64) + '.test', 'a.*.test', '[not-an-ip]']) {
    await assert.rejects(leaves.certificateFor(host), (error: Error & { code?: string }) => error.code === 'DF_ERR_INVALID_ARGUMENT' && error.message.includes('cannot issue a certificate'), host);
  }
  assert.equal(leaves.size, 0);
  // A name longer than a CN may be: the SAN alone names it.
  const long = `${'a'.repeat(60)}.${'b'.repeat(60)}.test`;
  assert.equal(new X509Certificate((await leaves.certificateFor(long)).certPem).checkHost(long), long);
});

test('test support: the self-signed origin certificate serves HTTPS on 127.0.0.1', async (t) => {
  const dir = await tempDir(t, 'df-tls-');
  const origin = await createTestServerCertificate(dir);
  const server = createHttpsServer({ cert: origin.certPem, key: origin.keyPem }, (_request, response) => response.end('hello'));
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;
  const fetchOnce = (ca: string | undefined) =>
    new Promise<string>((resolve, reject) => {
      const request = httpsGet({ host: '127.0.0.1', port, path: '/', agent: false, ...(ca ? { ca } : {}), timeout: 10_000 }, (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (text: string) => (body += text)).on('end', () => resolve(body));
      });
      request.on('timeout', () => request.destroy(new Error('HTTPS test client timed out')));
      request.on('error', reject);
    });
  assert.equal(await fetchOnce(origin.certPem), 'hello');
  await assert.rejects(fetchOnce(undefined), /self-signed certificate|unable to verify/);
});

/**
 * The piece client's side of mutual TLS (upload.client), against real HTTPS servers on loopback
 * with certificates made by the openssl CLI: a parent whose certificate chains to the CA is reached
 * (its 404 comes back as the parent's answer), one whose certificate comes from another CA is
 * refused in the handshake (a parent failure without a status), and so is a cluster parent asked
 * without TLS. Both transports: the kept-alive raw pool over TLS sockets (the addon's receive) and
 * undici's https pool.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'vitest';
import { addon } from '../../addon/index.ts';
import { loadTlsMaterial, type TlsMaterial } from '../../api/index.ts';
import { ParentPieceError, PieceClient } from '../../daemon/index.ts';
import { tempDir } from '../support/temp.ts';
import { createTestPki, type TlsIdentity } from '../support/tls.ts';

const TASK = 'b'.repeat(64);
const PIECE = { number: 0, offset: 0, length: 1024, digest: 'crc32:0' };

async function material(identity: TlsIdentity): Promise<TlsMaterial> {
  return (await loadTlsMaterial('upload.client', identity, (file) => readFile(file, 'utf8')))!;
}

/** An HTTPS piece server stand-in that answers 404 to every request; `requireClient`: mutual TLS. */
async function parentServer(t: TestContext, identity: TlsIdentity, requireClient: boolean): Promise<number> {
  const [ca, cert, key] = await Promise.all([readFile(identity.caCert), readFile(identity.cert), readFile(identity.key)]);
  const server: Server = createServer({ ca, cert, key, requestCert: requireClient, rejectUnauthorized: requireClient }, (req, res) => {
    res.writeHead(404, { 'content-length': 0 }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

async function fetchError(client: PieceClient, port: number): Promise<ParentPieceError> {
  try {
    await client.fetch({ peerId: 'parent', ip: '127.0.0.1', port }, TASK, PIECE, AbortSignal.timeout(20_000));
  } catch (error) {
    assert.ok(error instanceof ParentPieceError, String(error));
    return error;
  }
  assert.fail('the fetch succeeded');
}

const transports: Array<[string, () => ConstructorParameters<typeof PieceClient>[0]]> = [
  ['kept-alive raw pool over TLS (addon receive)', () => ({ timeoutMs: 10_000, directReceive: addon.receiveToFile, keepAlive: addon.receiveToFileKeepAlive })],
  ['undici https pool', () => ({ timeoutMs: 10_000, directReceive: false })],
];

describe('piece client with upload.client TLS', () => {
  for (const [name, options] of transports) {
    test(`${name}: a parent of the cluster CA answers; one of another CA, or a TLS parent asked in plain HTTP, is refused`, async (t) => {
      const dir = await tempDir(t, 'df-piece-tls-');
      const cluster = (await createTestPki(join(dir, 'cluster'), ['parent', 'child'])).identities;
      const other = (await createTestPki(join(dir, 'other'), ['impostor'], 'other-ca')).identities;
      const child = new PieceClient({ ...options(), tls: await material(cluster.get('child')!) });
      const plain = new PieceClient(options());
      t.onTestFinished(async () => {
        await child.close();
        await plain.close();
      });

      const member = await parentServer(t, cluster.get('parent')!, true);
      const answered = await fetchError(child, member);
      assert.equal(answered.status, 404, `the handshake passed and the parent answered: ${answered.message}`);

      // The impostor asks no certificate of us: only our check of its chain can refuse it.
      const impostor = await parentServer(t, other.get('impostor')!, false);
      const refused = await fetchError(child, impostor);
      assert.equal(refused.status, undefined, refused.message);
      assert.match(refused.message, /cannot fetch piece 0/);

      const notTls = await fetchError(plain, member);
      assert.equal(notTls.status, undefined, notTls.message);
    });
  }
});

/**
 * Mutual TLS between every process of a cluster (all real: origin, dfscheduler, a seed and peers,
 * one CA and a certificate per process made by the openssl CLI): a download through the scheduler,
 * the seed and the peers gives byte-identical output with pieces moved between peers, and a client
 * without a certificate, with one from another CA, or without TLS at all is refused by the piece
 * server, the daemon's DfdaemonUpload and the scheduler, while the cluster's own certificate is let in.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { request as plainRequest } from 'node:http';
import { join } from 'node:path';
import { test, type TestContext } from 'vitest';
import { startCluster, testChannelCredentials } from '../support/cluster.ts';
import { dfgetThrough, downloadTraffic, scrape } from '../support/daemon.ts';
import { assertFileEquals } from '../support/engine.ts';
import { call, grpc, loadProtosForTests } from '../support/grpc.ts';
import { content, MiB } from '../support/origin.ts';
import { tempDir } from '../support/temp.ts';
import { createTestPki, type TlsIdentity } from '../support/tls.ts';

const PIECE = 4 * MiB;
const LENGTH = 24 * MiB + 1234;
const PIECES = Math.ceil(LENGTH / PIECE);
const TASK = 'a'.repeat(64);

type Outcome = { status: number } | { error: string };

/** One GET on a piece server over HTTPS with `identity` (or none) as the client certificate. */
async function getPiece(port: number, ca: string, identity: TlsIdentity | undefined): Promise<Outcome> {
  const cert = identity && { cert: await readFile(identity.cert, 'utf8'), key: await readFile(identity.key, 'utf8') };
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: `/pieces/${TASK}/0`, ca, ...cert, checkServerIdentity: () => undefined, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end();
  });
}

/** The same GET without TLS. */
function getPiecePlain(port: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = plainRequest({ host: '127.0.0.1', port, path: `/pieces/${TASK}/0`, agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end();
  });
}

/** TLS that trusts the cluster CA but presents no certificate. */
async function noCertificate(ca: string): Promise<grpc.ChannelCredentials> {
  return grpc.credentials.createSsl(Buffer.from(ca), null, null, { checkServerIdentity: () => undefined });
}

/** The gRPC status code of a unary call, 0 when it succeeded. */
async function statusOf(run: () => Promise<unknown>): Promise<number> {
  try {
    await run();
    return grpc.status.OK;
  } catch (error) {
    return (error as grpc.ServiceError).code;
  }
}

test('with mutual TLS everywhere, a download through scheduler, seed and peers is byte-identical and pieces move between peers (native keep-alive over TLS and undici over TLS)', { timeout: 180_000 }, async (t) => {
  // peer-2 runs without the addon: its pieces come through undici's https pool instead of the raw TLS pool.
  const c = await startCluster(t, { peers: 2, mtls: true, env: { 'peer-2': { DF_NO_ADDON: '1' } } });
  const body = content(LENGTH, 131);
  c.origin.setFile('/model.bin', body);
  const url = c.origin.url('/model.bin');
  const [first, second] = c.peers as [(typeof c.peers)[number], (typeof c.peers)[number]];

  const one = await dfgetThrough(first, [url, '-O', join(c.dir, 'out-1.bin')], { cacheHome: c.cacheHome });
  assert.equal(one.code, 0, one.stderr);
  const two = await dfgetThrough(second, [url, '-O', join(c.dir, 'out-2.bin')], { cacheHome: c.cacheHome });
  assert.equal(two.code, 0, two.stderr);
  await assertFileEquals(join(c.dir, 'out-1.bin'), body);
  await assertFileEquals(join(c.dir, 'out-2.bin'), body);

  assert.equal(c.origin.pieceStarts('/model.bin').length, PIECES, 'the origin sent each piece once (to the seed)');
  assert.equal((await downloadTraffic(c.seed!)).back_to_source, LENGTH, 'the seed, triggered by the scheduler over TLS, fetched from the origin');
  for (const peer of c.peers) {
    const traffic = await downloadTraffic(peer);
    assert.equal(traffic.back_to_source, 0, `${peer.name} fetched nothing from the origin`);
    assert.equal(traffic.remote_peer, LENGTH, `${peer.name} got every piece from peers`);
  }
  const seedUploads = (await scrape(c.seed!.ports.metrics)).get('dragonfly_client_upload_traffic') ?? 0;
  const firstUploads = (await scrape(first.ports.metrics)).get('dragonfly_client_upload_traffic') ?? 0;
  assert.equal(seedUploads + firstUploads, 2 * LENGTH, 'the seed and the first peer served both peers their pieces');

  for (const daemon of [c.seed!, ...c.peers]) {
    const ready = daemon.proc.lines.find((line) => line.msg === 'dfdaemon ready');
    assert.deepEqual(ready?.mtls, ['upload.server', 'upload.client', 'storage.server', 'scheduler'], `${daemon.name} runs every link over mutual TLS`);
  }
  const started = c.scheduler.proc.lines.find((line) => line.msg === 'scheduler started');
  assert.deepEqual(started?.mtls, ['server.tls', 'seedPeer.tls']);
  // No private key, nor any part of one, in any process's log.
  for (const [name, identity] of c.tls!) {
    const pem = await readFile(identity.key, 'utf8');
    const secret = pem.split('\n').filter((line) => line && !line.startsWith('-----'))[0]!;
    for (const proc of [c.scheduler.proc, c.seed!.proc, ...c.peers.map((peer) => peer.proc)]) {
      assert.ok(!JSON.stringify(proc.lines).includes(secret), `the key of ${name} is not in a log`);
    }
  }
});

async function refusals(t: TestContext) {
  const c = await startCluster(t, { peers: 1, mtls: true });
  const other = await createTestPki(await tempDir(t, 'df-other-ca-'), ['stranger'], 'other-ca');
  const own = c.tls!.get('client')!;
  const stranger = other.identities.get('stranger')!;
  const ca = await readFile(own.caCert, 'utf8');
  return { c, own, stranger, ca };
}

test('mutual TLS refuses, on the piece server, a client without a certificate, with one from another CA, or without TLS; the cluster certificate gets an answer', { timeout: 120_000 }, async (t) => {
  const { c, own, stranger, ca } = await refusals(t);
  const port = c.peers[0]!.ports.pieces;
  assert.deepEqual(await getPiece(port, ca, own), { status: 404 }, 'a cluster member reaches the handler (unknown task)');
  const none = await getPiece(port, ca, undefined);
  assert.ok('error' in none, `no certificate: refused in the handshake, got ${JSON.stringify(none)}`);
  const foreign = await getPiece(port, ca, stranger);
  assert.ok('error' in foreign, `another CA: refused in the handshake, got ${JSON.stringify(foreign)}`);
  const plain = await getPiecePlain(port);
  assert.ok('error' in plain, `no TLS: no HTTP answer, got ${JSON.stringify(plain)}`);
  const refused = c.peers[0]!.proc.lines.filter((line) => line.msg === 'piece server refused a TLS client');
  assert.ok(refused.length >= 2, 'the daemon logged the refused handshakes');
});

test('mutual TLS refuses, on the daemon DfdaemonUpload and the scheduler gRPC servers, a client without a certificate, with one from another CA, or without TLS (UNAVAILABLE); the cluster certificate gets an answer', { timeout: 120_000 }, async (t) => {
  const { c, own, stranger, ca } = await refusals(t);
  const { DfdaemonUpload } = loadProtosForTests().dfdaemon;
  const { Scheduler } = loadProtosForTests().scheduler;
  const credentials: Array<[string, grpc.ChannelCredentials]> = [
    ['no TLS', grpc.credentials.createInsecure()],
    ['no certificate', await noCertificate(ca)],
    ['another CA', await testChannelCredentials(stranger)],
    ['the cluster CA', await testChannelCredentials(own)],
  ];
  const deadline = () => ({ deadline: Date.now() + 5_000 });
  for (const [what, creds] of credentials) {
    const upload = new DfdaemonUpload(`127.0.0.1:${c.peers[0]!.ports.upload}`, creds);
    const scheduler = new Scheduler(`127.0.0.1:${c.scheduler.port}`, creds);
    try {
      const uploadStatus = await statusOf(() => call((req, cb) => upload.statTask(req, deadline(), cb), { taskId: TASK }));
      const schedulerStatus = await statusOf(() => call((req, cb) => scheduler.listHosts(req, deadline(), cb), {}));
      if (what === 'the cluster CA') {
        assert.equal(uploadStatus, grpc.status.NOT_FOUND, 'DfdaemonUpload answers a cluster member (unknown task)');
        assert.equal(schedulerStatus, grpc.status.OK, 'the scheduler answers a cluster member');
      } else {
        assert.equal(uploadStatus, grpc.status.UNAVAILABLE, `DfdaemonUpload, ${what}`);
        assert.equal(schedulerStatus, grpc.status.UNAVAILABLE, `scheduler, ${what}`);
      }
    } finally {
      upload.close();
      scheduler.close();
    }
  }
});

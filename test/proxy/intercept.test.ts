/**
 * HTTPS through the proxy. Without a CA configured, CONNECT is a blind tunnel. With
 * proxy.server.caCert/caKey, the tunnel is intercepted: the client sees a certificate for the
 * origin signed by that CA, and a matching download inside it goes through P2P like a plain one.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'vitest';
import { ProxyAgent, request } from 'undici';
import { startDaemon, startScheduler } from '../support/daemon.ts';
import { content, MiB, Origin } from '../support/origin.ts';
import { tempDir } from '../support/temp.ts';
import { createTestCa, createTestServerCertificate } from '../support/tls.ts';

async function getVia(proxyPort: number, url: string, ca: string) {
  const dispatcher = new ProxyAgent({ uri: `http://127.0.0.1:${proxyPort}`, requestTls: { ca } });
  try {
    const answer = await request(url, { dispatcher });
    return { status: answer.statusCode, headers: answer.headers, body: Buffer.from(await answer.body.arrayBuffer()) };
  } finally {
    await dispatcher.close();
  }
}

test('CONNECT: a blind tunnel without a CA; intercepted with one, and matching downloads go through P2P', async (t) => {
  const dir = await tempDir(t, 'df-intercept-');
  const originCert = await createTestServerCertificate(dir);
  const ca = await createTestCa(dir, { name: 'proxy-ca' });
  const origin = await Origin.start({ tls: { cert: originCert.certPem, key: originCert.keyPem } });
  t.onTestFinished(() => origin.close());
  const body = content(9 * MiB, 3);
  origin.setFile('/layers/app.bin', body);
  origin.setFile('/index.html', Buffer.from('<html></html>'));
  const scheduler = await startScheduler(t, join(dir, 'scheduler'));
  // The daemons trust the origin's own certificate, as a node trusts its registry's.
  const env = { NODE_EXTRA_CA_CERTS: originCert.certPath };
  const rules = [{ regex: '/layers/' }];
  const plain = await startDaemon(t, dir, { name: 'plain', schedulerPort: scheduler.port, env, config: { proxy: { rules } } });
  const intercepting = await startDaemon(t, dir, {
    name: 'intercepting',
    schedulerPort: scheduler.port,
    env,
    config: { proxy: { rules, server: { caCert: ca.certPath, caKey: ca.keyPath } } },
  });

  // Blind: the client talks TLS with the origin itself (trusting the origin's certificate).
  const tunneled = await getVia(plain.ports.proxy, origin.url('/layers/app.bin'), originCert.certPem);
  assert.equal(tunneled.status, 200);
  assert.equal(tunneled.headers['x-dragonfly-task-id'], undefined);
  assert.ok(tunneled.body.equals(body));

  // Intercepted: the client trusts only the proxy's CA, and the answer comes from a task.
  const intercepted = await getVia(intercepting.ports.proxy, origin.url('/layers/app.bin'), ca.certPem);
  assert.equal(intercepted.status, 200);
  assert.match(String(intercepted.headers['x-dragonfly-task-id']), /^[0-9a-f]{64}$/);
  assert.equal(createHash('sha256').update(intercepted.body).digest('hex'), createHash('sha256').update(body).digest('hex'));
  const page = await getVia(intercepting.ports.proxy, origin.url('/index.html'), ca.certPem);
  assert.equal(page.body.toString(), '<html></html>');
  assert.equal(page.headers['x-dragonfly-task-id'], undefined);

  // A client that trusts only the origin's certificate refuses the intercepting proxy's.
  await assert.rejects(getVia(intercepting.ports.proxy, origin.url('/index.html'), originCert.certPem));
});

test('a CA that cannot sign stops the start with a message naming the key', async (t) => {
  const dir = await tempDir(t, 'df-intercept-');
  const leaf = await createTestServerCertificate(dir);
  await assert.rejects(
    startDaemon(t, dir, { name: 'bad-ca', config: { proxy: { server: { caCert: leaf.certPath, caKey: leaf.keyPath } } } }),
    /proxy\.server\.caCert/,
  );
});

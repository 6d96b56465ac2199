/**
 * Mutual-TLS config: a section with only some of caCert, cert and key, a file that cannot be read,
 * PEM that is not what the key says, a CA that is not a CA, or a key of another certificate fails
 * the start of a real in-process dfdaemon or dfscheduler with DF_ERR_INVALID_CONFIG naming the key
 * path and the file, never the key's content; the loaded material hides its key from JSON and
 * inspection. Certificates are made by the openssl CLI.
 */
import assert from 'node:assert/strict';
import { writeFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, test, type TestContext } from 'vitest';
import { loadTlsMaterial, type TlsPaths } from '../../api/index.ts';
import { createLogger, dfdaemonConfigTree, resolveDfdaemonConfig, startDaemon } from '../../daemon/index.ts';
import { resolveSchedulerConfig, startScheduler, NOOP_LOGGER } from '../../scheduler/index.ts';
import { daemonConfig } from '../support/daemon.ts';
import { tempDir } from '../support/temp.ts';
import { createTestCa, createTestLeafCertificate, createTestPki, type TlsIdentity } from '../support/tls.ts';

const silent = createLogger('error', () => {});

function assertConfigError(error: unknown, key: string, ...mentions: string[]): true {
  const e = error as Error & { code?: string; path?: string };
  assert.equal(e.code, 'DF_ERR_INVALID_CONFIG', e.message);
  assert.equal(e.path, key, e.message);
  assert.ok(e.message.startsWith(`config ${key}: `), e.message);
  for (const mention of mentions) assert.ok(e.message.includes(mention), `${e.message} names ${mention}`);
  return true;
}

async function pki(t: TestContext): Promise<{ dir: string; good: TlsIdentity; keyPem: string }> {
  const dir = await tempDir(t, 'df-tls-config-');
  const { identities } = await createTestPki(join(dir, 'pki'), ['daemon']);
  const good = identities.get('daemon')!;
  return { dir, good, keyPem: await readFile(good.key, 'utf8') };
}

async function startWith(dir: string, config: Record<string, unknown>): Promise<void> {
  const name = `d${Math.random().toString(36).slice(2, 8)}`;
  const home = join(dir, name);
  await mkdir(home, { recursive: true });
  const controller = new AbortController();
  const daemon = await startDaemon({ config: resolveDfdaemonConfig(daemonConfig(home, { name, config })), log: silent, signal: controller.signal });
  // Only reached when the start wrongly succeeded: stop it so the test ends cleanly.
  controller.abort();
  await daemon.stopped;
}

describe('daemon mutual-TLS config', () => {
  test('off by default: no section is set and the config builder writes none', () => {
    const config = resolveDfdaemonConfig({});
    for (const section of [config.upload.server, config.upload.client, config.storage.server, config.scheduler] as TlsPaths[]) {
      assert.deepEqual([section.caCert, section.cert, section.key], [undefined, undefined, undefined]);
    }
    const tree = dfdaemonConfigTree({ hostname: 'h', ip: '127.0.0.1', storageDir: '/tmp/s', socketPath: '/tmp/s.sock', schedulerAddrs: ['127.0.0.1:8002'] });
    assert.ok(!JSON.stringify(tree).includes('caCert'));
  });

  test('a section with only some of caCert, cert and key names the missing key', () => {
    assert.throws(() => resolveDfdaemonConfig({ upload: { server: { cert: '/c.pem', key: '/k.pem' } } }), (e) => assertConfigError(e, 'upload.server.caCert'));
    assert.throws(() => resolveDfdaemonConfig({ storage: { server: { caCert: '/ca.pem', cert: '/c.pem' } } }), (e) => assertConfigError(e, 'storage.server.key'));
    assert.throws(() => resolveDfdaemonConfig({ upload: { client: { key: '/k.pem' } } }), (e) => assertConfigError(e, 'upload.client.caCert'));
    assert.throws(() => resolveDfdaemonConfig({ scheduler: { caCert: '/ca.pem', cert: '', key: '/k.pem' } }), (e) => assertConfigError(e, 'scheduler.cert'));
  });

  test('an unreadable file, PEM of the wrong kind, a CA that is not a CA and a key of another certificate fail the start naming the key and file, never the key', async (t) => {
    const { dir, good, keyPem } = await pki(t);
    const garbage = join(dir, 'garbage.pem');
    await writeFile(garbage, 'not a certificate\n');
    const other = await createTestLeafCertificate(join(dir, 'pki'), await createTestCa(join(dir, 'pki'), { name: 'other-ca' }), { name: 'other' });
    const missing = join(dir, 'missing.key');
    const cases: Array<[string, Record<string, unknown>, string, string[]]> = [
      ['unreadable key', { storage: { server: { ...good, key: missing } } }, 'storage.server.key', [missing, 'ENOENT']],
      ['garbage certificate', { upload: { server: { ...good, cert: garbage } } }, 'upload.server.cert', [garbage, 'no PEM certificate']],
      ['garbage CA', { upload: { client: { ...good, caCert: garbage } } }, 'upload.client.caCert', [garbage]],
      ['certificate as key', { scheduler: { ...good, key: good.cert } }, 'scheduler.key', [good.cert, 'no PEM private key']],
      ['leaf as CA', { upload: { server: { ...good, caCert: good.cert } } }, 'upload.server.caCert', ['not a CA certificate']],
      ['key of another certificate', { scheduler: { ...good, key: other.keyPath } }, 'scheduler.key', [other.keyPath, 'is not the private key of scheduler.cert']],
    ];
    const secret = keyPem.split('\n').filter((line) => line && !line.startsWith('-----')).join('');
    for (const [what, config, key, mentions] of cases) {
      await assert.rejects(startWith(dir, config), (e) => {
        assert.ok(!(e as Error).message.includes(secret.slice(0, 24)), `${what}: the message holds no key material`);
        return assertConfigError(e, key, ...mentions);
      }, what);
    }
  });

  test('the loaded material keeps its key out of JSON, inspect and strings', async (t) => {
    const { good, keyPem } = await pki(t);
    const material = await loadTlsMaterial('upload.server', good, (file) => readFile(file, 'utf8'));
    assert.ok(material);
    assert.equal(material.key, keyPem, 'TLS contexts get the key');
    const body = keyPem.split('\n')[1]!;
    for (const shown of [JSON.stringify({ material }), inspect(material, { depth: 5, showHidden: true }), String(material), `${material}`]) {
      assert.ok(!shown.includes(body), `key hidden in ${shown.slice(0, 80)}`);
    }
  });
});

describe('scheduler mutual-TLS config', () => {
  test('server.tls and seedPeer.tls: partial sections name the missing key', () => {
    assert.throws(() => resolveSchedulerConfig({ server: { tls: { caCert: '/ca.pem', cert: '/c.pem' } } }), (e) => assertConfigError(e, 'server.tls.key'));
    assert.throws(() => resolveSchedulerConfig({ seedPeer: { tls: { key: '/k.pem' } } }), (e) => assertConfigError(e, 'seedPeer.tls.caCert'));
    const config = resolveSchedulerConfig({});
    assert.equal(config.server.tls.caCert, undefined);
  });

  test('a bad file fails the start naming the key', async (t) => {
    const { dir, good } = await pki(t);
    const missing = join(dir, 'nope.pem');
    const base = { server: { listenIP: '127.0.0.1', port: 0 }, metrics: { enable: false } };
    for (const [config, key] of [
      [{ ...base, server: { ...base.server, tls: { ...good, caCert: missing } } }, 'server.tls.caCert'],
      [{ ...base, seedPeer: { tls: { ...good, key: good.caCert } } }, 'seedPeer.tls.key'],
    ] as const) {
      await assert.rejects(
        (async () => {
          const running = await startScheduler(resolveSchedulerConfig(config), { log: NOOP_LOGGER });
          await running.close();
        })(),
        (e) => assertConfigError(e, key),
      );
    }
  });
});

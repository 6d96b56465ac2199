import { test } from 'vitest';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { requireRoot, requireTools, startContainerd, TOOL, writeHostsToml } from '../support/registry/index.ts';
import { onceEach, pushedImage, sortedCounts } from './fixture.ts';

const NEEDS = [TOOL.registry, TOOL.umoci, TOOL.skopeo, TOOL.containerd, TOOL.ctr, TOOL.umount];
const CREDENTIALS = { user: 'bob', password: 'hunter2-hunter2' };

test('containerd pulls through a hosts.toml mirror entry, fetching each blob once, and again after removing the image', async (t) => {
  if (!requireTools(t, NEEDS) || !requireRoot(t, 'containerd runs as root')) return;
  const { dir, registry, image, ref, blobs } = await pushedImage(t);
  const containerd = await startContainerd(t, join(dir, 'ctrd'));
  const hosts = join(dir, 'hosts');
  // The registry as its own mirror: the pull goes through the [host] entry, as it will through dfdaemon.
  await writeHostsToml(hosts, registry.host, { server: registry.url, mirror: registry.url, headers: { 'X-Df-E2e': 'yes' } });

  const pulled = await containerd.pull(ref, { hostsDir: hosts });
  assert.equal(pulled.code, 0, pulled.stderr);
  await registry.settle();
  assert.deepEqual(sortedCounts(registry.blobGets()), onceEach(blobs));
  assert.equal(registry.blobBytesServed(image.layers[0]!.digest), image.layers[0]!.size);
  const manifestRequests = registry.requests().filter((r) => r.kind === 'manifest');
  assert.deepEqual(manifestRequests.map((r) => [r.method, r.reference]), [['HEAD', '1'], ['GET', image.manifestDigest]]);
  assert.ok(registry.requests().every((r) => r.userAgent.startsWith('containerd/')));
  assert.deepEqual(new Set(await containerd.imageContentDigests(ref)), new Set([image.manifestDigest, ...blobs]));

  // Content already in the store is not fetched again: remove the image, then a server-only pull fetches all.
  await containerd.removeImage(ref);
  assert.deepEqual(await containerd.ctr(['content', 'ls', '-q']).then((r) => r.stdout.trim()), '');
  const serverOnly = join(dir, 'hosts-server-only');
  await writeHostsToml(serverOnly, registry.host, { server: registry.url });
  registry.clearLog();
  const again = await containerd.pull(ref, { hostsDir: serverOnly });
  assert.equal(again.code, 0, again.stderr);
  await registry.settle();
  assert.deepEqual(sortedCounts(registry.blobGets()), onceEach(blobs));
});

test('containerd pulls from an htpasswd registry with --user, and without it fails with 401', async (t) => {
  if (!requireTools(t, [...NEEDS, TOOL.htpasswd]) || !requireRoot(t, 'containerd runs as root')) return;
  const { dir, registry, ref, blobs } = await pushedImage(t, CREDENTIALS);
  const containerd = await startContainerd(t, join(dir, 'ctrd'));
  const hosts = join(dir, 'hosts');
  await writeHostsToml(hosts, registry.host, { server: registry.url });

  const anonymous = await containerd.pull(ref, { hostsDir: hosts });
  assert.notEqual(anonymous.code, 0);
  assert.match(anonymous.stderr, /401 Unauthorized/);

  const pulled = await containerd.pull(ref, { hostsDir: hosts, user: `${CREDENTIALS.user}:${CREDENTIALS.password}` });
  assert.equal(pulled.code, 0, pulled.stderr);
  await registry.settle();
  const served = registry.requests().filter((r) => r.kind === 'blob' && r.status === 200);
  assert.deepEqual(served.map((r) => r.digest).sort(), [...blobs].sort());
});

test('hosts.toml input is checked', async () => {
  await assert.rejects(writeHostsToml('/tmp/x', 'http://127.0.0.1:1', { server: 'http://127.0.0.1:1' }), { code: 'DF_E2E_BAD_ARGUMENT' });
  await assert.rejects(writeHostsToml('/tmp/x', '127.0.0.1:1', {}), { code: 'DF_E2E_BAD_ARGUMENT', message: /server or a mirror/ });
  await assert.rejects(writeHostsToml('/tmp/x', '127.0.0.1:1', { mirror: '127.0.0.1:2' }), { code: 'DF_E2E_BAD_ARGUMENT', message: /http\(s\)/ });
  await assert.rejects(writeHostsToml('/tmp/x', '127.0.0.1:1', { mirror: 'http://127.0.0.1:2', headers: { 'a b': 'c' } }), {
    code: 'DF_E2E_BAD_ARGUMENT',
    message: /header name/,
  });
});

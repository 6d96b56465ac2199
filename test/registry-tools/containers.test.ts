import { test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { closedPort } from '../support/temp.ts';
import { podmanPull, requireRoot, requireTools, skopeoPull, TOOL, writeRegistriesConf } from '../support/registry/index.ts';
import { onceEach, pushedImage, sortedCounts, type PushedImage } from './fixture.ts';

const SKOPEO_NEEDS = [TOOL.registry, TOOL.umoci, TOOL.skopeo];
const PODMAN_NEEDS = [...SKOPEO_NEEDS, TOOL.podman, TOOL.umount];
const CREDENTIALS = { user: 'carol', password: 'c0rrect-h0rse' };

interface MirrorSetup extends PushedImage {
  /** registries.conf: a dead primary, the registry as its mirror. */
  readonly conf: string;
  /** The image under the dead primary's name: only the mirror entry can serve it. */
  readonly deadRef: string;
}

async function behindDeadPrimary(t: TestContext, auth?: typeof CREDENTIALS): Promise<MirrorSetup> {
  const pushed = await pushedImage(t, auth);
  const dead = `127.0.0.1:${await closedPort()}`;
  const conf = await writeRegistriesConf(join(pushed.dir, 'conf'), { prefix: dead, location: dead, mirror: pushed.registry.host });
  return { ...pushed, conf, deadRef: pushed.ref.replace(pushed.registry.host, dead) };
}

async function sha256File(path: string): Promise<string> {
  return `sha256:${createHash('sha256').update(await readFile(path)).digest('hex')}`;
}

test('skopeo pulls an image of a dead registry from its registries.conf mirror', async (t) => {
  if (!requireTools(t, SKOPEO_NEEDS)) return;
  const { dir, registry, conf, deadRef, blobs } = await behindDeadPrimary(t);
  const dest = join(dir, 'pulled');
  const pulled = await skopeoPull(deadRef, { home: join(dir, 'skopeo-home'), dest: `dir:${dest}`, registriesConf: conf });
  assert.equal(pulled.code, 0, pulled.stderr);
  for (const digest of blobs) assert.equal(await sha256File(join(dest, digest.slice('sha256:'.length))), digest);
  await registry.settle();
  assert.deepEqual(sortedCounts(registry.blobGets()), onceEach(blobs));
  assert.deepEqual(
    registry.requests().filter((r) => r.kind !== 'blob').map((r) => [r.method, r.kind, r.status]),
    [['GET', 'base', 200], ['GET', 'manifest', 200]],
  );
  assert.ok(registry.requests().every((r) => r.userAgent.startsWith('skopeo/')));
});

test('podman pulls an image of a dead registry from its registries.conf mirror', async (t) => {
  if (!requireTools(t, PODMAN_NEEDS) || !requireRoot(t, 'podman runs rootful here')) return;
  const { dir, registry, conf, deadRef, image, blobs } = await behindDeadPrimary(t);
  const pulled = await podmanPull(deadRef, { dir: join(dir, 'podman'), registriesConf: conf });
  assert.equal(pulled.code, 0, pulled.stderr);
  // podman prints the image id, which is the config's digest.
  assert.equal(pulled.stdout.trim().split('\n').at(-1), image.configDigest.slice('sha256:'.length));
  await registry.settle();
  assert.deepEqual(sortedCounts(registry.blobGets()), onceEach(blobs));
});

test('skopeo through a mirror with htpasswd: auth-file credentials work, --src-creds are not sent to a mirror', async (t) => {
  if (!requireTools(t, [...SKOPEO_NEEDS, TOOL.htpasswd])) return;
  const { dir, registry, conf, deadRef, blobs } = await behindDeadPrimary(t, CREDENTIALS);
  const home = join(dir, 'skopeo-home');

  const anonymous = await skopeoPull(deadRef, { home, dest: `dir:${join(dir, 'a')}`, registriesConf: conf });
  assert.notEqual(anonymous.code, 0);
  assert.match(anonymous.stderr, /unauthorized: authentication required/);
  // containers/image withholds the primary's --src-creds from mirrors.
  const primaryCreds = await skopeoPull(deadRef, { home, dest: `dir:${join(dir, 'b')}`, registriesConf: conf, creds: CREDENTIALS });
  assert.notEqual(primaryCreds.code, 0);
  assert.match(primaryCreds.stderr, /unauthorized/);
  await registry.settle();
  assert.ok(registry.requests().length > 0);
  assert.ok(registry.requests().every((r) => r.status === 401), 'every request without mirror credentials is refused');
  registry.clearLog();

  const pulled = await skopeoPull(deadRef, { home, dest: `dir:${join(dir, 'c')}`, registriesConf: conf, authFile: { [registry.host]: CREDENTIALS } });
  assert.equal(pulled.code, 0, pulled.stderr);
  await registry.settle();
  assert.deepEqual(sortedCounts(registry.blobGets()), onceEach(blobs));
});

test('podman through a mirror with htpasswd: auth-file credentials work, none fails with 401 after retries', async (t) => {
  if (!requireTools(t, [...PODMAN_NEEDS, TOOL.htpasswd]) || !requireRoot(t, 'podman runs rootful here')) return;
  const { dir, registry, conf, deadRef, blobs } = await behindDeadPrimary(t, CREDENTIALS);

  const pulled = await podmanPull(deadRef, { dir: join(dir, 'podman'), registriesConf: conf, authFile: { [registry.host]: CREDENTIALS } });
  assert.equal(pulled.code, 0, pulled.stderr);
  await registry.settle();
  assert.deepEqual(sortedCounts(registry.blobGets()), onceEach(blobs));
  registry.clearLog();

  const anonymous = await podmanPull(deadRef, { dir: join(dir, 'podman-anonymous'), registriesConf: conf });
  assert.notEqual(anonymous.code, 0);
  assert.match(anonymous.stderr, /unauthorized: authentication required/);
  await registry.settle();
  const manifestTries = registry.requests().filter((r) => r.kind === 'manifest');
  assert.ok(manifestTries.length >= 1 && manifestTries.every((r) => r.status === 401), JSON.stringify(manifestTries));
});

test('registries.conf and pull input is checked', async () => {
  await assert.rejects(writeRegistriesConf('/tmp/x', { prefix: 'a', location: 'b', mirror: 'http://127.0.0.1:1' }), {
    code: 'DF_E2E_BAD_ARGUMENT',
    message: /mirror must be host\[:port\]/,
  });
  await assert.rejects(skopeoPull('x/y:1', { home: '/tmp/h', dest: '/tmp/d' }), { code: 'DF_E2E_BAD_ARGUMENT', message: /dir:\/path/ });
  await assert.rejects(podmanPull('x/y:1', { dir: 'relative' }), { code: 'DF_E2E_BAD_ARGUMENT', message: /absolute/ });
});

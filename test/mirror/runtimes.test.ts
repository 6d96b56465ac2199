/**
 * Real container runtimes pulling through the dfdaemon registry mirror from a real registry:
 * two containerd instances, each behind its own daemon and configured by `dfdaemon init-runtime`,
 * pull the same image and the registry serves each blob once; skopeo and podman pull with a
 * registries.conf whose primary is a dead port, so their success proves the mirror served them.
 * The runtimes verify the content themselves (containerd and containers/image check every digest).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'vitest';
import { startCluster } from '../support/cluster.ts';
import { DFDAEMON_BIN, downloadTraffic } from '../support/daemon.ts';
import { podmanPull, requireRoot, requireTools, runCommand, scratchDir, skopeoPull, startContainerd, TOOL, writeHostsToml, writeRegistriesConf } from '../support/registry/index.ts';
import { closedPort } from '../support/temp.ts';
import { failingFront, haveRegistryTools, registryWithImage } from './support.ts';

test('two containerd nodes pull one image through their daemons; the registry serves each blob once', async (t) => {
  if (!haveRegistryTools(t) || !requireTools(t, [TOOL.containerd, TOOL.ctr]) || !requireRoot(t, 'containerd runs as root')) return;
  const cluster = await startCluster(t, { peers: 2, seed: false });
  const { registry, image, name } = await registryWithImage(t, cluster.dir, { layers: [9 * 1024 * 1024, 3 * 1024 * 1024, 512 * 1024] });
  const ref = `${registry.host}/${name}:1`;
  // containerd must stop before its dir goes: scratchDir cleans up last-in first-out.
  const runtimes = await scratchDir(t, 'df-containerd-');
  await registry.settle();
  registry.clearLog();

  const pulls = [];
  for (const node of cluster.peers) {
    const certsDir = join(cluster.dir, `${node.name}-certs.d`);
    const setup = await runCommand(process.execPath, [DFDAEMON_BIN, 'init-runtime', '--runtime', 'containerd', '--containerd-certs-dir', certsDir, '--registry', `http://${registry.host}`, '--mirror', `http://127.0.0.1:${node.ports.proxy}`], { env: { ...process.env, NODE_OPTIONS: '' } });
    assert.equal(setup.code, 0, setup.stderr);
    const hostsToml = await readFile(join(certsDir, registry.host, 'hosts.toml'), 'utf8');
    assert.match(hostsToml, new RegExp(`X-Dragonfly-Registry = "http://${registry.host.replace(/\./g, '\\.')}"`));

    const containerd = await startContainerd(t, join(runtimes, node.name));
    const pull = await containerd.pull(ref, { hostsDir: certsDir });
    assert.equal(pull.code, 0, `${node.name}: ctr pull failed:\n${pull.stderr}\n${containerd.log().slice(-2000)}`);
    const stored = await containerd.imageContentDigests(ref);
    for (const layer of image.layers) assert.ok(stored.includes(layer.digest), `${node.name}: containerd lacks ${layer.digest}`);
    pulls.push(pull);
  }

  await registry.settle();
  for (const layer of image.layers) {
    const served = registry.blobBytesServed(layer.digest);
    // Once in full, plus each node's 1-byte stat of the blob.
    assert.ok(served >= layer.size && served <= layer.size + 2, `registry served ${served} bytes of a ${layer.size}-byte blob for two pulls`);
  }
  const second = await downloadTraffic(cluster.peers[1]!);
  assert.ok(second.remote_peer > 0, 'the second node got nothing from the first');
});

test('skopeo and podman pull through the mirror; the primary in registries.conf is a dead port', async (t) => {
  if (!haveRegistryTools(t) || !requireTools(t, [TOOL.podman]) || !requireRoot(t, 'podman with overlay storage runs as root')) return;
  const dir = await scratchDir(t, 'df-containers-');
  const { registry, image, name } = await registryWithImage(t, dir);
  // skopeo and podman send neither ns= nor a header: the mirror's configured upstream applies.
  const cluster = await startCluster(t, { peers: 1, seed: false, config: { proxy: { registryMirror: { addr: registry.url } } } });
  const proxyPort = cluster.peers[0]!.ports.proxy;
  const dead = `127.0.0.1:${await closedPort()}`;
  const registriesConf = await writeRegistriesConf(join(dir, 'conf'), { prefix: dead, location: dead, mirror: `127.0.0.1:${proxyPort}` });
  const ref = `${dead}/${name}:1`;
  await registry.settle();
  registry.clearLog();

  const copy = await skopeoPull(ref, { home: join(dir, 'skopeo-home'), dest: `dir:${join(dir, 'copy')}`, registriesConf });
  assert.equal(copy.code, 0, copy.stderr);
  for (const layer of image.layers) {
    const bytes = await readFile(join(dir, 'copy', layer.digest.slice('sha256:'.length)));
    assert.equal(`sha256:${createHash('sha256').update(bytes).digest('hex')}`, layer.digest);
  }

  const podman = await podmanPull(ref, { dir: join(dir, 'podman'), registriesConf });
  assert.equal(podman.code, 0, podman.stderr);

  await registry.settle();
  for (const layer of image.layers) {
    const served = registry.blobBytesServed(layer.digest);
    assert.ok(served >= layer.size && served <= layer.size + 1, `registry served ${served} bytes of a ${layer.size}-byte blob for skopeo then podman`);
  }
});

test('containerd with credentials pulls a private image through the mirror; without them it fails like a direct pull', async (t) => {
  if (!haveRegistryTools(t) || !requireTools(t, [TOOL.containerd, TOOL.ctr, TOOL.htpasswd]) || !requireRoot(t, 'containerd runs as root')) return;
  const alice = { user: 'alice', password: 'pull-secret' };
  const cluster = await startCluster(t, { peers: 1, seed: false });
  const { registry, image, name } = await registryWithImage(t, cluster.dir, { auth: alice, layers: [6 * 1024 * 1024] });
  const ref = `${registry.host}/${name}:1`;
  const node = cluster.peers[0]!;
  const certsDir = join(cluster.dir, 'certs.d');
  const setup = await runCommand(process.execPath, [DFDAEMON_BIN, 'init-runtime', '--runtime', 'containerd', '--containerd-certs-dir', certsDir, '--registry', `http://${registry.host}`, '--mirror', `http://127.0.0.1:${node.ports.proxy}`], { env: { ...process.env, NODE_OPTIONS: '' } });
  assert.equal(setup.code, 0, setup.stderr);
  const runtimes = await scratchDir(t, 'df-containerd-');

  const anonymous = await startContainerd(t, join(runtimes, 'anonymous'));
  const refused = await anonymous.pull(ref, { hostsDir: certsDir });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr + refused.stdout, /401 Unauthorized/);

  const entitled = await startContainerd(t, join(runtimes, 'entitled'));
  const pulled = await entitled.pull(ref, { hostsDir: certsDir, user: `${alice.user}:${alice.password}` });
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.ok((await entitled.imageContentDigests(ref)).includes(image.layers[0]!.digest));
  // It came through the daemon: the layer is a task there.
  const traffic = await downloadTraffic(node);
  assert.ok(traffic.back_to_source >= image.layers[0]!.size, 'the layer did not go through the daemon');

  // The layer is now in the daemon's store; an anonymous pull still cannot have it.
  const again = await anonymous.pull(ref, { hostsDir: certsDir });
  assert.notEqual(again.code, 0);
});

test('when the mirror answers a blob with the upstream\'s 5xx, containerd falls back to the registry for that blob', async (t) => {
  if (!haveRegistryTools(t) || !requireTools(t, [TOOL.containerd, TOOL.ctr]) || !requireRoot(t, 'containerd runs as root')) return;
  const cluster = await startCluster(t, { peers: 1, seed: false });
  const { registry, image, name } = await registryWithImage(t, cluster.dir, { layers: [5 * 1024 * 1024] });
  // The mirror's upstream fails every blob GET; manifests go through it to the registry.
  const front = await failingFront(registry.url, (method, url) => (method === 'GET' && url.includes('/blobs/') ? 503 : undefined));
  t.onTestFinished(() => new Promise<void>((resolve) => front.close(() => resolve())));
  const hostsDir = join(cluster.dir, 'certs.d');
  await writeHostsToml(hostsDir, registry.host, {
    server: registry.url,
    mirror: `http://127.0.0.1:${cluster.peers[0]!.ports.proxy}`,
    headers: { 'X-Dragonfly-Registry': `http://127.0.0.1:${(front.address() as AddressInfo).port}` },
  });
  const containerd = await startContainerd(t, join(await scratchDir(t, 'df-containerd-'), 'node'));
  await registry.settle();
  registry.clearLog();
  const pull = await containerd.pull(`${registry.host}/${name}:1`, { hostsDir });
  assert.equal(pull.code, 0, pull.stderr);
  assert.ok((await containerd.imageContentDigests(`${registry.host}/${name}:1`)).includes(image.layers[0]!.digest));
  await registry.settle();
  // The layer came from the registry straight to containerd, after the mirror's 503.
  const direct = registry.requests().filter((r) => r.kind === 'blob' && r.digest === image.layers[0]!.digest && r.method === 'GET' && r.status === 200);
  assert.ok(direct.length >= 1, 'containerd did not fetch the layer from the registry itself');
});

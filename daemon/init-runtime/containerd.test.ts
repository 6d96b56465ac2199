/** containerd hosts.toml rendering: exact text, and what containerd's TOML parser would read from it. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { parse } from 'smol-toml';
import { hostsTomlPath, renderHostsToml } from './containerd.ts';
import { parseMirror, parseRegistry } from './registry.ts';

const MIRROR = parseMirror('http://127.0.0.1:4001');

test('docker.io: Dragonfly dfinit layout, exact text', () => {
  assert.equal(
    renderHostsToml(parseRegistry('docker.io', { plainHttp: false }), MIRROR),
    [
      '# Written by dfdaemon init-runtime: pulls from docker.io go through the dfdaemon registry mirror first.',
      'server = "https://registry-1.docker.io"',
      '',
      '[host."http://127.0.0.1:4001"]',
      '  capabilities = ["pull", "resolve"]',
      '',
      '[host."http://127.0.0.1:4001".header]',
      '  X-Dragonfly-Registry = "https://index.docker.io"',
      '',
    ].join('\n'),
  );
});

test('hosts.toml parses to server, mirror host with capabilities and the registry header', () => {
  const cases: Array<[string, boolean, string, Record<string, unknown>]> = [
    ['docker.io', false, 'http://127.0.0.1:4001', { server: 'https://registry-1.docker.io', registry: 'https://index.docker.io' }],
    ['127.0.0.1:5000', true, 'http://127.0.0.1:4001', { server: 'http://127.0.0.1:5000', registry: 'http://127.0.0.1:5000' }],
    ['ghcr.io', false, 'https://mirror.local:8443', { server: 'https://ghcr.io', registry: 'https://ghcr.io' }],
    ['[::1]:5000', false, 'http://[::1]:4001', { server: 'https://[::1]:5000', registry: 'https://[::1]:5000' }],
    ['_default', false, 'http://127.0.0.1:4001', { server: undefined, registry: undefined }],
  ];
  for (const [registry, plainHttp, mirrorUrl, expected] of cases) {
    const mirror = parseMirror(mirrorUrl);
    const document = parse(renderHostsToml(parseRegistry(registry, { plainHttp }), mirror)) as {
      server?: string;
      host: Record<string, { capabilities: string[]; header?: Record<string, string> }>;
    };
    assert.equal(document.server, expected.server, registry);
    assert.deepEqual(Object.keys(document.host), [mirror.origin], registry);
    const host = document.host[mirror.origin]!;
    assert.deepEqual(host.capabilities, ['pull', 'resolve'], registry);
    assert.deepEqual(host.header && { ...host.header }, expected.registry === undefined ? undefined : { 'X-Dragonfly-Registry': expected.registry }, registry);
  }
});

test('hosts.toml path: <certs dir>/<registry>/hosts.toml', () => {
  assert.equal(hostsTomlPath('/etc/containerd/certs.d', parseRegistry('127.0.0.1:5000', { plainHttp: true })), '/etc/containerd/certs.d/127.0.0.1:5000/hosts.toml');
  assert.equal(hostsTomlPath('/c', parseRegistry('_default', { plainHttp: false })), '/c/_default/hosts.toml');
});

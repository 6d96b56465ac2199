/** Registry and mirror flag values, table-driven. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { parseMirror, parseRegistry } from './registry.ts';

test('registries: upstream server and X-Dragonfly-Registry per registry', () => {
  const cases: Array<[string, boolean, { host: string; server: string | undefined; registryHeader: string | undefined; plainHttp: boolean }]> = [
    ['docker.io', false, { host: 'docker.io', server: 'https://registry-1.docker.io', registryHeader: 'https://index.docker.io', plainHttp: false }],
    ['index.docker.io', false, { host: 'docker.io', server: 'https://registry-1.docker.io', registryHeader: 'https://index.docker.io', plainHttp: false }],
    ['docker.io', true, { host: 'docker.io', server: 'https://registry-1.docker.io', registryHeader: 'https://index.docker.io', plainHttp: false }],
    ['https://docker.io', false, { host: 'docker.io', server: 'https://registry-1.docker.io', registryHeader: 'https://index.docker.io', plainHttp: false }],
    ['ghcr.io', false, { host: 'ghcr.io', server: 'https://ghcr.io', registryHeader: 'https://ghcr.io', plainHttp: false }],
    ['Quay.IO', false, { host: 'quay.io', server: 'https://quay.io', registryHeader: 'https://quay.io', plainHttp: false }],
    ['127.0.0.1:5000', false, { host: '127.0.0.1:5000', server: 'https://127.0.0.1:5000', registryHeader: 'https://127.0.0.1:5000', plainHttp: false }],
    ['127.0.0.1:5000', true, { host: '127.0.0.1:5000', server: 'http://127.0.0.1:5000', registryHeader: 'http://127.0.0.1:5000', plainHttp: true }],
    ['http://127.0.0.1:5000', false, { host: '127.0.0.1:5000', server: 'http://127.0.0.1:5000', registryHeader: 'http://127.0.0.1:5000', plainHttp: true }],
    ['https://registry.local:5000/', true, { host: 'registry.local:5000', server: 'https://registry.local:5000', registryHeader: 'https://registry.local:5000', plainHttp: false }],
    ['[::1]:5000', true, { host: '[::1]:5000', server: 'http://[::1]:5000', registryHeader: 'http://[::1]:5000', plainHttp: true }],
    ['_default', false, { host: '_default', server: undefined, registryHeader: undefined, plainHttp: false }],
  ];
  for (const [value, plainHttp, expected] of cases) {
    assert.deepEqual({ ...parseRegistry(value, { plainHttp }) }, expected, `${value} plainHttp=${plainHttp}`);
  }
});

test('registries: bad values are usage errors naming the value', () => {
  const bad = ['', 'docker.io/library', 'ftp://example.com', 'exa mple.com', 'host:0', 'host:70000', 'host:port', '-bad.com', '[::1', '[zz]:5000', 'http://docker.io', 'a'.repeat(64) + '.com'];
  for (const value of bad) {
    assert.throws(
      () => parseRegistry(value, { plainHttp: false }),
      (error: Error & { code?: string }) => error.code === 'DF_ERR_USAGE' && error.message.startsWith(`--registry ${value}`),
      value,
    );
  }
});

test('mirror: origin, host:port for registries.conf, plain http', () => {
  const cases: Array<[string, { origin: string; hostPort: string; plainHttp: boolean }]> = [
    ['http://127.0.0.1:4001', { origin: 'http://127.0.0.1:4001', hostPort: '127.0.0.1:4001', plainHttp: true }],
    ['http://127.0.0.1:4001/', { origin: 'http://127.0.0.1:4001', hostPort: '127.0.0.1:4001', plainHttp: true }],
    ['http://localhost', { origin: 'http://localhost', hostPort: 'localhost:80', plainHttp: true }],
    ['https://mirror.local', { origin: 'https://mirror.local', hostPort: 'mirror.local:443', plainHttp: false }],
    ['http://[::1]:4001', { origin: 'http://[::1]:4001', hostPort: '[::1]:4001', plainHttp: true }],
  ];
  for (const [value, expected] of cases) assert.deepEqual({ ...parseMirror(value) }, expected, value);
  for (const value of ['127.0.0.1:4001', 'ftp://x', 'http://127.0.0.1:4001/v2', 'http://u:p@127.0.0.1:4001', 'http://h?x=1', 'nonsense']) {
    assert.throws(() => parseMirror(value), (error: Error & { code?: string }) => error.code === 'DF_ERR_USAGE' && error.message.startsWith(`--mirror ${value}`), value);
  }
});

import assert from 'node:assert/strict';
import { test } from 'vitest';
import { ConfigError } from '../../api/index.ts';
import { parseSchedulerConfig, splitHostPort } from '../config.ts';

test("defaults are Dragonfly's", () => {
  const config = parseSchedulerConfig('');
  assert.deepEqual(config.server, {
    listenIP: '0.0.0.0',
    port: 8002,
    advertiseIP: undefined,
    advertisePort: 8002,
    host: undefined,
    // Mutual TLS off unless all three are set.
    tls: { caCert: undefined, cert: undefined, key: undefined },
  });
  assert.deepEqual(config.manager, { addr: '', addrs: [], schedulerClusterID: 0, keepAlive: { interval: 5_000 } });
  assert.deepEqual(config.dynconfig, { refreshInterval: 10_000, cacheDir: '/var/cache/dragonfly/scheduler' });
  assert.deepEqual(config.scheduler, {
    algorithm: 'default',
    backToSourceCount: 200,
    retryBackToSourceLimit: 4,
    retryLimit: 5,
    retryInterval: 500,
    filterParentLimit: 15,
    candidateParentLimit: 3,
    stripes: 0,
    gc: { pieceDownloadTimeout: 1_800_000, peerGCInterval: 10_000, peerTTL: 86_400_000, taskGCInterval: 1_800_000, hostGCInterval: 300_000, hostTTL: 3_600_000 },
  });
  assert.equal(config.seedPeer.enable, true);
  assert.equal(config.metrics.addr, ':8000');
  assert.equal(config.log.level, 'info');
});

test('bad configs name the key', () => {
  const cases: readonly [string, string][] = [
    ['scheduler:\n  gc:\n    hostTTLL: 1h\n', 'scheduler.gc.hostTTLL'],
    ['scheduler:\n  gc:\n    peerGCInterval: 0s\n', 'scheduler.gc.peerGCInterval'],
    ['scheduler:\n  candidateParentLimit: 0\n', 'scheduler.candidateParentLimit'],
    ['scheduler:\n  algorithm: ml\n', 'scheduler.algorithm'],
    ['metrics:\n  addr: localhost\n', 'metrics.addr'],
    ['manager:\n  addr: no-port\n', 'manager.addr'],
    ['manager:\n  addrs: [127.0.0.1:65003, no-port]\n', 'manager.addrs[1]'],
    ['manager:\n  keepAlive:\n    interval: 0s\n', 'manager.keepAlive.interval'],
    ['dynconfig:\n  refreshInterval: 0s\n', 'dynconfig.refreshInterval'],
    ['- a list\n', ''],
  ];
  for (const [text, path] of cases) {
    assert.throws(() => parseSchedulerConfig(text), (error: unknown) => error instanceof ConfigError && error.path === path, text);
  }
});

test('splitHostPort', () => {
  assert.deepEqual(splitHostPort(':8000'), { host: '', port: 8000 });
  assert.deepEqual(splitHostPort('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(splitHostPort('[::1]:9'), { host: '::1', port: 9 });
  assert.throws(() => splitHostPort('x:99999'), ConfigError);
});

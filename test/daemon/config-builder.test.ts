/**
 * The one dfdaemon.yaml writer: what it builds resolves through the daemon's own schema to the
 * values asked for, overrides merge key by key, and a wrong key or value fails at build time with
 * the ConfigError the daemon would give at start.
 */
import { test, describe } from 'vitest';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import {
  buildDfdaemonConfig,
  dfdaemonConfigTree,
  dfdaemonConfigYaml,
  mergeConfigTree,
  parseDfdaemonConfig,
  type DfdaemonConfigInput,
} from '../../daemon/index.ts';

const INPUT: DfdaemonConfigInput = {
  hostname: 'node-a',
  ip: '127.0.0.1',
  storageDir: '/tmp/df/node-a/storage',
  socketPath: '/tmp/df/node-a/dfdaemon.sock',
  schedulerAddrs: ['127.0.0.1:8002'],
};

describe('buildDfdaemonConfig', () => {
  test('the daemon resolves the text to what was asked: every port 0 by default, loopback servers, not a seed', () => {
    const { yaml, config } = buildDfdaemonConfig(INPUT);
    assert.deepEqual(parseDfdaemonConfig(yaml), config);
    assert.equal(config.host.hostname, 'node-a');
    assert.equal(config.host.ip, '127.0.0.1');
    assert.equal(config.storage.dir, INPUT.storageDir);
    assert.equal(config.download.server.socketPath, INPUT.socketPath);
    assert.deepEqual(config.scheduler.addrs, ['127.0.0.1:8002']);
    assert.equal(config.seedPeer.enable, false);
    assert.equal(config.log.level, 'info');
    const ports = [config.upload.server.port, config.storage.server.tcpPort, config.proxy.server.port, config.metrics.server.port, config.health.server.port];
    assert.deepEqual(ports, [0, 0, 0, 0, 0]);
    assert.deepEqual([config.upload.server.ip, config.storage.server.ip, config.metrics.server.ip, config.health.server.ip], ['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1']);
  });

  test('ports, seed, log level and the listen address come from the input', () => {
    const { config } = buildDfdaemonConfig({
      ...INPUT,
      ip: '10.1.2.3',
      seed: true,
      logLevel: 'debug',
      ports: { upload: 4100, pieces: 4105, proxy: 4101, metrics: 4102, health: 4103 },
    });
    assert.equal(config.seedPeer.enable, true);
    assert.equal(config.log.level, 'debug');
    assert.deepEqual(
      [config.upload.server.port, config.storage.server.tcpPort, config.proxy.server.port, config.metrics.server.port, config.health.server.port],
      [4100, 4105, 4101, 4102, 4103],
    );
    assert.equal(config.upload.server.ip, '10.1.2.3');
    assert.equal(config.storage.server.ip, '10.1.2.3');
  });

  test('overrides merge key by key over the input and replace lists', () => {
    const { config } = buildDfdaemonConfig({
      ...INPUT,
      schedulerAddrs: ['127.0.0.1:1', '127.0.0.1:2'],
      overrides: {
        scheduler: { addrs: ['127.0.0.1:3'], announceInterval: '2s' },
        storage: { keep: true, server: { advertisePort: 5005 } },
        download: { concurrentPieceCount: 16 },
      },
    });
    assert.deepEqual(config.scheduler.addrs, ['127.0.0.1:3']);
    assert.equal(config.scheduler.announceInterval, 2_000);
    assert.equal(config.storage.keep, true);
    assert.equal(config.storage.server.advertisePort, 5005);
    assert.equal(config.storage.server.ip, '127.0.0.1', 'a sibling of an overridden key stays');
    assert.equal(config.storage.dir, INPUT.storageDir);
    assert.equal(config.download.concurrentPieceCount, 16);
    assert.equal(config.download.server.socketPath, INPUT.socketPath);
  });

  const BAD: ReadonlyArray<{ name: string; input: DfdaemonConfigInput; path: string }> = [
    { name: 'an unknown key', input: { ...INPUT, overrides: { storage: { sever: {} } } }, path: 'storage.sever' },
    { name: 'a port out of range', input: { ...INPUT, ports: { pieces: 70_000 } }, path: 'storage.server.tcpPort' },
    { name: 'a scheduler address without a port', input: { ...INPUT, schedulerAddrs: ['127.0.0.1'] }, path: 'scheduler.addrs[0]' },
    { name: 'a duration that is not one', input: { ...INPUT, overrides: { download: { pieceTimeout: 'soon' } } }, path: 'download.pieceTimeout' },
    { name: 'an empty storage dir', input: { ...INPUT, storageDir: '' }, path: 'storage.dir' },
  ];
  for (const c of BAD) {
    test(`${c.name} fails at build with DF_ERR_INVALID_CONFIG naming ${c.path}`, () => {
      assert.throws(
        () => buildDfdaemonConfig(c.input),
        (error: { code?: string; path?: string }) => {
          assert.equal(error.code, 'DF_ERR_INVALID_CONFIG');
          assert.equal(error.path, c.path);
          return true;
        },
      );
      assert.throws(() => dfdaemonConfigYaml(dfdaemonConfigTree(c.input)), { code: 'DF_ERR_INVALID_CONFIG' });
    });
  }
});

test('dfdaemonConfigTree is unchecked and the YAML of a valid tree is that tree', () => {
  const bad = dfdaemonConfigTree({ ...INPUT, overrides: { manager: { addr: 'x' } } });
  assert.deepEqual(bad['manager'], { addr: 'x' });
  const tree = dfdaemonConfigTree(INPUT);
  assert.deepEqual(parse(dfdaemonConfigYaml(tree)), tree);
});

test('mergeConfigTree changes neither input', () => {
  const base = { a: { b: 1, c: [1, 2] }, d: 'x' };
  const extra = { a: { c: [3] }, e: true };
  assert.deepEqual(mergeConfigTree(base, extra), { a: { b: 1, c: [3] }, d: 'x', e: true });
  assert.deepEqual(base, { a: { b: 1, c: [1, 2] }, d: 'x' });
  assert.deepEqual(extra, { a: { c: [3] }, e: true });
});

import { test } from 'vitest';
import assert from 'node:assert/strict';
import { ConfigError, field, resolveConfig } from '../index.ts';

const schema = {
  server: field.object({
    port: field.int(8002, { min: 1, max: 65535 }),
    listenIP: field.string('0.0.0.0'),
  }),
  scheduler: field.object({
    algorithm: field.string('default', { allowed: ['default', 'random'] }),
    retryInterval: field.duration('500ms'),
    gc: field.object({ peerTTL: field.duration('24h') }),
  }),
  upload: field.object({ bandwidthLimit: field.rate('50GB/s'), pieceLength: field.size('4MiB') }),
  seedPeer: field.object({ enable: field.bool(false) }),
  rules: field.list([]),
  name: field.optionalString(),
};

test('defaults fill an empty file and the result is frozen', () => {
  const config = resolveConfig(schema, undefined);
  assert.equal(config.server.port, 8002);
  assert.equal(config.scheduler.retryInterval, 500);
  assert.equal(config.scheduler.gc.peerTTL, 86_400_000);
  assert.equal(config.upload.bandwidthLimit, 4e11);
  assert.equal(config.upload.pieceLength, 4 << 20);
  assert.equal(config.seedPeer.enable, false);
  assert.equal(config.name, undefined);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.server) && Object.isFrozen(config.rules));
});

test('given values override defaults, units convert', () => {
  const config = resolveConfig(schema, {
    server: { port: 9000 },
    scheduler: { retryInterval: '2s', gc: { peerTTL: '1h' } },
    upload: { bandwidthLimit: '100Mbps', pieceLength: '8MiB' },
    seedPeer: { enable: true },
    rules: ['a', 'b'],
    name: 'x',
  });
  assert.equal(config.server.port, 9000);
  assert.equal(config.server.listenIP, '0.0.0.0');
  assert.equal(config.scheduler.retryInterval, 2000);
  assert.equal(config.scheduler.gc.peerTTL, 3_600_000);
  assert.equal(config.upload.bandwidthLimit, 1e8);
  assert.equal(config.upload.pieceLength, 8 << 20);
  assert.deepEqual(config.rules, ['a', 'b']);
  assert.equal(config.name, 'x');
});

test('every bad value names its key path', () => {
  const cases: Array<[unknown, string, RegExp]> = [
    [{ server: { prot: 1 } }, 'server.prot', /unknown key; allowed here: port, listenIP/],
    [{ bogus: 1 }, 'bogus', /unknown key/],
    [{ server: { port: 0 } }, 'server.port', /at least 1/],
    [{ server: { port: 70000 } }, 'server.port', /at most 65535/],
    [{ server: { port: '80' } }, 'server.port', /integer/],
    [{ scheduler: { algorithm: 'magic' } }, 'scheduler.algorithm', /not one of default, random/],
    [{ scheduler: { retryInterval: 'soon' } }, 'scheduler.retryInterval', /duration/],
    [{ scheduler: { gc: { peerTTL: true } } }, 'scheduler.gc.peerTTL', /expected e\.g\. 30s/],
    [{ upload: { bandwidthLimit: '5 furlongs' } }, 'upload.bandwidthLimit', /rate/],
    [{ seedPeer: { enable: 'yes' } }, 'seedPeer.enable', /true or false/],
    [{ seedPeer: 3 }, 'seedPeer', /mapping/],
    [{ rules: 'a' }, 'rules', /list of strings/],
    [[], '', /mapping/],
  ];
  for (const [raw, path, message] of cases) {
    assert.throws(() => resolveConfig(schema, raw), (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.path, path);
      assert.equal(error.code, 'DF_ERR_INVALID_CONFIG');
      assert.match(error.message, message);
      return true;
    }, JSON.stringify(raw));
  }
});

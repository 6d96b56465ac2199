import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'vitest';
import { addon, loadAddon, nativeLoadError } from '../../addon/index.ts';
import { nativeSkipReason } from './helpers.ts';

const INDEX_URL = new URL('../../addon/index.ts', import.meta.url).href;

function kindInChild(env: Record<string, string>): string {
  const code = `import { addon, nativeLoadError } from ${JSON.stringify(INDEX_URL)}; console.log(addon.kind, nativeLoadError()?.message ?? '-');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('forceFallback returns the JS implementation, once per process', () => {
  const a = loadAddon({ forceFallback: true });
  assert.equal(a.kind, 'fallback');
  assert.equal(loadAddon({ forceFallback: true }), a);
  assert.ok(Object.isFrozen(a));
});

test('the default export is what loadAddon() returns', () => {
  assert.equal(addon, loadAddon());
});

test('DF_NO_ADDON=1 forces the fallback and says why', () => {
  assert.equal(kindInChild({ DF_NO_ADDON: '1' }), 'fallback native addon disabled by DF_NO_ADDON=1');
});

test.skipIf(nativeSkipReason !== false)('without DF_NO_ADDON the native addon is used when built', () => {
  assert.equal(addon.kind, 'native');
  assert.equal(nativeLoadError(), undefined);
  assert.equal(kindInChild({ DF_NO_ADDON: '' }), 'native -');
});

test.skipIf(nativeSkipReason !== false)('the addon loads and works in worker threads (context-aware module)', async () => {
  const { Worker } = await import('node:worker_threads');
  const code = `
    import { parentPort } from 'node:worker_threads';
    import { addon } from ${JSON.stringify(INDEX_URL)};
    const h = addon.createHasher('sha256');
    h.update(new TextEncoder().encode('abc'));
    parentPort.postMessage([addon.kind, h.digestHex(), addon.crc32(new TextEncoder().encode('123456789'))]);
  `;
  const results = await Promise.all(
    [0, 1].map(
      () =>
        new Promise((resolve, reject) => {
          const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`));
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  for (const r of results) {
    assert.deepEqual(r, ['native', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 0xcbf43926]);
  }
});

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'vitest';
import zlib from 'node:zlib';
import { addonError, fallbackAddon, implementations, native, nativeSkipReason, ODD_SIZES, random } from './helpers.ts';

for (const { name, addon, skip } of implementations) {
  describe.skipIf(skip !== false)(`${name} addon: crc32 and hashers`, () => {
    test('crc32 equals zlib.crc32 on random data of odd sizes', () => {
      for (const size of ODD_SIZES) {
        const data = random(size);
        assert.equal(addon.crc32(data), zlib.crc32(data), `size ${size}`);
      }
      assert.equal(addon.crc32(Buffer.from('123456789')), 0xcbf43926);
    });

    test('crc32 running value: split input gives the value of the whole input', () => {
      const data = random((1 << 20) + 7);
      const whole = addon.crc32(data);
      for (const cut of [0, 1, 63, 64, 65, 4096, data.length - 1, data.length]) {
        const first = addon.crc32(data.subarray(0, cut));
        assert.equal(addon.crc32(data.subarray(cut), first), whole, `cut at ${cut}`);
      }
      assert.equal(addon.crc32(new Uint8Array(0), 0xdeadbeef), 0xdeadbeef);
    });

    test('crc32 hashes the bytes of any view and result is unsigned', () => {
      const bytes = random(64);
      const words = new Int32Array(bytes.buffer, bytes.byteOffset, 16);
      assert.equal(addon.crc32(words as unknown as Uint8Array), zlib.crc32(bytes));
      const value = addon.crc32(Buffer.from([0xff, 0xff, 0xff, 0xff]));
      assert.ok(value >= 0 && value <= 0xffffffff && Number.isInteger(value));
    });

    test('crc32 rejects bad arguments with DF_ERR_ADDON_INVALID_ARGUMENT', () => {
      const invalid = addonError('DF_ERR_ADDON_INVALID_ARGUMENT');
      assert.throws(() => addon.crc32('abc' as unknown as Uint8Array), addonError('DF_ERR_ADDON_INVALID_ARGUMENT', 'crc32: data must be a Uint8Array, got string'));
      assert.throws(() => addon.crc32(new Uint8Array(1), -1), invalid);
      assert.throws(() => addon.crc32(new Uint8Array(1), 2 ** 32), invalid);
      assert.throws(() => addon.crc32(new Uint8Array(1), 1.5), invalid);
    });

    for (const algorithm of ['sha256', 'sha512'] as const) {
      test(`${algorithm} hasher equals node:crypto, fed in uneven pieces`, () => {
        for (const size of ODD_SIZES) {
          const data = random(size);
          const hasher = addon.createHasher(algorithm);
          for (let at = 0, step = 1; at < size; at += step, step = step * 3 + 1) {
            hasher.update(data.subarray(at, Math.min(size, at + step)));
          }
          assert.equal(hasher.digestHex(), createHash(algorithm).update(data).digest('hex'), `size ${size}`);
        }
      });
    }

    test('digestHex ends the hasher', () => {
      const hasher = addon.createHasher('sha256');
      hasher.update(Buffer.from('abc'));
      assert.equal(hasher.digestHex(), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
      assert.throws(() => hasher.digestHex(), addonError('DF_ERR_ADDON_HASHER_FINISHED', 'hasher.digestHex: hasher already finished by digestHex()'));
      assert.throws(() => hasher.update(Buffer.from('x')), addonError('DF_ERR_ADDON_HASHER_FINISHED'));
    });

    test('createHasher rejects algorithms other than sha256 and sha512', () => {
      assert.throws(
        () => addon.createHasher('md5' as 'sha256'),
        addonError('DF_ERR_ADDON_INVALID_ARGUMENT', "createHasher: algorithm must be 'sha256' or 'sha512', got 'md5'"),
      );
      assert.throws(() => addon.createHasher('crc32' as 'sha256'), addonError('DF_ERR_ADDON_INVALID_ARGUMENT'));
      assert.throws(() => addon.createHasher(undefined as unknown as 'sha256'), addonError('DF_ERR_ADDON_INVALID_ARGUMENT'));
    });
  });
}

test.skipIf(nativeSkipReason !== false)('native and fallback agree on random inputs', () => {
  assert.ok(native);
  for (let i = 0; i < 200; i++) {
    const size = i < 100 ? i : Math.floor(Math.random() * 300_000);
    const data = random(size);
    const initial = Math.floor(Math.random() * 2 ** 32);
    assert.equal(native.crc32(data, initial), fallbackAddon.crc32(data, initial), `crc32 size ${size}`);
    for (const algorithm of ['sha256', 'sha512'] as const) {
      const a = native.createHasher(algorithm);
      const b = fallbackAddon.createHasher(algorithm);
      a.update(data);
      b.update(data);
      assert.equal(a.digestHex(), b.digestHex(), `${algorithm} size ${size}`);
    }
  }
});

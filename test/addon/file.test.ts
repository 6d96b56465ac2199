import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'vitest';
import zlib from 'node:zlib';
import { addonError, fallbackAddon, implementations, native, nativeSkipReason, random, tempDir } from './helpers.ts';

const MiB = 1 << 20;

function reference(data: Uint8Array, algorithm: 'sha256' | 'sha512' | 'crc32'): string {
  return algorithm === 'crc32' ? String(zlib.crc32(data)) : createHash(algorithm).update(data).digest('hex');
}

function openWith(t: { onTestFinished(fn: () => void): void }, data: Uint8Array): number {
  const file = path.join(tempDir(t), 'data.bin');
  fs.writeFileSync(file, data);
  const fd = fs.openSync(file, 'r+');
  t.onTestFinished(() => fs.closeSync(fd));
  return fd;
}

for (const { name, addon, skip } of implementations) {
  describe.skipIf(skip !== false)(`${name} addon: file ranges`, () => {
    test('hashFileRange and hashFileRangeSync equal the hash of the slice, at odd offsets and lengths', async (t) => {
      const data = random(3 * MiB + 13);
      const fd = openWith(t, data);
      const ranges: Array<[number, number]> = [
        [0, 0], [0, 1], [1, 63], [7, 64], [13, 65], [MiB - 1, MiB + 7], [5, data.length - 5], [0, data.length], [data.length, 0],
      ];
      for (const algorithm of ['sha256', 'sha512', 'crc32'] as const) {
        for (const [offset, length] of ranges) {
          const expected = reference(data.subarray(offset, offset + length), algorithm);
          assert.equal(await addon.hashFileRange(fd, offset, length, algorithm), expected, `${algorithm} ${offset}+${length}`);
          assert.equal(addon.hashFileRangeSync(fd, offset, length, algorithm), expected, `sync ${algorithm} ${offset}+${length}`);
        }
      }
    });

    test('concurrent hashFileRange calls do not share state', async (t) => {
      const data = random(5 * MiB + 3);
      const fd = openWith(t, data);
      const ranges = Array.from({ length: 8 }, (_, i) => [i * 511 * 1024 + i, MiB + i * 3] as const);
      const got = await Promise.all(ranges.map(([o, l]) => addon.hashFileRange(fd, o, l, 'sha256')));
      got.forEach((digest, i) => {
        const [o, l] = ranges[i]!;
        assert.equal(digest, reference(data.subarray(o, o + l), 'sha256'));
      });
    });

    test('a range past end of file is an error naming the range and the size', async (t) => {
      const fd = openWith(t, random(120));
      await assert.rejects(
        addon.hashFileRange(fd, 100, 50, 'sha256'),
        addonError('DF_ERR_ADDON_RANGE_PAST_EOF', 'hashFileRange: range 100+50 is past end of file (120 bytes)'),
      );
      assert.throws(
        () => addon.hashFileRangeSync(fd, 100, 50, 'crc32'),
        addonError('DF_ERR_ADDON_RANGE_PAST_EOF', 'hashFileRangeSync: range 100+50 is past end of file (120 bytes)'),
      );
      assert.throws(() => addon.hashFileRangeSync(fd, 121, 0, 'crc32'), addonError('DF_ERR_ADDON_RANGE_PAST_EOF'));
      assert.equal(addon.hashFileRangeSync(fd, 120, 0, 'crc32'), '0');
    });

    test('bad descriptors and arguments fail with stable codes', async () => {
      await assert.rejects(addon.hashFileRange(1_000_000, 0, 1, 'sha256'), (err: unknown) => {
        assert.equal((err as { errno?: string }).errno, 'EBADF');
        return addonError('DF_ERR_ADDON_IO')(err);
      });
      const invalid = addonError('DF_ERR_ADDON_INVALID_ARGUMENT');
      await assert.rejects(addon.hashFileRange(0, -1, 1, 'sha256'), addonError('DF_ERR_ADDON_INVALID_ARGUMENT', 'hashFileRange: offset must be a non-negative safe integer, got -1'));
      await assert.rejects(addon.hashFileRange(0, 0, 1.5, 'sha256'), invalid);
      await assert.rejects(addon.hashFileRange(0, 0, 1, 'md5' as 'sha256'), invalid);
      assert.throws(() => addon.hashFileRangeSync(-1, 0, 1, 'sha256'), addonError('DF_ERR_ADDON_INVALID_ARGUMENT', 'hashFileRangeSync: fd must be a non-negative integer, got -1'));
      await assert.rejects(addon.writeAt(0, 'x' as unknown as Uint8Array, 0), invalid);
      await assert.rejects(addon.allocate(0, 0, -5), invalid);
    });

    test('updateHasherFromFile continues a hasher, including one from the other implementation', async (t) => {
      const data = random(2 * MiB + 5);
      const fd = openWith(t, data);
      for (const hasher of [addon.createHasher('sha512'), fallbackAddon.createHasher('sha512'), native?.createHasher('sha512')]) {
        if (hasher === undefined) continue;
        hasher.update(Buffer.from('prefix'));
        addon.updateHasherFromFile(hasher, fd, 3, 5);
        addon.updateHasherFromFile(hasher, fd, 8, 0);
        addon.updateHasherFromFile(hasher, fd, 8, data.length - 8);
        const expected = createHash('sha512').update('prefix').update(data.subarray(3)).digest('hex');
        assert.equal(hasher.digestHex(), expected);
      }
      const h = addon.createHasher('sha256');
      assert.throws(() => addon.updateHasherFromFile(h, fd, data.length, 1), addonError('DF_ERR_ADDON_RANGE_PAST_EOF'));
      h.digestHex();
      assert.throws(() => addon.updateHasherFromFile(h, fd, 0, 1), addonError('DF_ERR_ADDON_HASHER_FINISHED'));
    });

    test('writeAt at 10 MiB into an empty file leaves a hole before the data', async (t) => {
      const fd = openWith(t, new Uint8Array(0));
      const data = random(4097);
      assert.equal(await addon.writeAt(fd, data, 10 * MiB), data.length);
      const st = fs.fstatSync(fd);
      assert.equal(st.size, 10 * MiB + data.length);
      assert.ok(st.blocks * 512 < MiB, `expected a sparse file, ${st.blocks} blocks allocated`);
      const back = Buffer.alloc(data.length);
      fs.readSync(fd, back, 0, back.length, 10 * MiB);
      assert.ok(back.equals(data));
      const hole = Buffer.alloc(4096, 1);
      fs.readSync(fd, hole, 0, hole.length, 5 * MiB);
      assert.ok(hole.every((b) => b === 0));
      assert.equal(await addon.writeAt(fd, new Uint8Array(0), 3), 0);
      assert.equal(fs.fstatSync(fd).size, 10 * MiB + data.length);
    });

    test('concurrent writeAt calls with unreferenced buffers land intact', async (t) => {
      const fd = openWith(t, new Uint8Array(0));
      const pieces = Array.from({ length: 16 }, (_, i) => ({ offset: i * 300_007, data: random(300_007) }));
      // The buffers are only referenced by the pending writes; the addon must keep them alive.
      const written = await Promise.all(pieces.map((p) => addon.writeAt(fd, new Uint8Array(p.data), p.offset)));
      assert.deepEqual(written, pieces.map((p) => p.data.length));
      const whole = Buffer.concat(pieces.map((p) => p.data));
      assert.equal(await addon.hashFileRange(fd, 0, whole.length, 'sha256'), reference(whole, 'sha256'));
    });

    test('allocate reserves blocks and grows the file, or declines and changes nothing', async (t) => {
      const fd = openWith(t, new Uint8Array(0));
      const reserved = await addon.allocate(fd, 4096, 4 * MiB);
      const st = fs.fstatSync(fd);
      if (reserved) {
        assert.equal(st.size, 4096 + 4 * MiB);
        assert.ok(st.blocks * 512 >= 4 * MiB);
      } else {
        assert.equal(name, 'fallback', 'native fallocate should work on this file system');
        assert.equal(st.size, 0);
      }
      assert.equal(await addon.allocate(fd, 0, 0), true);
      await assert.rejects(addon.allocate(1_000_000, 0, 1), addonError('DF_ERR_ADDON_IO'));
    });
  });
}

test.skipIf(nativeSkipReason !== false)('native and fallback give identical file-range results', async (t) => {
  assert.ok(native);
  const data = random(MiB + 77);
  const fd = openWith(t, data);
  for (let i = 0; i < 50; i++) {
    const offset = Math.floor(Math.random() * data.length);
    const length = Math.floor(Math.random() * (data.length - offset + 1));
    for (const algorithm of ['sha256', 'crc32'] as const) {
      assert.equal(await native.hashFileRange(fd, offset, length, algorithm), await fallbackAddon.hashFileRange(fd, offset, length, algorithm));
    }
  }
});

import { test } from 'vitest';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../support/temp.ts';
import { runCommand } from '../support/registry/index.ts';
import { ustarHeader, writeRandomTar } from '../support/registry/tar.ts';

test('a random-content tar is read back by GNU tar with the right name, size and mode', async (t) => {
  const dir = await tempDir(t, 'df-e2e-tar-');
  for (const size of [0, 1, 511, 512, 513, (1 << 20) + 7]) {
    const path = join(dir, `${size}.tar`);
    await writeRandomTar(path, 'layer-0.bin', size);
    assert.equal((await stat(path)).size, 512 + Math.ceil(size / 512) * 512 + 1024, `archive size for ${size}`);
    const listing = await runCommand('tar', ['-tvf', path]);
    assert.equal(listing.code, 0, listing.stderr);
    assert.match(listing.stdout, new RegExp(`^-rw-r--r-- root/root +${size} \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d layer-0\\.bin\\n$`));
  }
  const a = join(dir, 'a.tar');
  const b = join(dir, 'b.tar');
  await writeRandomTar(a, 'x', 4096);
  await writeRandomTar(b, 'x', 4096);
  assert.notEqual((await runCommand('cmp', ['-s', a, b])).code, 0, 'two layers of the same size differ');
});

test('bad tar entries are refused', () => {
  assert.throws(() => ustarHeader('', 1), { code: 'DF_E2E_BAD_ARGUMENT' });
  assert.throws(() => ustarHeader('x'.repeat(101), 1), { code: 'DF_E2E_BAD_ARGUMENT' });
  assert.throws(() => ustarHeader('x', 8 * 2 ** 30), { code: 'DF_E2E_BAD_ARGUMENT', message: /size/ });
});

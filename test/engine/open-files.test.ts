/**
 * The piece sender's shared read handles, on real files: one handle serves every transfer of a
 * file, it closes once idle, a file replaced at the same path (a task removed and downloaded
 * again) is never read through the old handle, and a missing file fails like open(2).
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { fstatSync, readSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OpenFiles } from '../../engine/index.ts';
import { tempDir, waitFor } from '../support/temp.ts';

function readAll(fd: number, length: number): string {
  const buffer = Buffer.alloc(length);
  return buffer.subarray(0, readSync(fd, buffer, 0, length, 0)).toString();
}

function isOpen(fd: number): boolean {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

test('transfers of one file share one handle, which closes once the last use has been idle', async (t) => {
  const path = join(await tempDir(t), 'task.data');
  await writeFile(path, 'first');
  const files = new OpenFiles(100);
  const a = await files.acquire(path);
  const b = await files.acquire(path);
  assert.equal(a.fd, b.fd);
  assert.equal(readAll(a.fd, 16), 'first');
  a.release();
  a.release(); // a second release of one use changes nothing
  b.release();
  const c = await files.acquire(path);
  assert.equal(c.fd, a.fd, 'reused within the idle time');
  c.release();
  await waitFor('the idle handle closed', () => files.size === 0, 5_000);
  await waitFor('its descriptor closed', () => !isOpen(c.fd), 5_000);
});

test('a file replaced at the same path is read through a new handle; the old one closes when its transfer ends', async (t) => {
  const path = join(await tempDir(t), 'task.data');
  await writeFile(path, 'old bytes');
  const files = new OpenFiles(60_000);
  const old = await files.acquire(path);
  await rm(path);
  await writeFile(path, 'new bytes');
  const fresh = await files.acquire(path);
  assert.notEqual(fresh.fd, old.fd);
  assert.equal(readAll(fresh.fd, 16), 'new bytes');
  assert.equal(readAll(old.fd, 16), 'old bytes', 'a transfer under way keeps its file');
  old.release();
  await waitFor('the replaced file\'s handle closed', () => !isOpen(old.fd), 5_000);
  assert.equal(files.size, 1);
  fresh.release();
});

test('a missing file fails as open(2) does and leaves nothing cached', async (t) => {
  const path = join(await tempDir(t), 'gone.data');
  const files = new OpenFiles();
  await assert.rejects(files.acquire(path), { code: 'ENOENT' });
  assert.equal(files.size, 0);
  await writeFile(path, 'here now');
  const file = await files.acquire(path);
  assert.equal(readAll(file.fd, 16), 'here now');
  file.release();
});

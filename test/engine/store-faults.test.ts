/**
 * A task whose files cannot be read is kept and reported, never taken for absent (which would
 * start it afresh or let GC forget it). Faults are real: a metadata path that is a directory
 * (EISDIR), a symlink loop (ELOOP), a store folder that is a file (ENOTDIR), and chmod 000 read
 * by an unprivileged child process (EACCES; root would read through it).
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContentStore, TaskRegistry, type StoredTask } from '../../engine/index.ts';
import { tempDir } from '../support/temp.ts';

const TASK = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const BYTES = Buffer.from('the bytes of a finished task');
const INPUT = { taskId: TASK, url: 'http://origin.test/file', contentLength: BYTES.length, pieceLength: 4 * 1024 * 1024 };

/** A finished one-piece task on disk, as a download leaves it. */
async function finishedTask(store: ContentStore): Promise<void> {
  const task: StoredTask = await store.openTask(INPUT);
  await task.write([BYTES], 0);
  await task.finishPiece({ number: 0, offset: 0, length: BYTES.length, digest: 'crc32:1', costMs: 1, source: 'origin' });
  await store.markCompleted(task);
  await task.close();
}

/** Replaces a file by a directory of the same name: every read of it fails with EISDIR. */
async function turnIntoDirectory(path: string): Promise<void> {
  await rm(path);
  await mkdir(path);
}

async function storageCode(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (error: { code?: string; cause?: { code?: string } }) => {
    assert.equal(error.code, 'DF_ERR_STORAGE');
    assert.ok(error.cause, 'the filesystem error is kept as cause');
    return true;
  });
}

test('metadata unreadable (EISDIR): openTask fails and keeps the task bytes and journal', async (t) => {
  const store = new ContentStore(await tempDir(t));
  await finishedTask(store);
  const files = store.filesOf(TASK);
  const journal = await readFile(files.journalPath, 'utf8');
  await turnIntoDirectory(files.metadataPath);
  await storageCode(store.openTask(INPUT));
  assert.deepEqual(await readFile(files.dataPath), BYTES);
  assert.equal(await readFile(files.journalPath, 'utf8'), journal);
});

test('metadata unreadable (EISDIR): the registry reports it and remove() keeps it', async (t) => {
  const store = new ContentStore(await tempDir(t));
  await finishedTask(store);
  await turnIntoDirectory(store.filesOf(TASK).metadataPath);
  const registry = new TaskRegistry(store);
  await storageCode(registry.get(TASK));
  await storageCode(registry.list());
  await storageCode(registry.remove(TASK));
  assert.deepEqual(await readFile(store.filesOf(TASK).dataPath), BYTES);
});

test('journal unreadable (EISDIR): reading the task fails instead of showing no pieces', async (t) => {
  const store = new ContentStore(await tempDir(t));
  await finishedTask(store);
  await turnIntoDirectory(store.filesOf(TASK).journalPath);
  await storageCode(store.readTask(TASK));
  await storageCode(new TaskRegistry(store).get(TASK));
});

test('metadata path is a symlink loop (ELOOP): hasTask fails instead of answering no', async (t) => {
  const store = new ContentStore(await tempDir(t));
  const { metadataPath } = store.filesOf(OTHER);
  await mkdir(join(metadataPath, '..'), { recursive: true });
  await symlink(metadataPath, metadataPath);
  await storageCode(store.hasTask(OTHER));
  assert.equal(await store.hasTask(TASK), false, 'a task with no files at all is absent');
});

test('listing: a store not created yet is empty; a tasks folder that is a file (ENOTDIR) fails', async (t) => {
  const dir = await tempDir(t);
  assert.deepEqual(await new ContentStore(join(dir, 'not-yet')).listTaskIds(), []);
  const store = new ContentStore(join(dir, 'store'));
  await finishedTask(store);
  assert.deepEqual(await store.listTaskIds(), [TASK]);
  const root = join(dir, 'store', 'metadata', 'tasks');
  await rm(root, { recursive: true });
  await writeFile(root, 'not a folder');
  await storageCode(store.listTaskIds());
});

test('metadata chmod 000 read by an unprivileged process (EACCES): get() fails with DF_ERR_STORAGE', async (t) => {
  const dir = await tempDir(t);
  await chmod(dir, 0o755);
  const store = new ContentStore(dir);
  await finishedTask(store);
  await chmod(store.filesOf(TASK).metadataPath, 0o000);
  const engine = fileURLToPath(new URL('../../engine/index.ts', import.meta.url));
  // setuid only where we are root (an ordinary user is already stopped by mode 000), and only after
  // the engine is loaded: the checkout may sit in a directory only root can read.
  const script = `
    const { ContentStore, TaskRegistry } = await import(${JSON.stringify(engine)});
    if (process.getuid() === 0) process.setuid(65534);
    const registry = new TaskRegistry(new ContentStore(${JSON.stringify(dir)}));
    try { await registry.get(${JSON.stringify(TASK)}); console.log('no error'); }
    catch (error) { console.log(error.code, error.cause?.code); }`;
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000, signal: t.signal }, (error, out) =>
      error ? reject(error) : resolve(out),
    );
  });
  assert.equal(stdout.trim(), 'DF_ERR_STORAGE EACCES');
  assert.deepEqual(await readFile(store.filesOf(TASK).dataPath), BYTES);
});

/**
 * GC over a store it cannot fully read: the failure is logged as an error, and nothing is evicted
 * that was not read. Faults are real: statfs of a path under a regular file (ENOTDIR), task
 * metadata that is a directory (EISDIR).
 */
import { test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ContentStore, TaskRegistry } from '../../engine/index.ts';
import { StorageGc } from '../gc.ts';
import { createLogger } from '../log.ts';
import { tempDir } from './rig.ts';

const TASK = 'c'.repeat(64);
const BYTES = Buffer.from('bytes of a finished task');
const POLICY = { intervalMs: 60_000, taskTtlMs: 60_000, diskHighThresholdPercent: 90, diskLowThresholdPercent: 80 };

async function finishedTask(store: ContentStore): Promise<void> {
  const task = await store.openTask({ taskId: TASK, url: 'http://origin.test/f', contentLength: BYTES.length, pieceLength: 4 * 1024 * 1024 });
  await task.write([BYTES], 0);
  await task.finishPiece({ number: 0, offset: 0, length: BYTES.length, digest: 'crc32:1', costMs: 1, source: 'origin' });
  await store.markCompleted(task);
  await task.close();
}

type Line = { level: string; msg: string; error?: { code?: string } };

function recordingLogger(): { log: ReturnType<typeof createLogger>; lines: Line[] } {
  const lines: Line[] = [];
  return { log: createLogger('debug', (line) => lines.push(JSON.parse(line) as Line)), lines };
}

test('statfs failing (ENOTDIR) is logged as an error and the TTL rule still runs', async (t) => {
  const dir = await tempDir(t, 'df-gc-');
  await writeFile(join(dir, 'file'), '');
  const store = new ContentStore(join(dir, 'store'));
  await finishedTask(store);
  const tasks = new TaskRegistry(store);
  tasks.touch(TASK, 0);
  const { log, lines } = recordingLogger();
  const gc = new StorageGc({ tasks, dir: join(dir, 'file', 'store'), policy: POLICY, log });
  assert.deepEqual(await gc.runOnce(), [TASK]);
  assert.deepEqual(lines.filter((line) => line.level === 'error').map((line) => line.error?.code), ['ENOTDIR']);
});

test('a task it cannot read (EISDIR metadata) is logged as an error and its bytes stay', async (t) => {
  const dir = await tempDir(t, 'df-gc-');
  const store = new ContentStore(dir);
  await finishedTask(store);
  const { metadataPath, dataPath } = store.filesOf(TASK);
  await rm(metadataPath);
  await mkdir(metadataPath);
  const { log, lines } = recordingLogger();
  const gc = new StorageGc({ tasks: new TaskRegistry(store), dir, policy: { ...POLICY, taskTtlMs: 0 }, log });
  assert.deepEqual(await gc.runOnce(), []);
  assert.deepEqual(lines.filter((line) => line.level === 'error').map((line) => line.error?.code), ['DF_ERR_STORAGE']);
  assert.deepEqual(await readFile(dataPath), BYTES);
});

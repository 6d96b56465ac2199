/**
 * The content store: `<dir>/content/tasks/<id[0:3]>/<id>` holds a task's bytes,
 * `<dir>/metadata/tasks/<id[0:3]>/<id>.json|.pieces|.lock` what is known about them.
 * Task ids are checked to be 64 hex characters before any path is built from them.
 */
import type { Dirent } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isTaskId } from '../../api/index.ts';
import { StorageError } from '../errors.ts';
import { parseJournal, StoredTask, type PieceRecord, type TaskFiles, type TaskMetadata } from './task.ts';

export interface OpenTaskInput {
  taskId: string;
  url: string;
  contentLength: number;
  pieceLength: number;
  validator?: string | undefined;
}

export class ContentStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  filesOf(taskId: string): TaskFiles {
    if (!isTaskId(taskId)) throw new StorageError(`"${taskId}" is not a task id (64 lower-case hex characters)`);
    const shard = taskId.slice(0, 3);
    const meta = join(this.dir, 'metadata', 'tasks', shard, taskId);
    return {
      dataPath: join(this.dir, 'content', 'tasks', shard, taskId),
      metadataPath: `${meta}.json`,
      journalPath: `${meta}.pieces`,
      lockPath: `${meta}.lock`,
    };
  }

  /**
   * Opens a task for writing, resuming its finished pieces when the stored metadata describes the
   * same content (length, piece length, validator); otherwise starts it afresh. One process at a
   * time: a live lock holder makes this fail, a dead one's lock is taken over.
   */
  async openTask(input: OpenTaskInput): Promise<StoredTask> {
    const files = this.filesOf(input.taskId);
    await Promise.all([mkdir(join(files.dataPath, '..'), { recursive: true }), mkdir(join(files.metadataPath, '..'), { recursive: true })]);
    await takeLock(files.lockPath, input.taskId);
    try {
      const previous = await readMetadata(files.metadataPath);
      const same =
        previous !== undefined &&
        previous.url === input.url &&
        previous.contentLength === input.contentLength &&
        previous.pieceLength === input.pieceLength &&
        previous.validator === input.validator;
      const metadata: TaskMetadata = same
        ? { ...previous, completedAt: undefined }
        : {
            version: 1,
            taskId: input.taskId,
            url: input.url,
            contentLength: input.contentLength,
            pieceLength: input.pieceLength,
            validator: input.validator,
            createdAt: new Date().toISOString(),
          };
      if (!same) {
        await rm(files.journalPath, { force: true });
        await rm(files.dataPath, { force: true });
        await writeJsonAtomic(files.metadataPath, metadata);
      }
      const journalText = same ? await readTextIfExists(files.journalPath) : '';
      const data = await open(files.dataPath, 'a+').then(async (handle) => {
        // 'a+' creates without truncating; reopen r+ because positional writes ignore O_APPEND only on some systems.
        await handle.close();
        return open(files.dataPath, 'r+');
      });
      await data.truncate(input.contentLength);
      const journal = await open(files.journalPath, 'a');
      return new StoredTask({
        metadata,
        files,
        data,
        journal,
        pieces: parseJournal(journalText, metadata),
        onClose: () => rm(files.lockPath, { force: true }),
      });
    } catch (error) {
      await rm(files.lockPath, { force: true });
      if (error instanceof StorageError) throw error;
      throw new StorageError(`cannot open task ${input.taskId} in ${this.dir}: ${(error as Error).message}`, { cause: error });
    }
  }

  async markCompleted(task: StoredTask): Promise<void> {
    await writeJsonAtomic(task.files.metadataPath, { ...task.metadata, completedAt: new Date().toISOString() });
  }

  /** A task's metadata and journaled pieces as on disk, without opening it for writing. */
  async readTask(taskId: string): Promise<{ metadata: TaskMetadata; pieces: Map<number, PieceRecord>; files: TaskFiles } | undefined> {
    const files = this.filesOf(taskId);
    const metadata = await readMetadata(files.metadataPath);
    if (!metadata || metadata.taskId !== taskId) return undefined;
    const journal = await readTextIfExists(files.journalPath);
    return { metadata, pieces: parseJournal(journal, metadata), files };
  }

  /** Whether anything of the task is on disk; a path that cannot be looked at is an error, not a no. */
  async hasTask(taskId: string): Promise<boolean> {
    const files = this.filesOf(taskId);
    for (const path of [files.metadataPath, files.dataPath]) {
      try {
        await stat(path);
        return true;
      } catch (error) {
        if (!isMissing(error)) throw new StorageError(`cannot look at ${path}: ${(error as Error).message}`, { cause: error });
      }
    }
    return false;
  }

  /**
   * Ids of every task with metadata in the store. A store that does not exist yet has none; a
   * folder that cannot be read fails the listing, because an empty answer would let a caller
   * believe the tasks are gone.
   */
  async listTaskIds(): Promise<string[]> {
    const root = join(this.dir, 'metadata', 'tasks');
    const ids: string[] = [];
    for (const shard of await readDirIfExists(root)) {
      if (!shard.isDirectory()) continue;
      for (const entry of await readDirIfExists(join(root, shard.name))) {
        const id = entry.name.endsWith('.json') ? entry.name.slice(0, -'.json'.length) : '';
        if (isTaskId(id)) ids.push(id);
      }
    }
    return ids;
  }

  /** Forgets every task (Dragonfly's `storage.keep: false` at start). Only our two folders are touched. */
  async clear(): Promise<void> {
    await Promise.all(['content', 'metadata'].map((name) => rm(join(this.dir, name), { recursive: true, force: true })));
  }

  /** Deletes a task's bytes and metadata. The caller must have closed it. */
  async removeTask(taskId: string): Promise<void> {
    const files = this.filesOf(taskId);
    await Promise.all([files.dataPath, files.metadataPath, files.journalPath].map((path) => rm(path, { force: true })));
  }
}

/**
 * The task's metadata; undefined when there is none (ENOENT) or it is not ours (not JSON of our
 * version: metadata is written by rename, so this is never a half-written file). Any other read
 * failure throws: treating an unreadable task as absent would start it afresh and delete its bytes.
 */
async function readMetadata(path: string): Promise<TaskMetadata | undefined> {
  const text = await readTextIfExists(path);
  if (text === '') return undefined;
  let parsed: TaskMetadata;
  try {
    parsed = JSON.parse(text) as TaskMetadata;
  } catch {
    return undefined;
  }
  return parsed?.version === 1 ? parsed : undefined;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** A file's text, '' when it does not exist; any other failure is a StorageError. */
async function readTextIfExists(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isMissing(error)) return '';
    throw new StorageError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}

async function readDirIfExists(path: string): Promise<Dirent[]> {
  try {
    return await readdir(path, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return [];
    throw new StorageError(`cannot list ${path}: ${(error as Error).message}`, { cause: error });
  }
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(value));
  await rename(temp, path);
}

async function takeLock(path: string, taskId: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, String(process.pid), { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock that cannot be read must not be taken over: its holder may be alive.
      const holder = Number(await readTextIfExists(path));
      if (holder && holder !== process.pid && isAlive(holder)) {
        throw new StorageError(`task ${taskId} is being downloaded by process ${holder}`);
      }
      if (holder === process.pid) throw new StorageError(`task ${taskId} is already open in this process`);
      await rm(path, { force: true });
    }
  }
  throw new StorageError(`cannot take the lock ${path}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Reading and replacing runtime config files safely: the new text goes to a temporary file in the
 * same directory and is renamed over the old one (a reader sees the old file or the new one, never
 * half of one), after the old one was copied to a timestamped backup.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigWriteError } from './errors.ts';

const DEFAULT_FILE_MODE = 0o644;

/** The file's text, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigWriteError(`cannot read ${path}: ${describe(error)}`, { file: path, cause: error });
  }
}

/** `registries.conf.bak-20260102T030405Z`: sorts by time, never overwrites an earlier backup. */
export function backupName(path: string, now: Date): string {
  const stamp = now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
  return `${path}.bak-${stamp}`;
}

/**
 * Replaces (or creates) `path` with `text`. An existing file is first copied to a backup (returned)
 * and its permission bits are kept; parent directories are created for a new file.
 */
export async function replaceFile(path: string, text: string, now: Date): Promise<{ backup: string | undefined }> {
  const directory = dirname(path);
  let mode = DEFAULT_FILE_MODE;
  let backup: string | undefined;
  try {
    const existing = await stat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (existing) {
      mode = existing.mode & 0o7777;
      backup = await copyToBackup(path, now);
    } else {
      await mkdir(directory, { recursive: true });
    }
  } catch (error) {
    if (error instanceof ConfigWriteError) throw error;
    throw new ConfigWriteError(`cannot prepare ${path}: ${describe(error)}`, { file: path, cause: error });
  }
  const temporary = join(directory, `.${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.chmod(mode); // open's mode is masked by the umask; the old file's bits win
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined); // best effort: the write error below is what matters
    throw new ConfigWriteError(`cannot write ${path}: ${describe(error)}`, { file: path, cause: error });
  }
  return { backup };
}

/** Copies `path` to a new backup file; a second backup within the same second gets a counter. */
async function copyToBackup(path: string, now: Date): Promise<string> {
  const base = backupName(path, now);
  for (let attempt = 0; ; attempt++) {
    const candidate = attempt === 0 ? base : `${base}-${attempt}`;
    try {
      await copyFile(path, candidate, constants.COPYFILE_EXCL);
      return candidate;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 100) continue;
      throw new ConfigWriteError(`cannot back up ${path} to ${candidate}: ${describe(error)}`, { file: path, cause: error });
    }
  }
}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied (run as root, or point init-runtime at another path)';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'ENOTDIR') return 'a part of the path is not a directory';
  if (code === 'EROFS') return 'read-only file system';
  if (code === 'ENOSPC') return 'no space left on the device';
  return (error as Error).message;
}

/**
 * Putting a finished, verified task file at the user's output path. The final name only ever
 * appears complete: we link or rename, and copy only to a temporary name in the output directory.
 */
import { constants } from 'node:fs';
import { copyFile, link, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { OutputError } from '../errors.ts';

export interface ExportOptions {
  overwrite: boolean;
  /** A link that cannot be made fails instead of falling back to a copy (Dragonfly's force_hard_link). */
  forceHardLink?: boolean | undefined;
}

/** Fails early, before any byte is fetched, when the output cannot take a result. */
export async function checkOutputPath(output: string, overwrite: boolean): Promise<void> {
  const parent = dirname(output);
  const parentInfo = await stat(parent).catch(() => undefined);
  if (!parentInfo?.isDirectory()) throw new OutputError(`parent directory ${parent} does not exist`);
  const existing = await stat(output).catch(() => undefined);
  if (existing?.isDirectory()) throw new OutputError(`output ${output} is a directory`);
  if (existing && !overwrite) throw new OutputError(`output ${output} already exists (use --overwrite to replace it)`);
}

/**
 * The one way a task file reaches an output path: a hard link to a temporary name in the output's
 * directory (else a copy there), then that name linked (or, with overwrite, renamed) into place.
 * The task file stays in the store either way.
 */
export async function exportFile(source: string, output: string, options: ExportOptions): Promise<'link' | 'copy'> {
  await checkOutputPath(output, options.overwrite);
  const temp = join(dirname(output), `.${basename(output)}.dfget-${randomBytes(4).toString('hex')}`);
  let how: 'link' | 'copy';
  try {
    await link(source, temp);
    how = 'link';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (!['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP'].includes(code)) throw new OutputError(`cannot link ${output} to the stored task (${code})`, { cause: error });
    if (options.forceHardLink) throw new OutputError(`cannot hard-link ${output} to the stored task (${code}) and a copy was not allowed`, { cause: error });
    await copyFile(source, temp, constants.COPYFILE_FICLONE).catch(async (copyError: unknown) => {
      await rm(temp, { force: true });
      throw new OutputError(`cannot copy the stored task to ${output}: ${(copyError as Error).message}`, { cause: copyError });
    });
    how = 'copy';
  }
  try {
    if (options.overwrite) {
      await rename(temp, output);
    } else {
      // link() fails on an existing name, where rename() would silently replace a file created meanwhile.
      await link(temp, output);
      await rm(temp, { force: true });
    }
  } catch (error) {
    await rm(temp, { force: true });
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new OutputError(`output ${output} already exists (use --overwrite to replace it)`, { cause: error });
    }
    throw new OutputError(`cannot put the result at ${output}: ${(error as Error).message}`, { cause: error });
  }
  return how;
}

/**
 * Read-only handles of task files, shared by the transfers of one file and closed IDLE_CLOSE_MS
 * after the last of them. Each acquire checks that the path still names the file the handle has
 * open (device and inode): a task removed and downloaded again gets a new file at the same path,
 * and its pieces must never come from the old one. While a handle is open its inode cannot be
 * reused, so equal numbers mean the same file. The writer's own handle is separate, so a download
 * closing its task file never pulls a descriptor from under a transfer.
 */
import { statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

export const IDLE_CLOSE_MS = 5_000;

export interface OpenFile {
  readonly fd: number;
  /** Ends this use; the handle closes when the last use ended IDLE_CLOSE_MS ago. */
  release(): void;
}

interface Entry {
  readonly handle: Promise<FileHandle>;
  readonly dev: number;
  readonly ino: number;
  users: number;
  idleTimer: NodeJS.Timeout | undefined;
}

export class OpenFiles {
  readonly #entries = new Map<string, Entry>();
  readonly #idleCloseMs: number;

  constructor(idleCloseMs = IDLE_CLOSE_MS) {
    this.#idleCloseMs = idleCloseMs;
  }

  /** Handles open now (for tests and metrics). */
  get size(): number {
    return this.#entries.size;
  }

  /** A handle of the file now at `path`; throws as open(2) would when there is none. */
  async acquire(path: string): Promise<OpenFile> {
    const entry = this.#current(path) ?? this.#open(path);
    entry.users++;
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    let handle: FileHandle;
    try {
      handle = await entry.handle;
    } catch (error) {
      this.#release(path, entry);
      throw error;
    }
    let released = false;
    return {
      fd: handle.fd,
      release: () => {
        if (released) return;
        released = true;
        this.#release(path, entry);
      },
    };
  }

  /** The cached entry when it still describes the file at `path`; a stale one is dropped. */
  #current(path: string): Entry | undefined {
    const entry = this.#entries.get(path);
    if (!entry) return undefined;
    const now = statSync(path, { throwIfNoEntry: false });
    if (now && now.dev === entry.dev && now.ino === entry.ino) return entry;
    this.#entries.delete(path);
    if (entry.users === 0) this.#close(entry);
    return undefined;
  }

  #open(path: string): Entry {
    // The identity is read before the open: if the path is replaced in between, the next acquire
    // sees a mismatch and opens again, so a stale handle is never reused.
    const stat = statSync(path, { throwIfNoEntry: false });
    const entry: Entry = { handle: open(path, 'r'), dev: stat?.dev ?? -1, ino: stat?.ino ?? -1, users: 0, idleTimer: undefined };
    entry.handle.catch(() => this.#entries.get(path) === entry && this.#entries.delete(path));
    this.#entries.set(path, entry);
    return entry;
  }

  #release(path: string, entry: Entry): void {
    entry.users--;
    if (entry.users > 0) return;
    if (this.#entries.get(path) !== entry) {
      this.#close(entry);
      return;
    }
    entry.idleTimer = setTimeout(() => {
      if (this.#entries.get(path) === entry && entry.users === 0) {
        this.#entries.delete(path);
        this.#close(entry);
      }
    }, this.#idleCloseMs).unref();
  }

  #close(entry: Entry): void {
    clearTimeout(entry.idleTimer);
    entry.handle.then((handle) => handle.close()).catch(() => {});
  }
}

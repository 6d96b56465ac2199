/**
 * What a serving peer needs to know about the tasks in its store: the ones being downloaded now
 * (live, with a subscription to each piece as it is recorded) and the finished ones on disk, also
 * after a restart. Only recorded pieces are ever visible: a piece is recorded after its bytes are
 * written and its crc32 computed, so whatever this registry shows may be served to other peers.
 * A download that failed in this process (a full disk, an origin gone) leaves its task shown with
 * the pieces it recorded: other peers may still take them, and GC sees the task. A task that is
 * neither open nor completed from an earlier process (a download cut short by a crash) shows
 * nothing until a download resumes it, because its journaled pieces are re-checked only then.
 */
import { isTaskId, pieceCountOf } from '../../api/index.ts';
import type { ContentStore } from './content-store.ts';
import type { PieceReceipt } from './piece-progress.ts';
import type { PieceRecord, StoredTask } from './task.ts';

/** A read-only look at one task. For an open task it follows the download as it goes. */
export interface TaskView {
  readonly taskId: string;
  readonly url: string;
  readonly contentLength: number;
  readonly pieceLength: number;
  readonly pieceCount: number;
  /** The task file, to read pieces from (open it yourself: the writer's handle closes when it is done). */
  readonly dataPath: string;
  /** Downloading in this process now. */
  readonly downloading: boolean;
  readonly complete: boolean;
  readonly createdAt: number;
  /** Last write, or the last time it was served; GC evicts by this. */
  readonly updatedAt: number;
  piece(number: number): PieceRecord | undefined;
  finishedPieces(): PieceRecord[];
  readonly finishedBytes: number;
  /**
   * The attempt at a piece arriving now, unverified: only for a child that asked for cut-through
   * relay, which checks the digest given once the attempt is recorded. Undefined when not arriving.
   */
  receiving(number: number): PieceReceipt | undefined;
  /** Pieces arriving now. */
  receivingNumbers(): number[];
}

export type TaskEvent =
  | { readonly type: 'piece'; readonly record: PieceRecord }
  /** A piece started arriving (not verified, not recorded: for relay to children that asked). */
  | { readonly type: 'receiving'; readonly number: number }
  /** The download stopped: `complete` says whether every piece is there. */
  | { readonly type: 'closed'; readonly complete: boolean };

export type TaskListener = (event: TaskEvent) => void;

function liveView(task: StoredTask, touched: () => number): TaskView {
  return {
    taskId: task.id,
    url: task.metadata.url,
    contentLength: task.contentLength,
    pieceLength: task.pieceLength,
    pieceCount: task.pieceCount,
    dataPath: task.files.dataPath,
    downloading: true,
    get complete() {
      return task.complete;
    },
    createdAt: Date.parse(task.metadata.createdAt),
    get updatedAt() {
      return touched();
    },
    piece: (number) => task.piece(number),
    finishedPieces: () => task.finishedPieces(),
    get finishedBytes() {
      return task.finishedBytes;
    },
    receiving: (number) => task.progress.receiving(number),
    receivingNumbers: () => task.progress.receivingNumbers(),
  };
}

/** A task whose download failed in this process: the pieces it recorded, as they were. */
function partialView(task: StoredTask, touched: () => number): TaskView {
  const pieces = new Map(task.finishedPieces().map((piece) => [piece.number, piece]));
  const finishedBytes = task.finishedBytes;
  return {
    ...liveView(task, touched),
    downloading: false,
    complete: false,
    piece: (number) => pieces.get(number),
    finishedPieces: () => [...pieces.values()].sort((a, b) => a.number - b.number),
    finishedBytes,
    receiving: () => undefined,
    receivingNumbers: () => [],
  };
}

export class TaskRegistry {
  readonly #store: ContentStore;
  readonly #open = new Map<string, StoredTask>();
  /** Finished tasks read from disk once; dropped when the task is opened again or removed. */
  readonly #completed = new Map<string, TaskView>();
  /** Tasks whose download failed in this process; dropped when opened again or removed. */
  readonly #partial = new Map<string, TaskView>();
  readonly #listeners = new Map<string, Set<TaskListener>>();
  readonly #touched = new Map<string, number>();
  readonly #unfollow = new Map<string, () => void>();

  constructor(store: ContentStore) {
    this.#store = store;
  }

  /** The downloader opened a task for writing. */
  opened(task: StoredTask): void {
    this.#open.set(task.id, task);
    this.#completed.delete(task.id);
    this.#partial.delete(task.id);
    this.touch(task.id);
    this.#unfollow.get(task.id)?.();
    this.#unfollow.set(
      task.id,
      task.progress.onStart((receipt) => this.#emit(task.id, { type: 'receiving', number: receipt.number })),
    );
  }

  /**
   * The task is being reopened for writing (not shown as open until its pieces are re-checked): a
   * cached finished view may no longer describe the file (the origin changed, the file is redone).
   */
  reopening(taskId: string): void {
    this.#completed.delete(taskId);
    this.#partial.delete(taskId);
  }

  /** A piece of an open task is recorded: tell whoever follows the task. */
  pieceFinished(taskId: string, record: PieceRecord): void {
    this.touch(taskId);
    this.#emit(taskId, { type: 'piece', record });
  }

  /** The downloader closed the task; a complete one stays readable from disk. */
  closed(task: StoredTask, complete: boolean): void {
    if (this.#open.get(task.id) !== task) return;
    this.#open.delete(task.id);
    this.#unfollow.get(task.id)?.();
    this.#unfollow.delete(task.id);
    this.touch(task.id);
    if (!complete) this.#partial.set(task.id, partialView(task, () => this.#touched.get(task.id) ?? Date.now()));
    this.#emit(task.id, { type: 'closed', complete });
  }

  touch(taskId: string, at = Date.now()): void {
    this.#touched.set(taskId, at);
  }

  isOpen(taskId: string): boolean {
    return this.#open.has(taskId);
  }

  /**
   * The task, open or complete on disk; undefined for unknown, invalid and unfinished ones. A task
   * whose files cannot be read (EIO, EACCES) is a StorageError, never "unknown": callers delete
   * unknown tasks' leftovers.
   */
  async get(taskId: string): Promise<TaskView | undefined> {
    if (!isTaskId(taskId)) return undefined;
    const open = this.#open.get(taskId);
    if (open) return liveView(open, () => this.#touched.get(taskId) ?? Date.now());
    const cached = this.#completed.get(taskId) ?? this.#partial.get(taskId);
    if (cached) return cached;
    const loaded = await this.#load(taskId);
    // The task may have been opened while we read the disk: the live one wins.
    if (loaded && !this.#open.has(taskId)) this.#completed.set(taskId, loaded);
    return this.#open.has(taskId) ? this.get(taskId) : loaded;
  }

  /** Follows a task's pieces until unsubscribed. Subscribe first, then read `get()`, to miss nothing. */
  subscribe(taskId: string, listener: TaskListener): () => void {
    let set = this.#listeners.get(taskId);
    if (!set) this.#listeners.set(taskId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(taskId) === set) this.#listeners.delete(taskId);
    };
  }

  /** Deletes a task that is not being downloaded; false when it is (or never was). Unreadable ones are kept and throw. */
  async remove(taskId: string): Promise<boolean> {
    if (!isTaskId(taskId) || this.#open.has(taskId)) return false;
    const known = (await this.get(taskId)) !== undefined || (await this.#store.hasTask(taskId));
    this.#completed.delete(taskId);
    this.#partial.delete(taskId);
    this.#touched.delete(taskId);
    if (!known) return false;
    await this.#store.removeTask(taskId);
    return true;
  }

  /** Every complete task on disk (for GC), plus the open ones. Throws when the store or a task cannot be read. */
  async list(): Promise<TaskView[]> {
    const views: TaskView[] = [];
    for (const taskId of await this.#store.listTaskIds()) {
      const view = await this.get(taskId);
      if (view) views.push(view);
    }
    return views;
  }

  #emit(taskId: string, event: TaskEvent): void {
    const set = this.#listeners.get(taskId);
    if (!set) return;
    for (const listener of [...set]) listener(event);
  }

  async #load(taskId: string): Promise<TaskView | undefined> {
    const stored = await this.#store.readTask(taskId);
    const completedText = stored?.metadata.completedAt;
    if (!stored || completedText === undefined) return undefined;
    const { metadata, pieces } = stored;
    const pieceCount = pieceCountOf(metadata.contentLength, metadata.pieceLength);
    // A completed task has every piece; a journal missing some would mean the files were tampered with.
    if (pieces.size !== pieceCount) return undefined;
    const sorted = [...pieces.values()].sort((a, b) => a.number - b.number);
    const completedAt = Date.parse(completedText);
    const touched = () => this.#touched.get(taskId) ?? completedAt;
    return {
      taskId,
      url: metadata.url,
      contentLength: metadata.contentLength,
      pieceLength: metadata.pieceLength,
      pieceCount,
      dataPath: stored.files.dataPath,
      downloading: false,
      complete: true,
      createdAt: Date.parse(metadata.createdAt),
      get updatedAt() {
        return touched();
      },
      piece: (number) => pieces.get(number),
      finishedPieces: () => [...sorted],
      finishedBytes: metadata.contentLength,
      receiving: () => undefined,
      receivingNumbers: () => [],
    };
  }
}

/**
 * What the daemon's two gRPC services do, without gRPC: download a task for a request (and write
 * the request's output from the store), stat and delete tasks, and follow a task's pieces for
 * SyncPieces. The handlers in daemon/rpc only decode, call this, and encode.
 */
import { formatDigest, parseDigest, DfError } from '../../api/index.ts';
import {
  checkOutputPath,
  exportFile,
  TaskDigestMismatchError,
  type Engine,
  type PieceRecord,
  type TaskEvent,
  type TaskView,
} from '../../engine/index.ts';
import { NotFoundError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { checkPieceNumbers, type DownloadSpec } from '../rpc/validate.ts';
import type { TaskFollower, TaskManager } from './task-manager.ts';

export interface DownloadOptions {
  readonly signal?: AbortSignal | undefined;
  /** Keep downloading when the caller goes away (the scheduler's seed-peer trigger). */
  readonly detached?: boolean;
  readonly seed?: boolean;
}

export class TaskService {
  readonly #engine: Engine;
  readonly #manager: TaskManager;
  readonly #log: Logger;

  readonly #onDeleted: (taskId: string) => void;

  constructor(init: { engine: Engine; manager: TaskManager; log: Logger; onDeleted?: (taskId: string) => void }) {
    this.#engine = init.engine;
    this.#manager = init.manager;
    this.#log = init.log;
    this.#onDeleted = init.onDeleted ?? (() => {});
  }

  /**
   * Downloads `spec` into the store (joining a download of the same task if one runs), checks the
   * digest asked for, then puts the file at the output path: hard link, else copy, never a partial
   * file under the final name. The task stays in the store to be served to other peers.
   */
  async download(spec: DownloadSpec, follower: TaskFollower, options: DownloadOptions = {}): Promise<void> {
    if (spec.outputPath) await checkOutputPath(spec.outputPath, spec.overwrite);
    const signals = [options.signal, spec.timeoutMs ? AbortSignal.timeout(spec.timeoutMs) : undefined].filter((s) => s !== undefined);
    const signal = signals.length > 0 ? AbortSignal.any(signals) : undefined;
    const result = await this.#manager.follow(spec, follower, { signal, detached: options.detached ?? false, seed: options.seed ?? false });
    const dataPath = this.#engine.store.filesOf(result.taskId).dataPath;
    // The engine checked it already when the digest is the task's own (an OCI blob).
    if (spec.digest && result.digest !== formatDigest(parseDigest(spec.digest))) await this.#verify(result.taskId, dataPath, result.contentLength, spec.digest, signal);
    if (spec.outputPath) {
      const how = await exportFile(dataPath, spec.outputPath, { overwrite: spec.overwrite, move: false, forceHardLink: spec.forceHardLink });
      this.#log.info('output written', { taskId: result.taskId, output: spec.outputPath, how });
    }
  }

  async stat(taskId: string): Promise<TaskView> {
    const view = await this.#engine.tasks.get(taskId);
    if (!view) throw new NotFoundError(`task ${taskId} is not here`);
    return view;
  }

  async delete(taskId: string): Promise<void> {
    if (this.#manager.isRunning(taskId) || this.#engine.tasks.isOpen(taskId)) {
      throw new DfError('DF_ERR_FAILED_PRECONDITION', `task ${taskId} is being downloaded; delete it when it is done`);
    }
    if (!(await this.#engine.tasks.remove(taskId))) throw new NotFoundError(`task ${taskId} is not here`);
    this.#onDeleted(taskId);
    this.#log.info('task deleted', { taskId });
  }

  /**
   * Sends the task's recorded pieces (those in `numbers`, or all), then each new one as it is
   * recorded; resolves when all of them are sent, or when `signal` ends the interest. Rejects
   * NOT_FOUND for a task this peer cannot serve, UNAVAILABLE when its download stops short.
   */
  syncPieces(taskId: string, numbers: readonly number[], send: (piece: PieceRecord) => void, signal: AbortSignal): Promise<void> {
    const tasks = this.#engine.tasks;
    return new Promise<void>((resolve, reject) => {
      const sent = new Set<number>();
      let interested: ReadonlySet<number> | undefined;
      let target = Infinity;
      let ready = false;
      let done = false;
      const early: TaskEvent[] = [];
      const finish = (error?: unknown) => {
        if (done) return;
        done = true;
        unsubscribe();
        signal.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const onAbort = () => finish();
      const offer = (record: PieceRecord) => {
        if (done || sent.has(record.number) || (interested && !interested.has(record.number))) return;
        sent.add(record.number);
        send(record);
        if (sent.size >= target) finish();
      };
      const handle = (event: TaskEvent) => {
        if (event.type === 'piece') offer(event.record);
        else if (!event.complete) finish(new DfError('DF_ERR_UNAVAILABLE', `the download of task ${taskId} stopped before it was complete`));
        else if (sent.size < target) finish(new DfError('DF_ERR_UNAVAILABLE', `task ${taskId} finished without announcing every piece`));
      };
      // Subscribe before reading the current state: a piece recorded in between is not missed.
      const unsubscribe = tasks.subscribe(taskId, (event) => (ready ? handle(event) : early.push(event)));
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) return finish();
      tasks
        .get(taskId)
        .then((view) => {
          if (done) return;
          if (!view) throw new NotFoundError(`task ${taskId} is not here`);
          interested = checkPieceNumbers(numbers, view.pieceCount);
          target = interested?.size ?? view.pieceCount;
          if (target === 0) return finish();
          for (const piece of view.finishedPieces()) offer(piece);
          ready = true;
          for (const event of early.splice(0)) handle(event);
          if (!done && !view.downloading && !tasks.isOpen(taskId)) {
            // Complete on disk and every piece offered: nothing more will come.
            finish(sent.size >= target ? undefined : new DfError('DF_ERR_UNAVAILABLE', `task ${taskId} is incomplete here`));
          }
        })
        .catch(finish);
    });
  }

  async #verify(taskId: string, dataPath: string, contentLength: number, expected: string, signal: AbortSignal | undefined): Promise<void> {
    const digest = parseDigest(expected);
    const actual = await this.#engine.pool.hashRange(dataPath, 0, contentLength, digest.algorithm, signal);
    const actualText = `${digest.algorithm}:${actual}`;
    if (actualText === formatDigest(digest)) return;
    // The pieces matched their own crc32s, so the content is what the origin sent: it is not what the caller expects.
    if (!this.#manager.isRunning(taskId)) await this.#engine.tasks.remove(taskId).catch(() => false);
    throw new TaskDigestMismatchError(formatDigest(digest), actualText);
  }
}

/**
 * The daemon's front door for downloads and tasks, without gRPC or HTTP: download a request into the
 * store (its digest checked on the way, by TaskManager) and put it at the request's output path,
 * stat and delete tasks, and follow a task's pieces for SyncPieces. dfget without a daemon runs the
 * same service over an origin-only strategy. The gRPC handlers and dfget only build a TaskRequest,
 * call this, and report.
 */
import { DfError, pieceRangeOf, type PieceRange } from '../../api/index.ts';
import { checkOutputPath, exportFile, type Engine, type PieceRecord, type TaskEvent, type TaskView } from '../../engine/index.ts';
import { NotFoundError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { checkPieceNumbers } from '../rpc/validate.ts';
import type { TaskRequest } from './request.ts';
import type { FollowOptions, FollowResult, TaskFollower, TaskManager } from './task-manager.ts';

export interface DownloadOutcome extends FollowResult {
  /** Where the result was put, and how. */
  readonly output?: { readonly path: string; readonly how: 'link' | 'copy' } | undefined;
}

export class TaskService {
  readonly #engine: Engine;
  readonly #manager: TaskManager;
  readonly #log: Logger;
  readonly #onDeleted: (taskId: string) => void;
  readonly #keepTasks: boolean;

  /**
   * `keepTasks: false` (dfget without a daemon) removes a task from the store once its output is
   * written: nobody else will be served from it, and the output is a hard link to the same bytes.
   */
  constructor(init: { engine: Engine; manager: TaskManager; log: Logger; onDeleted?: (taskId: string) => void; keepTasks?: boolean }) {
    this.#engine = init.engine;
    this.#manager = init.manager;
    this.#log = init.log;
    this.#onDeleted = init.onDeleted ?? (() => {});
    this.#keepTasks = init.keepTasks ?? true;
  }

  /**
   * Downloads `request` into the store (joining a download of the same task if one runs), with its
   * digest checked while the pieces land, then puts the file at the output path: hard link, else
   * copy, never a partial file under the final name.
   */
  async download(request: TaskRequest, follower: TaskFollower, options: FollowOptions = {}): Promise<DownloadOutcome> {
    if (request.outputPath) await checkOutputPath(request.outputPath, request.overwrite);
    const signals = [options.signal, request.timeoutMs ? AbortSignal.timeout(request.timeoutMs) : undefined].filter((s) => s !== undefined);
    const signal = signals.length > 0 ? AbortSignal.any(signals) : undefined;
    const result = await this.#manager.follow(request, follower, { ...options, signal });
    if (!request.outputPath) return result;
    const dataPath = this.#engine.store.filesOf(result.taskId).dataPath;
    const how = await exportFile(dataPath, request.outputPath, { overwrite: request.overwrite, forceHardLink: request.forceHardLink });
    this.#log.info('output written', { taskId: result.taskId, output: request.outputPath, how });
    if (!this.#keepTasks && !this.#manager.isRunning(result.taskId)) await this.#engine.tasks.remove(result.taskId);
    return { ...result, output: { path: request.outputPath, how } };
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
   * With `sendReceiving` (a child that asked for cut-through relay), also each piece that starts
   * arriving here and is not recorded yet, unverified: the child relays it and checks its digest.
   */
  syncPieces(
    taskId: string,
    numbers: readonly number[],
    send: (piece: PieceRecord) => void,
    signal: AbortSignal,
    sendReceiving?: (range: PieceRange) => void,
  ): Promise<void> {
    const tasks = this.#engine.tasks;
    return new Promise<void>((resolve, reject) => {
      const sent = new Set<number>();
      let interested: ReadonlySet<number> | undefined;
      let target = Infinity;
      let ready = false;
      let done = false;
      const early: TaskEvent[] = [];
      let layout: { contentLength: number; pieceLength: number } | undefined;
      const offerReceiving = (number: number) => {
        if (done || !sendReceiving || !layout || sent.has(number) || (interested && !interested.has(number))) return;
        sendReceiving(pieceRangeOf(number, layout.contentLength, layout.pieceLength));
      };
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
        else if (event.type === 'receiving') offerReceiving(event.number);
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
          layout = view;
          for (const number of view.receivingNumbers()) offerReceiving(number);
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
}

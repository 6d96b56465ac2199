/**
 * Fills one task in the store: stat the origin, open (or resume) the task, re-check resumed pieces,
 * let a strategy fetch the missing ones (by default from the origin), mark the task complete. What
 * a caller then does with the task (check a digest, put it at an output path, stream it to a
 * client) is the caller's business: the daemon's task layer does all of that in one place.
 */
import { pieceLengthOf, taskIdOf } from '../../api/index.ts';
import { AbortedError, isRetryable, StorageError } from '../errors.ts';
import { positiveInteger, type ResolvedEngineOptions } from '../options.ts';
import type { IoPool } from '../pool/io-pool.ts';
import type { SourceRegistry, SourceStat } from '../source/source.ts';
import type { ContentStore } from '../store/content-store.ts';
import type { PieceRecord, StoredTask } from '../store/task.ts';
import type { TaskRegistry } from '../store/task-registry.ts';
import type { DownloadEvent, DownloadEventListener } from './events.ts';
import { withRetry } from './retry.ts';
import { createPieceSession, originOnly, type PieceStrategy } from './session.ts';

export interface DownloadRequest {
  url: string;
  /** The task to fill; default: the task id of `url` alone (with `pieceLength` when given). */
  taskId?: string | undefined;
  headers?: Readonly<Record<string, string>> | undefined;
  /** Explicit piece length; default: Dragonfly's rule on the content length. */
  pieceLength?: number | undefined;
  /** Pieces in flight at once for this download (default: the engine's). */
  concurrentPieceCount?: number | undefined;
  /** A piece request that moves no bytes this long is retried (default: the engine's). */
  pieceTimeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  onEvent?: DownloadEventListener | undefined;
  /** Where missing pieces come from; default: the origin. */
  strategy?: PieceStrategy | undefined;
  /**
   * The caller's last check once every piece is in, before the task is marked complete (and so
   * before a restarted daemon would trust it): a content digest that belongs to the task.
   */
  beforeComplete?: (() => Promise<void>) | undefined;
}

export interface DownloadResult {
  readonly taskId: string;
  readonly contentLength: number;
  readonly pieceLength: number;
  readonly pieceCount: number;
  readonly resumedBytes: number;
}

export interface DownloaderDeps {
  readonly options: ResolvedEngineOptions;
  readonly store: ContentStore;
  readonly pool: IoPool;
  readonly sources: SourceRegistry;
  /** Told about every task opened, piece recorded and task closed, so a daemon can serve them. */
  readonly tasks?: TaskRegistry | undefined;
}

export class Downloader {
  readonly #deps: DownloaderDeps;

  constructor(deps: DownloaderDeps) {
    this.#deps = deps;
  }

  async download(request: DownloadRequest): Promise<DownloadResult> {
    const { store } = this.#deps;
    const emit = (event: DownloadEvent) => request.onEvent?.(event);
    if (request.pieceLength !== undefined) positiveInteger('pieceLength', request.pieceLength);
    const options = this.#optionsFor(request);
    const source = this.#deps.sources.for(request.url);
    const sourceRequest = { url: request.url, headers: request.headers, signal: request.signal, timeoutMs: options.pieceTimeoutMs };
    const stat = await withRetry(() => source.stat(sourceRequest), this.#retryOptions(request.signal)).catch((error: unknown) => {
      // undici rejects with the signal's reason: an abort reads the same here as during the pieces.
      throw request.signal?.aborted ? new AbortedError(request.signal.reason) : error;
    });
    const taskId = request.taskId ?? taskIdOf({ url: request.url, pieceLength: request.pieceLength });
    this.#deps.tasks?.reopening(taskId);
    const task = await store.openTask({
      taskId,
      url: request.url,
      contentLength: stat.contentLength,
      pieceLength: request.pieceLength ?? pieceLengthOf(stat.contentLength),
      validator: stat.validator,
    });
    if (options.durable) task.enableWriteback();
    const tasks = this.#deps.tasks;
    let complete = false;
    try {
      await this.#dropCorruptPieces(task, request.signal);
      // Only after the re-check: what the registry shows may be served to other peers.
      tasks?.opened(task);
      const resumedBytes = task.finishedBytes;
      emit({
        type: 'started',
        taskId,
        contentLength: task.contentLength,
        pieceLength: task.pieceLength,
        pieceCount: task.pieceCount,
        resumedBytes,
        resumedPieces: task.finishedPieces(),
        rangeSupported: stat.rangeSupported,
      });
      await this.#fill(task, stat, request, options, emit);
      await request.beforeComplete?.();
      if (options.durable) await task.sync();
      await store.markCompleted(task);
      complete = true;
      emit({ type: 'finished', taskId, contentLength: task.contentLength });
      await task.close();
      tasks?.closed(task, true);
      return { taskId, contentLength: task.contentLength, pieceLength: task.pieceLength, pieceCount: task.pieceCount, resumedBytes };
    } catch (error) {
      await task.close();
      tasks?.closed(task, complete);
      if (request.signal?.aborted) throw new AbortedError(request.signal.reason);
      throw error;
    }
  }

  async #fill(task: StoredTask, stat: SourceStat, request: DownloadRequest, options: ResolvedEngineOptions, emit: (event: DownloadEvent) => void): Promise<void> {
    const onPiece = async (record: PieceRecord) => {
      await task.finishPiece(record);
      this.#deps.tasks?.pieceFinished(task.id, record);
      emit({ type: 'piece', piece: record });
    };
    const session = createPieceSession({
      task,
      stat,
      source: this.#deps.sources.for(request.url),
      url: request.url,
      headers: request.headers,
      signal: request.signal,
      options,
      onPiece,
      emit,
    });
    await (request.strategy ?? originOnly)(session);
    if (request.signal?.aborted) throw new AbortedError(request.signal.reason);
    if (!task.complete) throw new StorageError(`task ${task.id} ended with ${task.missingPieces().length} pieces missing`);
  }

  /** The engine's options with this download's own piece concurrency and timeout. */
  #optionsFor(request: DownloadRequest): ResolvedEngineOptions {
    const { options } = this.#deps;
    if (request.concurrentPieceCount === undefined && request.pieceTimeoutMs === undefined) return options;
    return Object.freeze({
      ...options,
      concurrentPieceCount: positiveInteger('concurrentPieceCount', request.concurrentPieceCount ?? options.concurrentPieceCount),
      pieceTimeoutMs: positiveInteger('pieceTimeoutMs', request.pieceTimeoutMs ?? options.pieceTimeoutMs),
    });
  }

  /** Pieces from an earlier run are re-checked against their journaled crc32, in parallel on the pool. */
  async #dropCorruptPieces(task: StoredTask, signal: AbortSignal | undefined): Promise<void> {
    const pool = this.#deps.pool;
    const checks = task.finishedPieces().map(async (piece) => {
      const actual = await pool.hashRange(task.files.dataPath, piece.offset, piece.length, 'crc32', signal);
      if (`crc32:${actual}` !== piece.digest) await task.dropPiece(piece.number);
    });
    await Promise.all(checks);
  }

  #retryOptions(signal: AbortSignal | undefined) {
    const { options } = this.#deps;
    return {
      retries: options.pieceRetries,
      baseDelayMs: options.retryBaseDelayMs,
      maxDelayMs: options.retryMaxDelayMs,
      signal,
      isRetryable,
    };
  }
}

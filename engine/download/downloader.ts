/**
 * Downloads a task in pieces: stat the origin, open (or resume) the task in the store, re-check
 * resumed pieces, let a strategy fetch the missing ones (by default from the origin), hash the
 * whole file in order while it arrives, and only then put it at the output path.
 */
import { parseDigest, pieceLengthOf, taskIdOf, type Digest } from '../../api/index.ts';
import { AbortedError, isRetryable, StorageError, TaskDigestMismatchError } from '../errors.ts';
import type { ResolvedEngineOptions } from '../options.ts';
import type { IoPool, StreamingHash } from '../pool/io-pool.ts';
import type { SourceRegistry, SourceStat } from '../source/source.ts';
import type { ContentStore } from '../store/content-store.ts';
import { checkOutputPath, exportFile } from '../store/export.ts';
import type { PieceRecord, StoredTask } from '../store/task.ts';
import type { TaskRegistry } from '../store/task-registry.ts';
import type { DownloadEvent, DownloadEventListener } from './events.ts';
import { withRetry } from './retry.ts';
import { createPieceSession, originOnly, type PieceStrategy } from './session.ts';

export interface DownloadRequest {
  url: string;
  headers?: Record<string, string> | undefined;
  tag?: string | undefined;
  application?: string | undefined;
  filteredQueryParams?: readonly string[] | undefined;
  /** Explicit piece length; it then also enters the task id, as in Dragonfly. */
  pieceLength?: number | undefined;
  /** Task id rules other than the URL's (see api `taskIdOf`). */
  contentForCalculatingTaskId?: string | undefined;
  enableTaskIdBasedBlobDigest?: boolean | undefined;
  /** `sha256:<hex>`, `sha512:<hex>` or `crc32:<decimal>` of the whole content. */
  digest?: string | undefined;
  outputPath?: string | undefined;
  overwrite?: boolean | undefined;
  /** Keep the task in the store after export (a daemon serving peers); false moves it out. */
  keepInStore?: boolean | undefined;
  signal?: AbortSignal | undefined;
  onEvent?: DownloadEventListener | undefined;
  /** Someone reads the content in order while it downloads: the first piece gets a head start. */
  inOrderReader?: boolean | undefined;
  /** Where missing pieces come from; default: the origin. */
  strategy?: PieceStrategy | undefined;
}

export interface DownloadResult {
  readonly taskId: string;
  readonly contentLength: number;
  readonly pieceCount: number;
  readonly resumedBytes: number;
  /** The verified digest, when one was asked for. */
  readonly digest?: string | undefined;
  readonly outputPath?: string | undefined;
}

export interface DownloaderDeps {
  readonly options: ResolvedEngineOptions;
  readonly store: ContentStore;
  readonly pool: IoPool;
  readonly sources: SourceRegistry;
  /** Told about every task opened, piece recorded and task closed, so a daemon can serve them. */
  readonly tasks?: TaskRegistry | undefined;
}

/** The task id a request downloads into, known before the origin is asked anything. */
export function taskIdOfRequest(
  request: Pick<DownloadRequest, 'url' | 'tag' | 'application' | 'pieceLength' | 'filteredQueryParams' | 'contentForCalculatingTaskId' | 'enableTaskIdBasedBlobDigest'>,
): string {
  return taskIdOf({
    url: request.url,
    tag: request.tag,
    application: request.application,
    pieceLength: request.pieceLength,
    filteredQueryParams: request.filteredQueryParams,
    contentForCalculatingTaskId: request.contentForCalculatingTaskId,
    enableTaskIdBasedBlobDigest: request.enableTaskIdBasedBlobDigest,
  });
}

export class Downloader {
  readonly #deps: DownloaderDeps;

  constructor(deps: DownloaderDeps) {
    this.#deps = deps;
  }

  async download(request: DownloadRequest): Promise<DownloadResult> {
    const { options, store } = this.#deps;
    const emit = (event: DownloadEvent) => request.onEvent?.(event);
    const expected = request.digest ? parseDigest(request.digest) : undefined;
    if (request.pieceLength !== undefined && (!Number.isSafeInteger(request.pieceLength) || request.pieceLength <= 0)) {
      throw new RangeError(`piece length must be a positive integer, got ${request.pieceLength}`);
    }
    if (request.outputPath) await checkOutputPath(request.outputPath, request.overwrite ?? false);
    const source = this.#deps.sources.for(request.url);
    const sourceRequest = { url: request.url, headers: request.headers, signal: request.signal, timeoutMs: options.pieceTimeoutMs };
    const stat = await withRetry(() => source.stat(sourceRequest), this.#retryOptions(request.signal)).catch((error: unknown) => {
      // undici rejects with the signal's reason: an abort reads the same here as during the pieces.
      throw request.signal?.aborted ? new AbortedError(request.signal.reason) : error;
    });
    const taskId = taskIdOfRequest(request);
    this.#deps.tasks?.reopening(taskId);
    const task = await store.openTask({
      taskId,
      url: request.url,
      contentLength: stat.contentLength,
      pieceLength: request.pieceLength ?? pieceLengthOf(stat.contentLength),
      validator: stat.validator,
    });
    if (options.durable) task.enableWriteback();
    let digest: string | undefined;
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
      digest = await this.#fetchAndVerify(task, stat, request, expected, emit);
      if (options.durable) await task.sync();
      await store.markCompleted(task);
      complete = true;
      emit({ type: 'finished', taskId, contentLength: task.contentLength });
      await task.close();
      tasks?.closed(task, true);
      if (request.outputPath) {
        await exportFile(task.files.dataPath, request.outputPath, {
          overwrite: request.overwrite ?? false,
          move: !(request.keepInStore ?? false),
        });
        if (!request.keepInStore) await store.removeTask(taskId);
      }
      return { taskId, contentLength: task.contentLength, pieceCount: task.pieceCount, resumedBytes, digest, outputPath: request.outputPath };
    } catch (error) {
      await task.close();
      tasks?.closed(task, complete);
      if (error instanceof TaskDigestMismatchError) {
        // Which piece is wrong cannot be known: keeping any of them would keep the corruption.
        await store.removeTask(taskId);
      }
      if (request.signal?.aborted) throw new AbortedError(request.signal.reason);
      throw error;
    }
  }

  async #fetchAndVerify(
    task: StoredTask,
    stat: SourceStat,
    request: DownloadRequest,
    expected: Digest | undefined,
    emit: (event: DownloadEvent) => void,
  ): Promise<string | undefined> {
    const hashing = expected ? this.#startStreamingHash(task, expected) : undefined;
    try {
      const feed = hashing?.feed ?? (() => {});
      feed();
      const onPiece = async (record: PieceRecord) => {
        await task.finishPiece(record);
        this.#deps.tasks?.pieceFinished(task.id, record);
        emit({ type: 'piece', piece: record });
        feed();
      };
      const session = createPieceSession({
        task,
        stat,
        source: this.#deps.sources.for(request.url),
        url: request.url,
        headers: request.headers,
        signal: request.signal,
        options: this.#deps.options,
        onPiece,
        emit,
        headStart: request.inOrderReader,
      });
      await (request.strategy ?? originOnly)(session);
      if (request.signal?.aborted) throw new AbortedError(request.signal.reason);
      if (!task.complete) throw new StorageError(`task ${task.id} ended with ${task.missingPieces().length} pieces missing`);
      if (!hashing || !expected) return undefined;
      emit({ type: 'verifying', algorithm: expected.algorithm });
      const actual = await hashing.hash.finish();
      const expectedText = `${expected.algorithm}:${expected.encoded}`;
      const actualText = `${expected.algorithm}:${actual}`;
      if (actualText !== expectedText) throw new TaskDigestMismatchError(expectedText, actualText);
      return actualText;
    } catch (error) {
      hashing?.hash.cancel();
      throw error;
    }
  }

  /** Feeds the hashing worker every contiguous finished prefix as it grows. */
  #startStreamingHash(task: StoredTask, expected: Digest): { hash: StreamingHash; feed: () => void } {
    const hash = this.#deps.pool.hashStream(task.files.dataPath, expected.algorithm);
    let next = 0;
    const feed = () => {
      while (next < task.pieceCount && task.hasPiece(next)) {
        const range = task.rangeOf(next);
        hash.push(range.offset, range.length);
        next++;
      }
    };
    return { hash, feed };
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

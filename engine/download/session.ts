/**
 * A piece session: an open task and the means to fill it. The downloader creates one after the
 * origin is stat'ed and the task is opened; a strategy decides where each missing piece comes
 * from. The default strategy takes every missing piece from the origin; a peer daemon plugs in
 * one that asks parents first and falls back to the origin.
 */
import type { PieceRange } from '../../api/index.ts';
import type { ResolvedEngineOptions } from '../options.ts';
import type { Source, SourceStat } from '../source/source.ts';
import type { PieceRecord, StoredTask } from '../store/task.ts';
import type { DownloadEvent } from './events.ts';
import { queueOf, runPieceLoop, type PieceJob, type PieceLoopOptions } from './piece-loop.ts';
import { writeWholeBody, type WriteContext } from './piece-writer.ts';
import { withRetry } from './retry.ts';
import { isRetryable } from '../errors.ts';

export interface PieceSession {
  readonly task: StoredTask;
  readonly stat: SourceStat;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>> | undefined;
  readonly signal: AbortSignal | undefined;
  /** Pieces in flight at once. */
  readonly concurrency: number;
  /** A job that fetches the piece from the origin, retried in place. */
  originJob(number: number): PieceJob;
  /** Runs the bounded piece loop over the given jobs (see PieceLoopOptions.headStart). */
  runPieces(nextJob: PieceLoopOptions['nextJob'], onPieceFailed?: PieceLoopOptions['onPieceFailed'], order?: { headStart?: boolean | undefined }): Promise<void>;
  /** Every missing piece from the origin (in one stream when the origin ignores Range). */
  fetchMissingFromOrigin(): Promise<void>;
}

export type PieceStrategy = (session: PieceSession) => Promise<void>;

export const originOnly: PieceStrategy = (session) => session.fetchMissingFromOrigin();

export function createPieceSession(init: {
  task: StoredTask;
  stat: SourceStat;
  source: Source;
  url: string;
  headers: Readonly<Record<string, string>> | undefined;
  signal: AbortSignal | undefined;
  options: ResolvedEngineOptions;
  onPiece: (record: PieceRecord) => Promise<void>;
  emit: (event: DownloadEvent) => void;
}): PieceSession {
  const { task, stat, source, options, emit } = init;
  const context: WriteContext = {
    task,
    writeBatchBytes: options.writeBatchBytes,
    onBytes: (count) => emit({ type: 'bytes', count }),
  };
  const retry = {
    retries: options.pieceRetries,
    baseDelayMs: options.retryBaseDelayMs,
    maxDelayMs: options.retryMaxDelayMs,
    windowMs: options.retryWindowMs,
    isRetryable,
  };
  const read = (range: PieceRange | undefined, signal: AbortSignal | undefined) =>
    source.read({
      url: init.url,
      headers: init.headers,
      signal,
      timeoutMs: options.pieceTimeoutMs,
      range: range && { start: range.offset, length: range.length },
      validator: stat.validator,
    });

  const session: PieceSession = {
    task,
    stat,
    url: init.url,
    headers: init.headers,
    signal: init.signal,
    concurrency: options.concurrentPieceCount,
    originJob: (number) => ({
      number,
      retry: true,
      fetch: async (range, signal) => ({ body: await read(range, signal), source: 'origin' }),
    }),
    runPieces: (nextJob, onPieceFailed, order) =>
      runPieceLoop({
        task,
        concurrency: options.concurrentPieceCount,
        context,
        nextJob,
        onPiece: init.onPiece,
        onPieceFailed,
        signal: init.signal,
        headStart: order?.headStart,
        retry,
        onRetry: (pieceNumber, error, attempt, delayMs) => emit({ type: 'retry', pieceNumber, attempt, delayMs, error }),
      }),
    fetchMissingFromOrigin: async () => {
      if (task.complete) return;
      if (stat.rangeSupported) {
        await session.runPieces(queueOf(task.missingPieces(), session.originJob));
        return;
      }
      await withRetry(async () => writeWholeBody(context, await read(undefined, init.signal), init.onPiece), {
        ...retry,
        signal: init.signal,
      });
    },
  };
  return session;
}

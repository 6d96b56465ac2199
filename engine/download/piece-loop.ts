/**
 * The bounded-concurrency piece loop every download runs: N workers each take the next piece job,
 * fetch its body, write and verify it, and record it. Where pieces come from (the origin, a parent
 * peer) is the job's business; the loop only moves bytes and keeps at most N pieces in flight.
 */
import type { PieceRange } from '../../api/index.ts';
import type { PieceRecord, StoredTask } from '../store/task.ts';
import { writePiece, type ExpectedDigest, type WriteContext } from './piece-writer.ts';
import { withRetry, type RetryOptions } from './retry.ts';

/** A piece body, from where, and (from a parent) the digest it must have. */
export interface PieceBody {
  readonly body: AsyncIterable<Uint8Array>;
  /** `origin`, or the parent's id. */
  readonly source: string;
  /**
   * `crc32:<decimal>` the bytes must hash to; a mismatch fails the piece. A function is asked once
   * the body ended (a relayed piece's digest arrives after its bytes); undefined then fails the piece.
   */
  readonly expectedDigest?: ExpectedDigest | undefined;
}

export interface PieceJob {
  readonly number: number;
  fetch(range: PieceRange, signal: AbortSignal): Promise<PieceBody>;
  /** Retry this job in place on retryable errors (origin pieces); otherwise a failure goes to onPieceFailed. */
  readonly retry?: boolean | undefined;
  /** Called once the piece is recorded: a strategy reports it (to a scheduler) and learns the job is done. */
  finished?(record: PieceRecord): void | Promise<void>;
}

export interface PieceLoopOptions {
  readonly task: StoredTask;
  readonly concurrency: number;
  readonly context: WriteContext;
  /** The next job, or undefined when there is nothing more to do; may wait for pieces to become available. */
  nextJob(signal: AbortSignal): Promise<PieceJob | undefined>;
  /** Called once a piece is written and verified. */
  onPiece(record: PieceRecord): Promise<void>;
  /** A failed job: return true when handled (say, queued again for another parent), false to fail the download. */
  onPieceFailed?: ((number: number, error: unknown) => boolean | Promise<boolean>) | undefined;
  readonly retry: Omit<RetryOptions, 'signal' | 'onRetry'>;
  onRetry?: ((number: number, error: unknown, attempt: number, delayMs: number) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * The first piece is fetched alone and the other workers join once it is done: a reader that
   * streams the content in order (a proxy answer) gets its first bytes after one piece instead of
   * after N pieces sharing the link.
   */
  readonly headStart?: boolean | undefined;
}

export async function runPieceLoop(options: PieceLoopOptions): Promise<void> {
  const { task, context } = options;
  // One failure stops the other workers; the first error is the one reported.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const firstPiece = Promise.withResolvers<void>();
  const worker = async (leader: boolean) => {
    try {
      await work(leader);
    } finally {
      if (leader) firstPiece.resolve();
    }
  };
  const work = async (leader: boolean) => {
    while (!signal.aborted) {
      const job = await options.nextJob(signal);
      if (!job || signal.aborted) return;
      const range = task.rangeOf(job.number);
      const attempt = async () => {
        const piece = await job.fetch(range, signal);
        return writePiece(context, range, piece.body, piece.source, piece.expectedDigest);
      };
      let record: PieceRecord;
      try {
        record = job.retry
          ? await withRetry(attempt, {
              ...options.retry,
              signal,
              onRetry: (error, n, delayMs) => options.onRetry?.(job.number, error, n, delayMs),
            })
          : await attempt();
      } catch (error) {
        if (!signal.aborted && (await options.onPieceFailed?.(job.number, error))) continue;
        throw error;
      }
      await options.onPiece(record);
      await job.finished?.(record);
      if (leader) firstPiece.resolve();
    }
  };
  const workers = Array.from({ length: options.concurrency }, (_, i) =>
    (i === 0 || !options.headStart ? worker(i === 0) : firstPiece.promise.then(() => worker(false))).catch((error: unknown) => {
      if (!stop.signal.aborted) stop.abort(error);
      throw error;
    }),
  );
  const results = await Promise.allSettled(workers);
  if (results.some((result) => result.status === 'rejected')) throw stop.signal.reason;
}

/** Jobs for a fixed list of pieces, in order. */
export function queueOf(numbers: readonly number[], job: (number: number) => PieceJob): (signal: AbortSignal) => Promise<PieceJob | undefined> {
  const queue = [...numbers];
  return async () => {
    const number = queue.shift();
    return number === undefined ? undefined : job(number);
  };
}

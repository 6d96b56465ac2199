/** Engine options: one frozen defaults object, merged with `??` so 0 stays a valid value. */
import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from '../api/index.ts';

export interface EngineOptions {
  /** Root of the content store: `<storageDir>/content/tasks/...`, `<storageDir>/metadata/tasks/...`. */
  storageDir: string;
  /** Pieces fetched at once per task (Dragonfly's download.concurrentPieceCount). */
  concurrentPieceCount?: number;
  /** A piece request that moves no bytes for this long fails and is retried. */
  pieceTimeoutMs?: number;
  /** Further attempts per piece after the first. */
  pieceRetries?: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /**
   * A piece whose source keeps failing with errors worth retrying (5xx, resets, timeouts) is
   * retried, past `pieceRetries`, until its first failure is this old: an origin down for a while
   * in the middle of a download is waited out. Not for the first request (the stat): a caller that
   * gets no byte learns at once and may go elsewhere (containerd falls back to the registry).
   */
  retryWindowMs?: number;
  /** Bytes gathered from the network before one positional write. */
  writeBatchBytes?: number;
  /** Threads of the hashing pool. */
  ioThreads?: number;
  maxRedirects?: number;
  /** How long a redirect target is reused for later pieces (Dragonfly: 10 min). */
  redirectCacheTtlMs?: number;
  /**
   * Flush a task to disk before it completes, so a crash never leaves zeros behind a complete
   * task or output. Off by default, as in curl, wget and Dragonfly: resumed pieces are re-checked
   * against their crc32 anyway, and the flush costs ~1 s per GiB on slow disks.
   */
  durable?: boolean;
  /**
   * Ranged reads from http origins share kept-alive, pipelined connections whose bodies the addon
   * moves socket -> crc32 -> file (HttpSource's keepAlive, raw-pool.ts), on slow and fast links
   * alike. Needs the native addon; without it the option does nothing.
   */
  keepAlive?: boolean;
}

export type ResolvedEngineOptions = Readonly<Required<EngineOptions>>;

export const ENGINE_DEFAULTS = Object.freeze({
  concurrentPieceCount: 8,
  pieceTimeoutMs: 360_000,
  pieceRetries: 3,
  retryBaseDelayMs: 200,
  retryMaxDelayMs: 5_000,
  retryWindowMs: 30_000,
  writeBatchBytes: 1024 * 1024,
  ioThreads: Math.max(2, availableParallelism()),
  maxRedirects: 10,
  redirectCacheTtlMs: 600_000,
  durable: false,
  keepAlive: false,
});

export function positiveInteger(name: string, value: number, min = 1): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

export function resolveEngineOptions(options: EngineOptions): ResolvedEngineOptions {
  if (!options.storageDir) throw new InvalidArgumentError('storageDir is required');
  const d = ENGINE_DEFAULTS;
  return Object.freeze({
    storageDir: options.storageDir,
    concurrentPieceCount: positiveInteger('concurrentPieceCount', options.concurrentPieceCount ?? d.concurrentPieceCount),
    pieceTimeoutMs: positiveInteger('pieceTimeoutMs', options.pieceTimeoutMs ?? d.pieceTimeoutMs),
    pieceRetries: positiveInteger('pieceRetries', options.pieceRetries ?? d.pieceRetries, 0),
    retryBaseDelayMs: positiveInteger('retryBaseDelayMs', options.retryBaseDelayMs ?? d.retryBaseDelayMs, 0),
    retryMaxDelayMs: positiveInteger('retryMaxDelayMs', options.retryMaxDelayMs ?? d.retryMaxDelayMs, 0),
    retryWindowMs: positiveInteger('retryWindowMs', options.retryWindowMs ?? d.retryWindowMs, 0),
    writeBatchBytes: positiveInteger('writeBatchBytes', options.writeBatchBytes ?? d.writeBatchBytes),
    ioThreads: positiveInteger('ioThreads', options.ioThreads ?? d.ioThreads),
    maxRedirects: positiveInteger('maxRedirects', options.maxRedirects ?? d.maxRedirects, 0),
    redirectCacheTtlMs: positiveInteger('redirectCacheTtlMs', options.redirectCacheTtlMs ?? d.redirectCacheTtlMs, 0),
    durable: options.durable ?? d.durable,
    keepAlive: options.keepAlive ?? d.keepAlive,
  });
}

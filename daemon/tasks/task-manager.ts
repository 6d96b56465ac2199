/**
 * Runs the daemon's downloads: one engine download per task at a time, shared by every request for
 * that task (dfget, the proxy, the scheduler's seed-peer trigger), each request following it from
 * its own `started` (with the pieces already there) through one event per finished piece. A request
 * that names a digest gets it checked while the pieces land (DigestVerifier) and is answered only
 * once it matched. A download no request follows any more is stopped, unless it was started
 * detached (a seed peer keeps going: other peers wait for its pieces).
 */
import type { DownloadEvent, DownloadResult, Engine, PieceRecord, PieceStrategy } from '../../engine/index.ts';
import { AbortedError, DigestVerifier, TaskDigestMismatchError } from '../../engine/index.ts';
import type { Logger } from '../log.ts';
import type { DaemonMetrics, TrafficType } from '../metrics.ts';
import { taskIdOfRequest, type TaskRequest } from './request.ts';

export interface StartedInfo {
  readonly taskId: string;
  readonly peerId: string;
  readonly contentLength: number;
  readonly pieceLength: number;
  readonly pieceCount: number;
  /** Pieces present when this follower joined. */
  readonly pieces: readonly PieceRecord[];
}

export interface TaskFollower {
  onStarted(info: StartedInfo): void;
  onPiece(record: PieceRecord, traffic: TrafficType): void;
  /** The engine's finer progress (bytes as they arrive, retries), for a progress bar or a log. */
  onProgress?(event: DownloadEvent): void;
}

/** A followed download's outcome: every piece is in the store, and the digest asked for matched. */
export interface FollowResult extends DownloadResult {
  /** The verified digest, when the request named one. */
  readonly digest?: string | undefined;
}

export interface FollowOptions {
  readonly signal?: AbortSignal | undefined;
  /** Keep downloading when this follower goes away (seed-peer triggers, proxy answers). */
  readonly detached?: boolean | undefined;
  readonly seed?: boolean | undefined;
}

/** Where a task's pieces come from: the composition root plugs in the P2P strategy, dfget alone the origin. */
export type StrategyFactory = (input: { request: TaskRequest; taskId: string; peerId: string; seed: boolean }) => PieceStrategy;

interface InFlight {
  readonly taskId: string;
  readonly peerId: string;
  readonly controller: AbortController;
  readonly followers: Set<TaskFollower>;
  detached: boolean;
  started?: Omit<StartedInfo, 'pieces'> & { resumed: readonly PieceRecord[] };
  readonly finished: PieceRecord[];
  /** The task's own digest (an OCI blob), checked before the task is marked complete. */
  readonly digest?: string | undefined;
  result?: Promise<FollowResult>;
}

export function trafficOf(record: PieceRecord): TrafficType {
  return record.source === 'origin' ? 'back_to_source' : 'remote_peer';
}

export class TaskManager {
  readonly #engine: Engine;
  readonly #strategyFor: StrategyFactory;
  readonly #metrics: DaemonMetrics;
  readonly #log: Logger;
  readonly #newPeerId: () => string;
  readonly #inFlight = new Map<string, InFlight>();
  readonly #shutdown: AbortSignal;
  readonly #pieceDefaults: () => { readonly concurrentPieceCount?: number | undefined };

  /**
   * `pieceDefaults` gives what a request that says nothing gets (the cluster's client config from
   * the manager), read at each download's start; a request's own value always wins.
   */
  constructor(init: {
    engine: Engine;
    strategyFor: StrategyFactory;
    metrics: DaemonMetrics;
    log: Logger;
    newPeerId: () => string;
    signal: AbortSignal;
    pieceDefaults?: () => { readonly concurrentPieceCount?: number | undefined };
  }) {
    this.#pieceDefaults = init.pieceDefaults ?? (() => ({}));
    this.#engine = init.engine;
    this.#strategyFor = init.strategyFor;
    this.#metrics = init.metrics;
    this.#log = init.log;
    this.#newPeerId = init.newPeerId;
    this.#shutdown = init.signal;
  }

  taskIdOf(request: TaskRequest): string {
    return taskIdOfRequest(request);
  }

  isRunning(taskId: string): boolean {
    return this.#inFlight.has(taskId);
  }

  get running(): number {
    return this.#inFlight.size;
  }

  /**
   * Follows the download of `request`'s task, starting it when none runs. Resolves when every
   * piece is in the store and the request's digest (if any) matched; rejects with the download's
   * error, TaskDigestMismatchError (the task is then dropped), or AbortedError when `signal` ends
   * this follower's interest (the download goes on for the others).
   */
  async follow(request: TaskRequest, outer: TaskFollower, options: FollowOptions = {}): Promise<FollowResult> {
    const taskId = taskIdOfRequest(request);
    const kind = options.seed ? 'seed' : 'normal';
    this.#metrics.downloadTasks.labels({ type: kind }).inc();
    let entry = this.#inFlight.get(taskId);
    // A download its last follower stopped is still closing its task: a new request waits for
    // that, then starts afresh, rather than joining a download that is about to fail.
    while (entry?.controller.signal.aborted) {
      await entry.result!.catch(() => {});
      entry = this.#inFlight.get(taskId);
    }
    if (!entry) entry = this.#start(request, taskId, options.seed ?? false);
    const checkedByTask = request.digest !== undefined && entry.digest === request.digest;
    const verifier = request.digest && !checkedByTask ? new DigestVerifier(this.#engine.pool, this.#engine.store.filesOf(taskId).dataPath, request.digest) : undefined;
    const follower: TaskFollower = {
      onStarted: (info) => {
        // What this request finds already stored reaches it from the local store.
        const bytes = info.pieces.reduce((sum, piece) => sum + piece.length, 0);
        this.#metrics.downloadTraffic.labels({ type: 'local_peer' }).inc(bytes);
        this.#metrics.downloadPieces.labels({ type: 'local_peer' }).inc(info.pieces.length);
        verifier?.start(info, info.pieces.map((piece) => piece.number));
        outer.onStarted(info);
      },
      onPiece: (record, traffic) => {
        verifier?.piece(record.number);
        outer.onPiece(record, traffic);
      },
      onProgress: (event) => outer.onProgress?.(event),
    };
    if (options.detached) entry.detached = true;
    entry.followers.add(follower);
    if (entry.started) follower.onStarted(this.#startedFor(entry));
    const current = entry;
    /** Leaves the download; true when this follower was its last and stopped it. */
    const leave = (): boolean => {
      current.followers.delete(follower);
      if (current.followers.size > 0 || current.detached || this.#inFlight.get(taskId) !== current || current.controller.signal.aborted) return false;
      current.controller.abort(new AbortedError('no request follows this download any more'));
      return true;
    };
    const signal = options.signal;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new AbortedError(signal?.reason));
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => {});
    try {
      const result = await Promise.race([current.result!, aborted]);
      if (!verifier) return result;
      return { ...result, digest: await Promise.race([verifier.finish(), aborted]) };
    } catch (error) {
      verifier?.cancel();
      if (error instanceof TaskDigestMismatchError && verifier) await this.#dropMismatched(taskId, error);
      if (!(error instanceof AbortedError) || !signal?.aborted) this.#metrics.downloadTaskFailures.labels({ type: kind }).inc();
      throw error;
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      // The last follower to leave answers only once the download it stopped has closed its task:
      // whoever comes next (a retry, dfget run again) finds the task free, not locked.
      if (leave()) await current.result!.catch(() => {});
    }
  }

  /**
   * Every piece matched its crc32, so the content is what the origin sent and it is not what the
   * request expects: no piece of it can be trusted, unless another download of the task runs.
   */
  async #dropMismatched(taskId: string, error: TaskDigestMismatchError, ending?: InFlight): Promise<void> {
    this.#log.error('content does not match the digest asked for; task dropped', { taskId, expected: error.expected, actual: error.actual });
    const running = this.#inFlight.get(taskId);
    if (running && running !== ending) return;
    await this.#engine.tasks.remove(taskId).catch((removeError: unknown) => this.#log.error('cannot drop a mismatched task', { taskId, error: removeError }));
  }

  /** Stops every download (shutdown). */
  abortAll(reason: unknown): void {
    for (const entry of this.#inFlight.values()) entry.controller.abort(reason);
  }

  /** Resolves once no download runs. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#inFlight.values()].map((entry) => entry.result));
  }

  #startedFor(entry: InFlight): StartedInfo {
    const started = entry.started!;
    return { ...started, pieces: [...started.resumed, ...entry.finished].sort((a, b) => a.number - b.number) };
  }

  #start(request: TaskRequest, taskId: string, seed: boolean): InFlight {
    const controller = new AbortController();
    // A digest that is the task's own is the task's business, whoever follows: checked even when
    // every follower has gone and the download runs on detached.
    const digest = request.enableTaskIdBasedBlobDigest ? request.digest : undefined;
    const entry: InFlight = { taskId, peerId: this.#newPeerId(), controller, followers: new Set(), detached: false, finished: [], digest };
    const verifier = digest ? new DigestVerifier(this.#engine.pool, this.#engine.store.filesOf(taskId).dataPath, digest) : undefined;
    this.#inFlight.set(taskId, entry);
    const signal = AbortSignal.any([controller.signal, this.#shutdown]);
    const strategy = this.#strategyFor({ request, taskId, peerId: entry.peerId, seed });
    this.#log.info('download started', { taskId, peerId: entry.peerId, url: request.url, seed });
    entry.result = this.#engine
      .download({
        taskId,
        url: request.url,
        headers: request.headers,
        pieceLength: request.pieceLength,
        concurrentPieceCount: request.concurrentPieceCount ?? this.#pieceDefaults().concurrentPieceCount,
        pieceTimeoutMs: request.pieceTimeoutMs,
        signal,
        strategy,
        beforeComplete: verifier && (() => verifier.finish().then(() => undefined)),
        onEvent: (event) => {
          for (const follower of entry.followers) follower.onProgress?.(event);
          if (event.type === 'started') {
            verifier?.start(event, event.resumedPieces.map((piece) => piece.number));
            entry.started = {
              taskId,
              peerId: entry.peerId,
              contentLength: event.contentLength,
              pieceLength: event.pieceLength,
              pieceCount: event.pieceCount,
              resumed: event.resumedPieces,
            };
            for (const follower of entry.followers) follower.onStarted(this.#startedFor(entry));
          } else if (event.type === 'piece') {
            const traffic = trafficOf(event.piece);
            verifier?.piece(event.piece.number);
            entry.finished.push(event.piece);
            this.#metrics.downloadTraffic.labels({ type: traffic }).inc(event.piece.length);
            this.#metrics.downloadPieces.labels({ type: traffic }).inc();
            for (const follower of entry.followers) follower.onPiece(event.piece, traffic);
          } else if (event.type === 'retry') {
            // Once per piece at warn: an origin outage of many seconds is one line per piece, not one per attempt.
            const fields = { taskId, piece: event.pieceNumber, attempt: event.attempt, delayMs: event.delayMs, error: event.error };
            if (event.attempt === 1) this.#log.warn('origin piece failed; retrying until download.retryWindow', fields);
            else this.#log.debug('origin piece failed again; retrying', fields);
          }
        },
      })
      .then(
        (result): FollowResult => {
          this.#log.info('download finished', { taskId, contentLength: result.contentLength, resumedBytes: result.resumedBytes });
          return digest ? { ...result, digest: verifier!.expectedText } : result;
        },
        async (error: unknown) => {
          verifier?.cancel();
          this.#log.warn('download failed', { taskId, error });
          if (error instanceof TaskDigestMismatchError) await this.#dropMismatched(taskId, error, entry);
          throw error;
        },
      )
      .finally(() => {
        if (this.#inFlight.get(taskId) === entry) this.#inFlight.delete(taskId);
      });
    entry.result.catch(() => {});
    return entry;
  }
}

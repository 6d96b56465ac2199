/**
 * Runs the daemon's downloads: one engine download per task at a time, shared by every request for
 * that task (dfget, the scheduler's seed-peer trigger), each request following it from its own
 * `started` (with the pieces already there) through one event per finished piece. A download no
 * request follows any more is stopped, unless it was started detached (a seed peer keeps going:
 * other peers wait for its pieces).
 */
import type { DownloadResult, Engine, PieceRecord, PieceStrategy } from '../../engine/index.ts';
import { AbortedError, taskIdOfRequest } from '../../engine/index.ts';
import type { Logger } from '../log.ts';
import type { DaemonMetrics, TrafficType } from '../metrics.ts';
import type { DownloadSpec } from '../rpc/validate.ts';

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
}

/** Where a task's pieces come from: the composition root plugs in the P2P strategy. */
export type StrategyFactory = (input: { spec: DownloadSpec; taskId: string; peerId: string; seed: boolean }) => PieceStrategy;

interface InFlight {
  readonly taskId: string;
  readonly peerId: string;
  readonly controller: AbortController;
  readonly followers: Set<TaskFollower>;
  detached: boolean;
  started?: Omit<StartedInfo, 'pieces'> & { resumed: readonly PieceRecord[] };
  readonly finished: PieceRecord[];
  result?: Promise<DownloadResult>;
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

  constructor(init: { engine: Engine; strategyFor: StrategyFactory; metrics: DaemonMetrics; log: Logger; newPeerId: () => string; signal: AbortSignal }) {
    this.#engine = init.engine;
    this.#strategyFor = init.strategyFor;
    this.#metrics = init.metrics;
    this.#log = init.log;
    this.#newPeerId = init.newPeerId;
    this.#shutdown = init.signal;
  }

  taskIdOf(spec: DownloadSpec): string {
    return taskIdOfRequest(spec);
  }

  isRunning(taskId: string): boolean {
    return this.#inFlight.has(taskId);
  }

  get running(): number {
    return this.#inFlight.size;
  }

  /**
   * Follows the download of `spec`'s task, starting it when none runs. Resolves when every piece is
   * in the store; rejects with the download's error, or AbortedError when `signal` ends this
   * follower's interest (the download goes on for the others).
   */
  async follow(spec: DownloadSpec, outer: TaskFollower, options: { signal?: AbortSignal | undefined; detached?: boolean; seed?: boolean }): Promise<DownloadResult> {
    const taskId = taskIdOfRequest(spec);
    const kind = options.seed ? 'seed' : 'normal';
    this.#metrics.downloadTasks.labels({ type: kind }).inc();
    const follower: TaskFollower = {
      onStarted: (info) => {
        // What this request finds already stored reaches it from the local store.
        const bytes = info.pieces.reduce((sum, piece) => sum + piece.length, 0);
        this.#metrics.downloadTraffic.labels({ type: 'local_peer' }).inc(bytes);
        this.#metrics.downloadPieces.labels({ type: 'local_peer' }).inc(info.pieces.length);
        outer.onStarted(info);
      },
      onPiece: (record, traffic) => outer.onPiece(record, traffic),
    };
    let entry = this.#inFlight.get(taskId);
    if (!entry) entry = this.#start(spec, taskId, options.seed ?? false);
    if (options.detached) entry.detached = true;
    entry.followers.add(follower);
    if (entry.started) follower.onStarted(this.#startedFor(entry));
    const current = entry;
    const leave = () => {
      current.followers.delete(follower);
      if (current.followers.size === 0 && !current.detached && this.#inFlight.get(taskId) === current) {
        current.controller.abort(new Error('no request follows this download any more'));
      }
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
      return await Promise.race([current.result!, aborted]);
    } catch (error) {
      if (!(error instanceof AbortedError) || !signal?.aborted) this.#metrics.downloadTaskFailures.labels({ type: kind }).inc();
      throw error;
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      leave();
    }
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

  #start(spec: DownloadSpec, taskId: string, seed: boolean): InFlight {
    const controller = new AbortController();
    const entry: InFlight = { taskId, peerId: this.#newPeerId(), controller, followers: new Set(), detached: false, finished: [] };
    this.#inFlight.set(taskId, entry);
    const signal = AbortSignal.any([controller.signal, this.#shutdown]);
    const strategy = this.#strategyFor({ spec, taskId, peerId: entry.peerId, seed });
    this.#log.info('download started', { taskId, peerId: entry.peerId, url: spec.url, seed });
    entry.result = this.#engine
      .download({
        url: spec.url,
        headers: spec.headers,
        tag: spec.tag,
        application: spec.application,
        filteredQueryParams: spec.filteredQueryParams,
        pieceLength: spec.pieceLength,
        contentForCalculatingTaskId: spec.contentForCalculatingTaskId,
        enableTaskIdBasedBlobDigest: spec.enableTaskIdBasedBlobDigest,
        // When the task id is the content's digest, the digest belongs to the task and the engine
        // checks it while the pieces arrive; other requests check their own (TaskService).
        digest: spec.enableTaskIdBasedBlobDigest ? spec.digest : undefined,
        inOrderReader: spec.inOrderReader,
        signal,
        strategy,
        onEvent: (event) => {
          if (event.type === 'started') {
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
            entry.finished.push(event.piece);
            this.#metrics.downloadTraffic.labels({ type: traffic }).inc(event.piece.length);
            this.#metrics.downloadPieces.labels({ type: traffic }).inc();
            for (const follower of entry.followers) follower.onPiece(event.piece, traffic);
          }
        },
      })
      .then(
        (result) => {
          this.#log.info('download finished', { taskId, contentLength: result.contentLength, resumedBytes: result.resumedBytes });
          return result;
        },
        (error: unknown) => {
          this.#log.warn('download failed', { taskId, error });
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

/**
 * Stalled parents in a round without a stripe plan. A parent that stops sending without closing
 * (a stopped process, a wedged host, a link that drops everything) keeps the pieces we asked of it
 * until download.pieceTimeout (minutes), while other parents hold the same pieces. A parent with
 * pieces asked of it that shows no sign of life for ASKED_QUEUE_FACTOR times what those pieces
 * take at its recent rate (never less than STALL_MS) is stalled: the round gives it up as it gives
 * up a parent whose piece failed. The stripe follower applies the same window to stripe parents.
 */
import { ASKED_QUEUE_FACTOR, type ParentPace } from './parent-pace.ts';
import { STALL_CHECK_MS, STALL_MS } from './stripe-follower.ts';

export interface StalledParent {
  readonly parentId: string;
  /** How long it showed no sign of life, and the window it had. */
  readonly silentMs: number;
  readonly windowMs: number;
  /** Pieces asked of it. */
  readonly asked: number;
}

export class ParentStallWatch {
  readonly #inFlight: ReadonlyMap<number, { readonly parentId: string }>;
  readonly #pace: ParentPace;
  readonly #pieceLength: number;
  readonly #now: () => number;
  /** parent -> last sign of life (may lie ahead: a native receive in flight). */
  readonly #alive = new Map<string, number>();
  #lastCheck = Number.POSITIVE_INFINITY;

  constructor(init: {
    inFlight: ReadonlyMap<number, { readonly parentId: string }>;
    pace: ParentPace;
    pieceLength: number;
    now?: () => number;
  }) {
    this.#inFlight = init.inFlight;
    this.#pace = init.pace;
    this.#pieceLength = init.pieceLength;
    this.#now = init.now ?? (() => performance.now());
  }

  /** A sign of life from `parentId` (a piece asked, bytes, an answer); `aheadMs`: alive that much longer. */
  touch(parentId: string, aheadMs = 0): void {
    const at = this.#now() + aheadMs;
    if (at > (this.#alive.get(parentId) ?? -Infinity)) this.#alive.set(parentId, at);
  }

  /** Parents with pieces asked of them that are past their window now. Call every STALL_CHECK_MS. */
  check(): StalledParent[] {
    const now = this.#now();
    // A longer gap between checks is this process not running (a loaded machine), not the parents' silence.
    const paused = now - this.#lastCheck - STALL_CHECK_MS;
    this.#lastCheck = now;
    if (paused > STALL_CHECK_MS) for (const [parentId, at] of this.#alive) this.#alive.set(parentId, at + paused);
    const asked = new Map<string, number>();
    for (const { parentId } of this.#inFlight.values()) asked.set(parentId, (asked.get(parentId) ?? 0) + 1);
    const stalled: StalledParent[] = [];
    for (const [parentId, count] of asked) {
      const windowMs = Math.max(STALL_MS, ASKED_QUEUE_FACTOR * this.#pace.queueMs(parentId, count, this.#pieceLength));
      const silentMs = now - (this.#alive.get(parentId) ?? now);
      if (silentMs >= windowMs) stalled.push({ parentId, silentMs, windowMs, asked: count });
    }
    for (const parentId of this.#alive.keys()) if (!asked.has(parentId)) this.#alive.delete(parentId);
    return stalled;
  }
}

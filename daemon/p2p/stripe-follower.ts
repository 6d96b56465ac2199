/**
 * How one round follows the scheduler's striped plan (stripe-plan.ts): which parent each piece may
 * come from, when a stripe moves on to its next parent, and telling the scheduler so. A stripe
 * leaves its current parent
 * - at once when that parent is blocked (it failed a piece), gone from the candidates, or its
 *   SyncPieces broke, or when it finished announcing and holds none of the stripe's missing pieces;
 * - on a stall, while pieces of the stripe are missing here and a later parent of the stripe holds
 *   one: with pieces asked of it, no bytes (of any piece) for ASKED_QUEUE_FACTOR times what those
 *   pieces take at its recent rate, never less than STALL_MS; with nothing asked, no new
 *   announcement for STALL_CADENCE_FACTOR times its cadence, never less than QUIET_PARENT_MS.
 * Each move is reported once per stripe and parent, as a temporary piece failure naming the parent
 * left: that is what makes the scheduler re-attach this peer. A stripe with no parent left, or
 * stalled with no later parent holding anything it misses, takes its pieces from any holder, as
 * without a plan: following a plan is never worse than the DAG.
 */
import type { StoredTask } from '../../engine/index.ts';
import { ASKED_QUEUE_FACTOR, type ParentPace } from './parent-pace.ts';
import type { PieceCollector } from './piece-collector.ts';
import type { PlanSlot, StripePlan } from './stripe-plan.ts';

/**
 * The shortest silence after which a stripe parent with pieces asked of it is left for the next
 * one (the window grows with what is queued: ASKED_QUEUE_FACTOR). The
 * scheduler's collectedPieceTimeout (10 s) ends a whole round and is far too slow for one stripe:
 * at 100 Mbit/s a 4 MiB piece takes 0.34 s, so a second of silence is several pieces of the
 * stripe not moving, and children further down the stripe's tree wait for every one of them.
 */
export const STALL_MS = 1_000;

/**
 * A parent with nothing in flight to us that is still receiving the stripe itself announces its
 * pieces at the rate it gets them: with k stripes at a shared 100 Mbit/s, a 4 MiB piece of one
 * stripe every 1.3 s. Such a parent is on time, not stalled, and a child that caught up with it
 * waits for each announcement; so silence counts as a stall only past this many times the
 * parent's cadence for the stripe (and never before QUIET_PARENT_MS). The cadence is the longest recent
 * gap between its announcements of the stripe, or k times that between any two of its
 * announcements when longer: the latter is known after two pieces of any stripe, the former only
 * after two of this one, which can be too late for the first.
 */
export const STALL_CADENCE_FACTOR = 2;

/**
 * A parent with nothing asked of it holds nothing we miss: it is waiting for its own parent, and
 * leaving it cannot make the stripe faster, only move its load onto the backups (the root first).
 * At the start of a swarm the wait is seconds for a forwarder a few levels down (the seed's first
 * pieces come from the origin, each level takes a piece time at the stripe rate: 1.3 s for 4 MiB
 * with 4 stripes at 100 Mbit/s), and a busy machine adds pauses of its own. Measured on simulated
 * hosts (bench:swarm): with a 1 s window every child of 4 peers left for the seed within 3 s of
 * the start and the seed sent the file 3 times; with its parent's cadence as the window, 16 peers
 * in 4 stripes cascaded onto the seed within 12 s. Such a parent is left only after this long
 * (the scheduler's collectedPieceTimeout) or a slower cadence, or at once when it fails or its
 * SyncPieces breaks (a parent that dies).
 */
export const QUIET_PARENT_MS = 10_000;

/** How much of the longest recent gap between announcements is kept at each new one. */
const CADENCE_DECAY = 0.8;

/** How often stripes are checked for a stall. */
export const STALL_CHECK_MS = 250;

/** Where a piece may come from: only `parentId` (the stripe's current parent), or any holder but `except`. */
export type PieceRoute =
  | { readonly kind: 'parent'; readonly parentId: string; readonly stripe: number }
  | { readonly kind: 'any'; readonly except?: string | undefined };

/**
 * A stripe that `from` no longer serves, for the round to take that parent's pieces of it back:
 * `switch`ed to its next parent `to` (reported), or `open`: stalled with no later parent holding
 * anything it misses, so any other holder serves it until `from` shows a sign of life again.
 */
export interface StripeSwitch {
  readonly kind: 'switch' | 'open';
  readonly stripe: number;
  readonly from: string;
  readonly to: string | undefined;
}

export interface StripeFollowerDeps {
  readonly slot: PlanSlot;
  readonly collector: PieceCollector;
  readonly task: Pick<StoredTask, 'missingPieces' | 'pieceLength'>;
  /** Parents not to use (the round's, shared with the strategy). */
  readonly blocked: ReadonlySet<string>;
  /** `stripe:parent` pairs already reported, kept for the whole download. */
  readonly reported: Set<string>;
  /** The round's pieces in flight, by number, with the parent each comes from. */
  readonly inFlight: ReadonlyMap<number, { readonly parentId: string }>;
  report(number: number, parentId: string): void;
  /** The round's measure of its parents' piece times (shared: the round feeds it). */
  readonly pace: ParentPace;
  readonly now?: () => number;
}

export class StripeFollower {
  readonly #deps: StripeFollowerDeps;
  readonly #now: () => number;
  #version = -1;
  /** stripe -> last sign of life of its current parent (may lie ahead: a native receive in flight). */
  #alive = new Map<number, number>();
  /** Stripes stalled with no later parent to go to: their pieces come from any holder meanwhile. */
  #open = new Set<number>();
  /** `parent:stripe`, and `parent` alone -> when it last announced a piece (of the stripe), and the longest recent gap. */
  readonly #cadence = new Map<string, { last: number; gapMs: number }>();
  #lastCheck = Number.POSITIVE_INFINITY;
  /** When the plan in force arrived: a parent's first announcement after it is its first gap. */
  #planAt = 0;

  constructor(deps: StripeFollowerDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? (() => performance.now());
  }

  get plan(): StripePlan | undefined {
    return this.#deps.slot.plan;
  }

  /** Where piece `number` may come from now. */
  route(number: number): PieceRoute {
    const plan = this.#sync();
    if (!plan) return { kind: 'any' };
    const stripe = plan.stripeOf(number);
    const parentId = plan.current(stripe);
    if (parentId === undefined) return { kind: 'any' };
    if (this.#open.has(stripe)) return { kind: 'any', except: parentId };
    return { kind: 'parent', parentId, stripe };
  }

  /**
   * Pieces a stripe parent may have in flight at once. With a plan the scheduler already split the
   * parents' uplinks by stripe, so the idle-bandwidth shares (parentShares), which give a parent
   * the scheduler loaded no piece while an idle one has room, would starve that parent's stripe:
   * a stripe parent gets its stripes' part of the concurrency instead, at least one piece.
   */
  share(parentId: string, concurrency: number): number {
    const plan = this.plan;
    if (!plan) return 0;
    const stripes = plan.stripesOf(parentId).length;
    return stripes === 0 ? 0 : Math.max(1, Math.ceil((concurrency * stripes) / plan.stripeCount));
  }

  /**
   * A sign of life from `parentId` for piece `number` (bytes, an answer, an announcement);
   * `aheadMs`: it counts as alive that much longer (a native receive under way).
   */
  touch(parentId: string, number: number, aheadMs = 0): void {
    const plan = this.#sync();
    if (!plan) return;
    const at = this.#now() + aheadMs;
    // A parent that moves bytes of any piece is alive for every stripe it serves: a piece of its
    // stripe waiting behind another on a pipelined connection, or on its shared uplink, is a queue,
    // not a stall.
    for (const stripe of new Set([plan.stripeOf(number), ...plan.stripesOf(parentId)])) {
      if (plan.current(stripe) !== parentId) continue;
      if (at > (this.#alive.get(stripe) ?? -Infinity)) this.#alive.set(stripe, at);
      this.#open.delete(stripe);
    }
  }

  /** `parentId` announced piece `number` (arriving or finished): a sign of life, and its cadence. */
  announced(parentId: string, number: number): void {
    const plan = this.#sync();
    if (!plan) return;
    const now = this.#now();
    for (const key of [`${parentId}:${plan.stripeOf(number)}`, parentId]) {
      const cadence = this.#cadence.get(key);
      // The wait for its first piece is the first gap: a parent that took 2 s for it is given that long again.
      if (!cadence) this.#cadence.set(key, { last: now, gapMs: now - this.#planAt });
      else {
        cadence.gapMs = Math.max(now - cadence.last, cadence.gapMs * CADENCE_DECAY);
        cadence.last = now;
      }
    }
    this.touch(parentId, number);
  }

  /**
   * `parentId` failed (the round blocked it): every stripe it serves moves on. True when the
   * failure was reported here (or had been), so the round does not report it a second time.
   */
  parentFailed(parentId: string, number: number): boolean {
    const plan = this.#sync();
    if (!plan) return false;
    const stripes = plan.stripesOf(parentId);
    // The report names the failed piece, or for another stripe of the parent one that stripe misses.
    for (const stripe of stripes) this.#leave(plan, stripe, parentId, plan.stripeOf(number) === stripe ? number : (this.#lowestMissing(plan, stripe) ?? number));
    return stripes.length > 0 || this.#wasReported(parentId);
  }

  /** Moves every stripe whose current parent is unusable, finished without its pieces, or stalled. */
  check(): StripeSwitch[] {
    const plan = this.#sync();
    if (!plan) return [];
    // Checks come at least every STALL_CHECK_MS; a longer gap is this process not running (a
    // loaded machine, a long collection), and that time is not the parents' silence.
    const now = this.#now();
    const paused = now - this.#lastCheck - STALL_CHECK_MS;
    this.#lastCheck = now;
    if (paused > STALL_CHECK_MS) for (const [stripe, at] of this.#alive) this.#alive.set(stripe, at + paused);
    const switches: StripeSwitch[] = [];
    const missing = this.#missingByStripe(plan);
    for (const stripe of plan.stripes()) {
      for (let from = plan.current(stripe); from !== undefined; from = plan.current(stripe)) {
        const pieces = missing.get(stripe) ?? [];
        if (pieces.length === 0) break;
        const verdict = this.#verdict(plan, stripe, from, pieces);
        if (verdict === 'open' && !this.#open.has(stripe)) {
          this.#open.add(stripe);
          switches.push({ kind: 'open', stripe, from, to: undefined });
        }
        if (verdict !== 'leave') break;
        switches.push({ kind: 'switch', stripe, from, to: this.#leave(plan, stripe, from, pieces[0]!) });
      }
    }
    return switches;
  }

  /** Whether `stripe` stays with `from`, leaves it for the next parent, or is open to any holder. */
  #verdict(plan: StripePlan, stripe: number, from: string, pieces: readonly number[]): 'stay' | 'leave' | 'open' {
    const { collector } = this.#deps;
    if (!this.#usable(from)) return 'leave';
    const holds = (peerId: string) => pieces.some((number) => collector.holders(number).some((h) => h.parent.peerId === peerId));
    if (collector.stateOf(from) === 'done' && !holds(from)) return 'leave';
    // Nothing of the stripe asked of it while it holds a piece we miss: the wait is ours (no worker
    // was free), not the parent's. (An open stripe asks it nothing on purpose.)
    const asked = [...this.#deps.inFlight].some(([number, entry]) => entry.parentId === from && plan.stripeOf(number) === stripe);
    const ours = !asked && pieces.some((number) => !this.#deps.inFlight.has(number) && collector.holders(number).some((h) => h.parent.peerId === from));
    if (ours && !this.#open.has(stripe)) {
      this.#alive.set(stripe, this.#now());
      return 'stay';
    }
    // Bytes asked for and not coming stall at once; silence only past the parent's own cadence.
    const gapMs = asked ? 0 : Math.max(this.#cadence.get(`${from}:${stripe}`)?.gapMs ?? 0, plan.stripeCount * (this.#cadence.get(from)?.gapMs ?? 0));
    const windowMs = asked ? Math.max(STALL_MS, ASKED_QUEUE_FACTOR * this.#queueMs(from)) : Math.max(QUIET_PARENT_MS, STALL_CADENCE_FACTOR * gapMs);
    if (this.#now() - (this.#alive.get(stripe) ?? -Infinity) < windowMs) return this.#open.has(stripe) ? 'open' : 'stay';
    if (plan.later(stripe).some((id) => this.#usable(id) && holds(id))) return 'leave';
    // Stalled, and no later parent has anything to give: any other holder serves the stripe meanwhile.
    return 'open';
  }

  /** How long the pieces we have in flight with `parentId` take one after another at its recent rate. */
  #queueMs(parentId: string): number {
    let count = 0;
    for (const entry of this.#deps.inFlight.values()) if (entry.parentId === parentId) count++;
    return this.#deps.pace.queueMs(parentId, count, this.#deps.task.pieceLength);
  }

  #usable(peerId: string): boolean {
    const { collector, blocked } = this.#deps;
    return !blocked.has(peerId) && collector.parent(peerId) !== undefined && collector.stateOf(peerId) !== 'failed';
  }

  /** Leaves `from` for the stripe's next parent; reports it once. Returns the next parent. */
  #leave(plan: StripePlan, stripe: number, from: string, number: number): string | undefined {
    const to = plan.switchFrom(stripe, from);
    this.#alive.set(stripe, this.#now());
    this.#open.delete(stripe);
    const key = `${stripe}:${from}`;
    if (!this.#deps.reported.has(key)) {
      this.#deps.reported.add(key);
      this.#deps.report(number, from);
    }
    return to;
  }

  #wasReported(parentId: string): boolean {
    for (const key of this.#deps.reported) if (key.slice(key.indexOf(':') + 1) === parentId) return true;
    return false;
  }

  #lowestMissing(plan: StripePlan, stripe: number): number | undefined {
    return this.#deps.task.missingPieces().find((number) => plan.stripeOf(number) === stripe);
  }

  #missingByStripe(plan: StripePlan): Map<number, number[]> {
    const out = new Map<number, number[]>();
    for (const number of this.#deps.task.missingPieces()) {
      const stripe = plan.stripeOf(number);
      let list = out.get(stripe);
      if (!list) out.set(stripe, (list = []));
      list.push(number);
    }
    return out;
  }

  /** The plan in force; a newer one gives every stripe's parent a fresh start. */
  #sync(): StripePlan | undefined {
    const { slot } = this.#deps;
    if (slot.version !== this.#version) {
      this.#version = slot.version;
      const now = this.#now();
      this.#planAt = now;
      this.#alive = new Map((slot.plan?.stripes() ?? []).map((stripe) => [stripe, now]));
      this.#open = new Set();
    }
    return slot.plan;
  }
}

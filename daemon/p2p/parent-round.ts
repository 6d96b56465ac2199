/**
 * One scheduling round: fill the task from the candidate parents the scheduler gave. Each worker of
 * the engine's piece loop takes the lowest missing piece some usable parent announced, picks the
 * parent by idle bandwidth, and fetches it from that parent's piece server; the engine verifies the
 * bytes against the announced crc32. A parent that fails a piece (unreachable, refused, short, or
 * bytes that do not match) is reported, avoided for the rest of the round, and its piece goes back
 * to the queue. The round ends when the task is complete, or "dry": no usable parent can announce
 * anything more, or none announced anything new for `collectedPieceTimeout`.
 *
 * Each parent gets at most its share of the round's pieces in flight: the session's concurrency
 * split by idle upload bandwidth (parentShares: a parent the scheduler already loaded gets none
 * while an idle one has room), and a parent known to be slow at most SLOW_LINK_PIECES_IN_FLIGHT.
 * Without the shares, every child that has caught up with its peer parents asks the seed (the
 * only holder of the newest pieces) for them, and the seed's uplink goes to copies of the same
 * pieces instead of feeding the child it serves first; measured on simulated 100 Mbit/s hosts
 * (bench:swarm), the seed then sent the file 3 times to 4 peers and every peer finished at 3.3 x
 * the time one link needs (with the shares: each host sent the file once, 1.6 x).
 *
 * With the scheduler's striped plan (stripe-plan.ts, followed through stripe-follower.ts), piece n
 * comes only from the current parent of stripe n mod k while it holds the piece; a stripe parent's
 * cap is its stripes' part of the concurrency (StripeFollower.share says why), still at most
 * SLOW_LINK_PIECES_IN_FLIGHT on a slow link: there one piece at a time over a kept-alive
 * connection already keeps the link busy, which is the stripe's full rate. A stripe that moves on
 * from a parent takes that parent's pieces of it back at once. Without a plan, a parent that
 * stalls with pieces asked of it (parent-stall.ts) is given up as one whose piece failed, and when
 * the parents with a share go quiet every holder may serve (STARVED_ROUND_MS).
 */
import { PieceDigestMismatchError, SLOW_LINK_PIECES_IN_FLIGHT, SourceProtocolError, type PieceJob, type PieceRecord, type PieceSession, type TokenBucket } from '../../engine/index.ts';
import { ParentPieceError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { DaemonMetrics } from '../metrics.ts';
import { limitedJob } from './origin.ts';
import type { PieceClient } from './piece-client.ts';
import type { CandidateParent, PieceCollector } from './piece-collector.ts';
import { parentShares, parentWeight, pickWeighted } from './parent-selector.ts';
import { ParentPace, watchedBody } from './parent-pace.ts';
import { ParentStallWatch } from './parent-stall.ts';
import { STALL_CHECK_MS, StripeFollower, type PieceRoute } from './stripe-follower.ts';
import type { PlanSlot } from './stripe-plan.ts';

export interface RoundReport {
  pieceFinished(record: PieceRecord, parentId: string): void;
  pieceFailed(number: number, parentId: string): void;
}

export interface RoundDeps {
  readonly session: PieceSession;
  readonly collector: PieceCollector;
  readonly pieceClient: PieceClient;
  readonly limiter: TokenBucket;
  readonly collectedPieceTimeoutMs: number;
  readonly report: RoundReport;
  readonly metrics: DaemonMetrics;
  readonly log: Logger;
  /** Someone reads the content in order: the first piece is fetched alone. */
  readonly headStart?: boolean | undefined;
  readonly random?: () => number;
  /** The scheduler's striped plan, replaced while the round runs as newer answers come. */
  readonly plan?: PlanSlot | undefined;
  /** `stripe:parent` pairs whose switch was reported, for the whole download. */
  readonly reportedSwitches?: Set<string> | undefined;
  /**
   * Aborted when the round is to end at once (the scheduler answered something that is not a new
   * plan): no more pieces start, and those in flight go back to the queue.
   */
  readonly stop?: AbortSignal | undefined;
}

/** `stopped`: ended by `stop` before the task was complete. */
export type RoundResult = 'complete' | 'dry' | 'stopped';

const BUSY_BACKOFF_MS = 100;

/**
 * When the parents with a share of the round's pieces have nothing in flight to us and none of
 * them announced or delivered a piece for this long (having announced before), every parent that
 * holds a piece we miss may serve it, one at a time at least, until one of them shows life again.
 * A parent that went quiet (a stopped process keeps its streams open and announces nothing) would
 * otherwise hold the round until download.collectedPieceTimeout while a parent without a share
 * (one the scheduler already loaded, often the seed) has what we miss. A parent that keeps up with
 * its own parent announces every piece time (well under a second on a 100 Mbit/s link), so this
 * is long enough not to load the seed with children that merely caught up, which the shares avoid.
 */
export const STARVED_ROUND_MS = 3_000;

/** Errors a parent is to blame for; anything else (the local disk, say) fails the download. */
export function isParentFault(error: unknown): boolean {
  return error instanceof ParentPieceError || error instanceof PieceDigestMismatchError || error instanceof SourceProtocolError;
}

/** A parent that refused only because it was busy (429) is tried again, not avoided. */
function isBusy(error: unknown): boolean {
  return error instanceof ParentPieceError && error.status === 429;
}

/** A parent that answered 404 for a piece it announced as arriving has no attempt at it now. */
function isNotThere(error: unknown): boolean {
  return error instanceof ParentPieceError && error.status === 404;
}

/**
 * Runs the round; `blocked` holds parents not to use (and gains those that fail now). Resolves
 * whether the task is complete; rejects only on errors no parent is to blame for.
 */
export async function runParentRound(deps: RoundDeps, blocked: Set<string>): Promise<RoundResult> {
  const { session, collector } = deps;
  const { task } = session;
  /** Pieces in flight: the parent each comes from, and the means to take it back. */
  const inFlight = new Map<number, { readonly parentId: string; readonly cancel: AbortController }>();
  /** Pieces in flight that their parent is still receiving (relayed). */
  const relayed = new Set<number>();
  const perParent = new Map<string, number>();
  const pace = new ParentPace();
  const stripes = deps.plan
    ? new StripeFollower({
        slot: deps.plan,
        collector,
        task,
        blocked,
        inFlight,
        reported: deps.reportedSwitches ?? new Set(),
        report: (number, parentId) => deps.report.pieceFailed(number, parentId),
        pace,
      })
    : undefined;
  // Watches every parent, and judges them while no plan is in force (one may come mid-round).
  const stalls = new ParentStallWatch({ inFlight, pace, pieceLength: task.pieceLength });
  const release = (number: number) => {
    const parentId = inFlight.get(number)?.parentId;
    if (parentId === undefined) return;
    inFlight.delete(number);
    relayed.delete(number);
    perParent.set(parentId, (perParent.get(parentId) ?? 1) - 1);
  };
  let lastProgress = performance.now();
  /** When each parent last announced a piece or delivered one to us. */
  const lastSign = new Map<string, number>();
  const signOf = (peerId: string) => lastSign.set(peerId, performance.now());
  let wasStarved = false;
  let timedOut = false;
  /** Whether the parents with a share went quiet (STARVED_ROUND_MS says when and why). */
  const starvedOf = (shares: ReadonlyMap<string, number>): boolean => {
    let latest = Number.NEGATIVE_INFINITY;
    for (const [peerId, share] of shares) {
      if (share === 0) continue;
      if ((perParent.get(peerId) ?? 0) > 0) return false;
      latest = Math.max(latest, lastSign.get(peerId) ?? Number.NEGATIVE_INFINITY);
    }
    return latest > Number.NEGATIVE_INFINITY && performance.now() - latest >= STARVED_ROUND_MS;
  };

  const job = (number: number, holder: ReturnType<PieceCollector['holders']>[number], cancel: AbortController): PieceJob => {
    const parentId = holder.parent.peerId;
    const alive = (aheadMs?: number) => {
      stripes?.touch(parentId, number, aheadMs);
      stalls.touch(parentId, aheadMs);
    };
    let answeredAt: number | undefined;
    const limited = limitedJob(
      {
        number,
        fetch: async (_range, signal) => {
          const piece = await deps.pieceClient.fetch(holder.address, task.id, holder.piece, signal);
          answeredAt = performance.now();
          alive();
          return watchedBody(piece, pace.directGraceMs(parentId, holder.piece.length), alive);
        },
        finished: (record) => {
          release(number);
          lastProgress = performance.now();
          signOf(parentId);
          if (answeredAt !== undefined) pace.pieceTook(parentId, record.length, lastProgress - answeredAt);
          alive();
          deps.report.pieceFinished(record, parentId);
          collector.notify();
        },
      },
      deps.limiter,
    );
    return { ...limited, fetch: (range, signal) => limited.fetch(range, AbortSignal.any([signal, cancel.signal])) };
  };

  /** Takes back the pieces in flight that `matches`: they fail as cancelled and return to the queue. */
  const takeBack = (matches: (number: number, parentId: string) => boolean) => {
    for (const [number, entry] of inFlight) if (matches(number, entry.parentId)) entry.cancel.abort();
  };

  const pick = (): PieceJob | undefined => {
    const shares = parentShares(collector.usable(blocked), session.concurrency);
    const starved = starvedOf(shares);
    if (starved !== wasStarved) {
      wasStarved = starved;
      if (starved) deps.log.info('parents with a share of the pieces went quiet; every parent holding a piece may serve', { taskId: task.id, quietMs: STARVED_ROUND_MS });
    }
    const share = (peerId: string) => (starved ? Math.max(1, shares.get(peerId) ?? 0) : (shares.get(peerId) ?? 0));
    const stripeCaps = new Map<string, number>();
    const stripeCap = (peerId: string) => {
      let cap = stripeCaps.get(peerId);
      if (cap === undefined) stripeCaps.set(peerId, (cap = stripes!.share(peerId, session.concurrency)));
      return cap;
    };
    // A slow parent gets few pieces at once whatever its share (engine's link-rate.ts says why).
    const capOf = (peerId: string, address: { ip: string; port: number }, route: PieceRoute) =>
      Math.min(
        route.kind === 'parent' ? stripeCap(peerId) : share(peerId),
        deps.pieceClient.isSlow(address.ip, address.port) ? SLOW_LINK_PIECES_IN_FLIGHT : Number.POSITIVE_INFINITY,
      );
    // Most calls come from an announcement while every parent is at its share: say so before
    // scanning the pieces (a bound above every route's cap, so no parent with room is missed).
    const hasRoom = (peerId: string) => (perParent.get(peerId) ?? 0) < Math.max(stripes ? stripeCap(peerId) : 0, share(peerId));
    if (!collector.known(blocked).some(hasRoom)) return undefined;
    const usableHolder = (peerId: string) => !blocked.has(peerId) && hasRoom(peerId);
    for (const number of task.missingPieces()) {
      if (inFlight.has(number) || !collector.announcedBy(number, usableHolder)) continue;
      const range = task.rangeOf(number);
      const route: PieceRoute = stripes?.route(number) ?? { kind: 'any' };
      // A parent whose announced layout differs from ours has another task under this id: skip it.
      const holders = collector
        .holders(number)
        .filter(
          (h) =>
            !blocked.has(h.parent.peerId) &&
            (route.kind === 'any' ? h.parent.peerId !== route.except : h.parent.peerId === route.parentId) &&
            h.piece.offset === range.offset &&
            h.piece.length === range.length &&
            (perParent.get(h.parent.peerId) ?? 0) < capOf(h.parent.peerId, h.address, route),
        );
      // A verified piece before one still arriving (relayed, checked only at its end).
      const finished = holders.filter((h) => !h.piece.receiving);
      const holder = pickWeighted(finished.length > 0 ? finished : holders, (h) => parentWeight(h.parent.host), deps.random);
      if (!holder) continue;
      if (holder.piece.receiving) relayed.add(number);
      const cancel = new AbortController();
      // Its window starts when it is first asked: no earlier silence counts against it.
      if ((perParent.get(holder.parent.peerId) ?? 0) === 0) stalls.touch(holder.parent.peerId);
      inFlight.set(number, { parentId: holder.parent.peerId, cancel });
      perParent.set(holder.parent.peerId, (perParent.get(holder.parent.peerId) ?? 0) + 1);
      return job(number, holder, cancel);
    }
    return undefined;
  };

  /** Moves the stripes that must move on; their old parents' pieces of them come back to the queue. */
  const followPlan = (): boolean => {
    const switches = stripes?.check() ?? [];
    for (const { kind, stripe, from, to } of switches) {
      if (kind === 'switch') deps.log.info('stripe parent left', { taskId: task.id, stripe, from, to });
      else deps.log.info('stripe parent stalled and no backup has its pieces; any other parent serves the stripe', { taskId: task.id, stripe, from });
      takeBack((number, parentId) => parentId === from && stripes!.plan?.stripeOf(number) === stripe);
    }
    if (switches.length > 0) collector.notify();
    return switches.length > 0;
  };

  /** The piece loop's signal joined with the round's stop, made once per signal (AbortSignal.any is not cheap). */
  let waitSignal: { readonly from: AbortSignal; readonly joined: AbortSignal } | undefined;
  const joinedWithStop = (signal: AbortSignal): AbortSignal => {
    if (!deps.stop) return signal;
    if (waitSignal?.from !== signal) waitSignal = { from: signal, joined: AbortSignal.any([signal, deps.stop]) };
    return waitSignal.joined;
  };

  /** Gives up the parents that stalled with pieces asked of them; with a plan, the plan's rules apply instead. */
  const giveUpStalled = (): void => {
    const judged = stalls.check();
    if (stripes?.plan) {
      followPlan();
      return;
    }
    for (const { parentId, silentMs, windowMs, asked } of judged) {
      deps.log.warn('parent stalled: nothing from it in time; its pieces go to other parents', {
        taskId: task.id,
        parentId,
        silentMs: Math.round(silentMs),
        windowMs: Math.round(windowMs),
        piecesAsked: asked,
      });
      const first = Math.min(...[...inFlight].filter(([, entry]) => entry.parentId === parentId).map(([number]) => number));
      blocked.add(parentId);
      collector.drop(parentId);
      deps.report.pieceFailed(first, parentId);
      takeBack((_, from) => from === parentId);
    }
  };

  const nextJob = async (signal: AbortSignal): Promise<PieceJob | undefined> => {
    for (;;) {
      if (signal.aborted || task.complete || deps.stop?.aborted) return undefined;
      const next = pick();
      if (next) return next;
      if (followPlan()) continue;
      if (inFlight.size === 0) {
        if (!collector.syncing(blocked)) return undefined;
        if (performance.now() - lastProgress >= deps.collectedPieceTimeoutMs) {
          // Every worker of the loop ends here: the round ends once, so it is said once.
          if (!timedOut) deps.log.info('parents announced nothing new in time; rescheduling', { taskId: task.id, timeoutMs: deps.collectedPieceTimeoutMs });
          timedOut = true;
          return undefined;
        }
      }
      // At least every second: the round may have starved (every holder may serve) or run dry.
      const wait = inFlight.size > 0 ? 1_000 : Math.max(1, Math.min(1_000, deps.collectedPieceTimeoutMs - (performance.now() - lastProgress)));
      await collector.changed(wait, joinedWithStop(signal));
    }
  };

  const onPieceFailed = async (number: number, error: unknown): Promise<boolean> => {
    const entry = inFlight.get(number);
    const parentId = entry?.parentId;
    if (entry?.cancel.signal.aborted) {
      // Taken back by the round (its stripe moved on, or the round stops): not the parent's fault.
      release(number);
      collector.notify();
      return true;
    }
    if (parentId === undefined || !isParentFault(error)) {
      release(number);
      return false;
    }
    if (relayed.has(number) && isNotThere(error)) {
      // The parent's attempt ended before we asked (failed, to be retried): not a fault of the parent.
      deps.log.debug('relayed piece no longer arriving at the parent; piece goes back to the queue', { taskId: task.id, piece: number, parentId });
      collector.forgetReceiving(number, parentId);
      release(number);
    } else if (isBusy(error)) {
      deps.log.debug('parent busy; piece goes back to the queue', { taskId: task.id, piece: number, parentId });
      // Held as in flight a moment, so the workers do not hammer a busy parent.
      await new Promise((resolve) => setTimeout(resolve, BUSY_BACKOFF_MS));
      release(number);
    } else {
      release(number);
      if (error instanceof PieceDigestMismatchError) deps.metrics.pieceDigestMismatches.labels().inc();
      deps.log.warn('piece from parent failed; avoiding that parent', { taskId: task.id, piece: number, parentId, error });
      blocked.add(parentId);
      collector.drop(parentId);
      // A stripe parent's failure moves its stripes on and is reported once, as their switch.
      if (!stripes?.parentFailed(parentId, number)) deps.report.pieceFailed(number, parentId);
      followPlan();
    }
    collector.notify();
    return true;
  };

  const onStop = () => {
    takeBack(() => true);
    collector.notify();
  };
  deps.stop?.addEventListener('abort', onStop, { once: true });
  const unsubscribe = collector.onAnnounce((peerId, number) => {
    signOf(peerId);
    stripes?.announced(peerId, number);
  });
  // Stalls are looked for on a clock of their own: the workers may all be waiting on a stalled parent.
  const timer = setInterval(giveUpStalled, STALL_CHECK_MS);
  try {
    await session.runPieces(nextJob, onPieceFailed, { headStart: deps.headStart });
  } finally {
    clearInterval(timer);
    unsubscribe();
    deps.stop?.removeEventListener('abort', onStop);
  }
  if (task.complete) return 'complete';
  return deps.stop?.aborted ? 'stopped' : 'dry';
}

export function parentsOf(collector: PieceCollector, ids: Iterable<string>): CandidateParent[] {
  return [...ids].flatMap((id) => {
    const parent = collector.parent(id);
    return parent ? [parent] : [];
  });
}

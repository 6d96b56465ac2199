/**
 * Scheduling of one peer (Dragonfly's `scheduling.go::ScheduleCandidateParents`): look for
 * candidate parents, and retry every `retryInterval` (+ up to 25% jitter) until some are found.
 * NeedBackToSource when the task may still go to the origin and the peer asked for it or
 * `retryBackToSourceLimit` rounds failed; FailedPrecondition after `retryLimit` rounds.
 *
 * Unlike Dragonfly, a waiting peer also looks again as soon as a parent may have appeared (a peer
 * starts from the origin, finishes its first piece or the whole task, or the seed fails); such
 * early looks do not count as rounds, so the limits keep their meaning in time.
 *
 * With `stripes` >= 2 a task that has a root is scheduled by its striped forest (striping.ts).
 */
import { ScheduleAbortedError, ScheduleError } from '../errors.ts';
import { PeerState } from '../resource/fsm.ts';
import type { Peer } from '../resource/peer.ts';
import type { Task } from '../resource/task.ts';
import type { Logger } from '../log.ts';
import { evaluateParents } from './evaluator.ts';
import { filterCandidateParents } from './filter.ts';
import { Striping } from './striping.ts';

export interface SchedulingOptions {
  readonly retryLimit: number;
  readonly retryBackToSourceLimit: number;
  readonly retryIntervalMs: number;
  readonly filterParentLimit: number;
  readonly candidateParentLimit: number;
  /** k >= 2: striped parent forests; 0 or 1 (or unset): the DAG only. */
  readonly stripes?: number;
  readonly random?: () => number;
  readonly now?: () => number;
}

export type ScheduleOutcome = 'normal' | 'needBackToSource';

/** The limits a cluster's config in the manager may change while the scheduler runs. */
export interface ParentLimits {
  readonly filterParentLimit: number;
  readonly candidateParentLimit: number;
}

export class Scheduling {
  private options: SchedulingOptions;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly log: Logger;
  /** Set when tasks are striped. */
  readonly striping: Striping | undefined;

  constructor(options: SchedulingOptions, log: Logger) {
    this.options = options;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.log = log;
    const stripes = options.stripes ?? 0;
    this.striping = stripes >= 2 ? new Striping(stripes, log) : undefined;
  }

  /** The peer failed or is leaving: a striped task re-places the members it fed. */
  peerEnded(peer: Peer): void {
    this.striping?.peerEnded(peer);
  }

  /** A child reported a piece from `parentId` failed: a striped task moves it to a backup (and may demote the parent). */
  pieceFailed(child: Peer, pieceNumber: number | undefined, parentId: string): void {
    this.striping?.pieceFailed(child, pieceNumber, parentId);
  }

  get limits(): ParentLimits {
    return { filterParentLimit: this.options.filterParentLimit, candidateParentLimit: this.options.candidateParentLimit };
  }

  /** New limits apply from the next scheduling round on; rounds already sent keep their parents. */
  setLimits(limits: ParentLimits): void {
    this.options = { ...this.options, ...limits };
  }

  /** Up to `candidateParentLimit` parents, best first; undefined when none passes the filter. */
  findCandidateParents(peer: Peer, blocklist: ReadonlySet<string>): Peer[] | undefined {
    // Only peers that wait for parents or download from them are scheduled; others already were.
    if (peer.state !== PeerState.ReceivedNormal && peer.state !== PeerState.Running) return undefined;
    const { parents, rejected } = filterCandidateParents(peer, blocklist, this.options.filterParentLimit, this.random);
    if (this.log.debugEnabled) this.log.debug('filtered candidate parents', { peerId: peer.id, kept: parents.map((p) => p.id), rejected });
    if (parents.length === 0) return undefined;
    return evaluateParents(parents, peer).slice(0, this.options.candidateParentLimit);
  }

  /** Sends the peer Normal or NeedBackToSource, retrying until one applies; throws at the retry limit. */
  async scheduleCandidateParents(peer: Peer, blocklist: ReadonlySet<string>): Promise<ScheduleOutcome> {
    const signal = peer.stream?.signal;
    for (let round = 0; ; round++) {
      const outcome = this.attempt(peer, blocklist, round);
      if (outcome) return outcome;
      const interval = this.options.retryIntervalMs;
      const deadline = this.now() + interval + this.random() * interval * 0.25;
      // Early looks until the round's time is up.
      while (await sleepOrWake(Math.max(0, deadline - this.now()), peer.task, signal)) {
        const early = this.attempt(peer, blocklist, round);
        if (early) return early;
      }
      this.log.debug('no candidate parents', { peerId: peer.id, round: round + 1 });
    }
  }

  private attempt(peer: Peer, blocklist: ReadonlySet<string>, round: number): ScheduleOutcome | undefined {
    const stream = peer.stream;
    if (!stream || stream.signal.aborted || peer.isFinal) throw new ScheduleAbortedError();
    const task = peer.task;
    if (task.canBackToSource()) {
      if (peer.needBackToSource) {
        stream.send({ type: 'needBackToSource', description: "peer's NeedBackToSource is true" });
        return 'needBackToSource';
      }
      if (round >= this.options.retryBackToSourceLimit) {
        stream.send({ type: 'needBackToSource', description: 'scheduling exceeded RetryBackToSourceLimit' });
        return 'needBackToSource';
      }
    }
    if (round >= this.options.retryLimit) throw new ScheduleError('scheduling exceeded RetryLimit');
    task.deletePeerInEdges(peer);
    // A striped task without a root yet is scheduled by the DAG, as with stripes off, rather than
    // made to wait: pieces reach a task through a seed or an origin download, which is a root, so
    // the DAG finds parents here only where the root ended and others hold pieces; otherwise it
    // finds none and the peer waits in this loop, whose wake-up (a peer started from the origin)
    // comes with the root.
    if (this.striping?.schedule(peer)) return 'normal';
    const parents = this.findCandidateParents(peer, blocklist);
    if (!parents) return undefined;
    stream.send({ type: 'normal', parents });
    for (const parent of parents) {
      // The filter checked every edge; a refusal here would be a bug worth a line, not a failure.
      if (task.canAddPeerEdge(parent.id, peer.id)) task.addPeerEdge(parent, peer);
      else this.log.warn('cannot add edge', { parentId: parent.id, peerId: peer.id });
    }
    return 'normal';
  }
}

/** Resolves true when the task wakes its waiters first, false when `ms` pass; rejects on abort. */
function sleepOrWake(ms: number, task: Task, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ScheduleAbortedError());
      return;
    }
    let settled = false;
    const finish = (woken: boolean, error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      removeWaiter();
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(woken);
    };
    const onAbort = () => finish(false, new ScheduleAbortedError());
    const timer = setTimeout(() => finish(false), ms);
    const removeWaiter = task.addWaiter(() => finish(true));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

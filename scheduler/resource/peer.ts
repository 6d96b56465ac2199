/** A peer: one host downloading one task, with its state machine, finished pieces and piece costs. */
import { PEER_MACHINE, PeerEvent, PeerState, type Fsm } from './fsm.ts';
import type { Host } from './host.ts';
import type { Task } from './task.ts';

/** Dragonfly's default piece concurrency of a peer, used when the Download does not say. */
export const DEFAULT_CONCURRENT_PIECE_COUNT = 8;
/** Piece costs kept per peer for bad-parent detection. */
export const PIECE_COST_WINDOW = 2000;

/** Finished piece numbers as a growable bitset: 500 pieces cost 64 bytes. */
export class PieceSet {
  private words = new Uint32Array(0);
  private total = 0;

  get count(): number {
    return this.total;
  }

  has(n: number): boolean {
    const word = n >>> 5;
    return word < this.words.length && (this.words[word]! & (1 << (n & 31))) !== 0;
  }

  /** Adds `n`; false when it was already there. */
  add(n: number): boolean {
    const word = n >>> 5;
    if (word >= this.words.length) {
      const grown = new Uint32Array(Math.max(word + 1, this.words.length * 2));
      grown.set(this.words);
      this.words = grown;
    }
    const bit = 1 << (n & 31);
    if ((this.words[word]! & bit) !== 0) return false;
    this.words[word]! |= bit;
    this.total++;
    return true;
  }

  toArray(): number[] {
    const out: number[] = [];
    this.words.forEach((value, word) => {
      for (let bit = 0; value !== 0 && bit < 32; bit++) {
        if (value & (1 << bit)) out.push(word * 32 + bit);
      }
    });
    return out;
  }
}

/** Summary of the costs before the latest one, which is what the bad-parent rule compares against. */
export interface CostStats {
  /** Costs in the window, the latest included. */
  readonly count: number;
  readonly last: number;
  /** Mean and population standard deviation of the costs before `last`. */
  readonly meanBefore: number;
  readonly stdBefore: number;
  readonly capacity: number;
}

/**
 * The latest `capacity` piece costs in a ring, with running sums so stats cost O(1). The ring grows
 * with the costs up to `capacity`: most peers report far fewer than 2000 pieces.
 */
export class CostWindow {
  readonly capacity: number;
  private ring: Float64Array;
  private next = 0;
  private length = 0;
  private sum = 0;
  private sumSquares = 0;

  constructor(capacity = PIECE_COST_WINDOW) {
    this.capacity = capacity;
    this.ring = new Float64Array(Math.min(capacity, 16));
  }

  get count(): number {
    return this.length;
  }

  push(cost: number): void {
    if (this.length === this.capacity) {
      const evicted = this.ring[this.next]!;
      this.sum -= evicted;
      this.sumSquares -= evicted * evicted;
    } else {
      if (this.length === this.ring.length) {
        // Not full yet, so the ring is still in order from index 0: grow by copying.
        const grown = new Float64Array(Math.min(this.capacity, this.ring.length * 2));
        grown.set(this.ring);
        this.ring = grown;
        this.next = this.length;
      }
      this.length++;
    }
    this.ring[this.next] = cost;
    this.sum += cost;
    this.sumSquares += cost * cost;
    this.next = (this.next + 1) % this.ring.length;
  }

  /** Oldest first. */
  values(): number[] {
    const size = this.ring.length;
    const start = this.length === this.capacity ? this.next : 0;
    return Array.from({ length: this.length }, (_, i) => this.ring[(start + i) % size]!);
  }

  stats(): CostStats | undefined {
    if (this.length === 0) return undefined;
    const size = this.ring.length;
    const last = this.ring[(this.next - 1 + size) % size]!;
    const before = this.length - 1;
    const meanBefore = before > 0 ? (this.sum - last) / before : 0;
    const variance = before > 0 ? (this.sumSquares - last * last) / before - meanBefore * meanBefore : 0;
    return { count: this.length, last, meanBefore, stdBefore: Math.sqrt(Math.max(0, variance)), capacity: this.capacity };
  }
}

export interface PeerRange {
  readonly start: number;
  readonly length: number;
}

/** A striped task's plan for one peer: per stripe, the parent and the backups to try in order. */
export interface StripePlan {
  readonly stripeCount: number;
  readonly stripes: readonly { readonly stripe: number; readonly parentId: string; readonly backupIds: readonly string[] }[];
}

export type AnnounceResponse =
  | { readonly type: 'empty' }
  /** With a plan, `parents` holds every peer the plan names (so the peer has their addresses). */
  | { readonly type: 'normal'; readonly parents: readonly Peer[]; readonly plan?: StripePlan | undefined }
  | { readonly type: 'needBackToSource'; readonly description: string };

/** The AnnouncePeer stream of a peer, as the scheduler sees it. */
export interface PeerStream {
  send(response: AnnounceResponse): void;
  /** Aborts when the stream ends: scheduling for the peer stops then. */
  readonly signal: AbortSignal;
}

export interface PeerOptions {
  readonly priority: number;
  readonly range?: PeerRange | undefined;
  readonly concurrentPieceCount?: number | undefined;
  readonly stream?: PeerStream | undefined;
}

export class Peer {
  readonly id: string;
  readonly task: Task;
  readonly host: Host;
  readonly fsm: Fsm<PeerState, PeerEvent> = PEER_MACHINE.create();
  /** 0-6 as common.v2.Priority; 0 is treated as 6 by the seed trigger, as Dragonfly does. */
  readonly priority: number;
  readonly range: PeerRange | undefined;
  readonly concurrentPieceCount: number;
  readonly finishedPieces = new PieceSet();
  readonly pieceCosts = new CostWindow();
  /** Parents this peer must not get again: itself, rescheduled ones, ones whose pieces failed. */
  readonly blockParents = new Set<string>();
  needBackToSource = false;
  /** Whole download time once finished, in ms. */
  costMs = 0;
  stream: PeerStream | undefined;
  readonly createdAt: number;
  updatedAt: number;
  pieceUpdatedAt: number;

  constructor(id: string, task: Task, host: Host, options: PeerOptions, now: number) {
    this.id = id;
    this.task = task;
    this.host = host;
    this.priority = options.priority;
    this.range = options.range;
    this.concurrentPieceCount = options.concurrentPieceCount || DEFAULT_CONCURRENT_PIECE_COUNT;
    this.stream = options.stream;
    this.createdAt = now;
    this.updatedAt = now;
    this.pieceUpdatedAt = now;
  }

  get state(): PeerState {
    return this.fsm.current;
  }

  /** Fires `event` and applies Dragonfly's callbacks on the task; throws on an invalid transition. */
  fire(event: PeerEvent, now: number): void {
    const from = this.fsm.fire(event);
    const task = this.task;
    switch (event) {
      case PeerEvent.DownloadBackToSource:
        task.backToSourcePeers.add(this.id);
        task.deletePeerInEdges(this);
        break;
      case PeerEvent.DownloadSucceeded:
        if (from === PeerState.BackToSource) task.backToSourcePeers.delete(this.id);
        task.deletePeerInEdges(this);
        task.peerFailedCount = 0;
        break;
      case PeerEvent.DownloadFailed:
        if (from === PeerState.BackToSource) {
          task.peerFailedCount++;
          task.backToSourcePeers.delete(this.id);
        }
        task.deletePeerInEdges(this);
        break;
      case PeerEvent.Leave:
        task.deletePeerInEdges(this);
        task.backToSourcePeers.delete(this.id);
        return;
    }
    this.updatedAt = now;
  }

  /** Whether the peer is done one way or another: no more reports are expected. */
  get isFinal(): boolean {
    const state = this.fsm.current;
    return state === PeerState.Succeeded || state === PeerState.Failed || state === PeerState.Leave;
  }

  /**
   * Projected transmit bandwidth this peer adds to a parent: its piece concurrency times the piece
   * length, as bits over one second. Dragonfly bumps the parent's TxBandwidth by such an estimate
   * when an edge is added and takes it back when the edge goes.
   */
  peakBandwidthUsage(pieceLength: number): number {
    return this.concurrentPieceCount * (pieceLength > 0 ? pieceLength : 4 * 1024 * 1024) * 8;
  }
}

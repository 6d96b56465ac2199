/**
 * A task: one content (task id), its state machine, the DAG of the peers downloading it and, when
 * it is striped, the forest's parent edges beside the DAG (see stripe-edges.ts).
 */
import { Dag } from './dag.ts';
import { PeerState, TASK_MACHINE, type Fsm, type TaskEvent, type TaskState } from './fsm.ts';
import type { Peer } from './peer.ts';
import { StripeEdges, type EdgeLoad } from './stripe-edges.ts';

/** Dragonfly's size scopes; only EMPTY is answered differently (EmptyTaskResponse). */
export type SizeScope = 'NORMAL' | 'SMALL' | 'TINY' | 'EMPTY' | 'UNKNOWN';

export const TINY_FILE_SIZE = 128;
/** Dragonfly's `PeerCountLimitForTask`: above it, idle succeeded peers are collected. */
export const PEER_COUNT_LIMIT_FOR_TASK = 300;
/** Dragonfly's `SeedPeerFailedTimeout`: how long a failed seed keeps peers from waiting on it. */
export const SEED_PEER_FAILED_TIMEOUT_MS = 30 * 60 * 1000;

export interface PieceInfo {
  readonly number: number;
  readonly parentId: string;
  readonly offset: number;
  readonly length: number;
  readonly digest: string;
  readonly trafficType: string;
  readonly costMs: number;
  readonly createdAtMs: number;
}

export interface TaskInit {
  readonly id: string;
  readonly type: string;
  readonly url: string;
  readonly digest?: string | undefined;
  readonly tag?: string | undefined;
  readonly application?: string | undefined;
  readonly filteredQueryParams: readonly string[];
  readonly requestHeader: Readonly<Record<string, string>>;
  /** -1 when unknown. */
  readonly contentLength: number;
  /** 0 when unknown. */
  readonly pieceLength: number;
  /** 0 when unknown. */
  readonly pieceCount: number;
  readonly backToSourceLimit: number;
}

export class Task {
  readonly id: string;
  readonly type: string;
  url: string;
  readonly digest: string | undefined;
  readonly tag: string | undefined;
  readonly application: string | undefined;
  filteredQueryParams: readonly string[];
  requestHeader: Readonly<Record<string, string>>;
  contentLength: number;
  pieceLength: number;
  pieceCount: number;
  readonly backToSourceLimit: number;
  readonly backToSourcePeers = new Set<string>();
  readonly fsm: Fsm<TaskState, TaskEvent> = TASK_MACHINE.create();
  /** Pieces downloaded from the origin, as reported. */
  readonly pieces = new Map<number, PieceInfo>();
  readonly dag = new Dag<Peer>();
  /** Forest edges of children downloading now; empty unless the scheduler stripes this task. */
  readonly stripeEdges = new StripeEdges();
  /** Back-to-source failures since the last success. */
  peerFailedCount = 0;
  /** When triggering the seed peer failed (unreachable, error): peers stop waiting for it. */
  seedFailedAt: number | undefined;
  /** A seed DownloadTask for this task is in flight: do not trigger another. */
  seedTriggerInFlight = false;
  readonly createdAt: number;
  updatedAt: number;
  /** Peers waiting for a candidate parent; woken when one may have appeared. */
  private readonly waiters = new Set<() => void>();

  constructor(init: TaskInit, now: number) {
    this.id = init.id;
    this.type = init.type;
    this.url = init.url;
    this.digest = init.digest;
    this.tag = init.tag;
    this.application = init.application;
    this.filteredQueryParams = init.filteredQueryParams;
    this.requestHeader = init.requestHeader;
    this.contentLength = init.contentLength;
    this.pieceLength = init.pieceLength;
    this.pieceCount = init.pieceCount;
    this.backToSourceLimit = init.backToSourceLimit;
    this.createdAt = now;
    this.updatedAt = now;
  }

  get state(): TaskState {
    return this.fsm.current;
  }

  fire(event: TaskEvent, now: number): void {
    this.fsm.fire(event);
    this.updatedAt = now;
  }

  get peerCount(): number {
    return this.dag.size;
  }

  peers(): Peer[] {
    return this.dag.values();
  }

  storePeer(peer: Peer): void {
    this.dag.addVertex(peer.id, peer);
  }

  /** Removes the peer and its edges, giving back the load its edges put on parents. */
  deletePeer(peer: Peer): void {
    this.deletePeerInEdges(peer);
    this.deletePeerOutEdges(peer);
    this.dag.deleteVertex(peer.id);
    this.backToSourcePeers.delete(peer.id);
  }

  /** Dragonfly's `SizeScope`. */
  sizeScope(): SizeScope {
    if (this.contentLength < 0) return 'UNKNOWN';
    if (this.contentLength === 0) return 'EMPTY';
    if (this.contentLength <= TINY_FILE_SIZE) return 'TINY';
    if (this.pieceCount === 1) return 'SMALL';
    return 'NORMAL';
  }

  /** Whether one more peer may download from the origin (backToSourceCount not reached). */
  canBackToSource(): boolean {
    return this.backToSourcePeers.size < this.backToSourceLimit;
  }

  /** A peer on another host, not blocklisted, that is downloading or has the task. */
  hasAvailablePeer(hostId: string, blocklist: ReadonlySet<string>): boolean {
    for (const peer of this.dag.values()) {
      if (peer.host.id === hostId || blocklist.has(peer.id)) continue;
      const state = peer.state;
      if (state === PeerState.Running || state === PeerState.Succeeded || state === PeerState.BackToSource) return true;
    }
    return false;
  }

  /** The most recently updated peer of a seed host. */
  latestSeedPeer(): Peer | undefined {
    let latest: Peer | undefined;
    for (const peer of this.dag.values()) {
      if (peer.host.type === 'seed' && (!latest || peer.updatedAt > latest.updatedAt)) latest = peer;
    }
    return latest;
  }

  /** The seed failed this task recently: its trigger failed, or its peer failed. */
  isSeedPeerFailed(now: number): boolean {
    if (this.seedFailedAt !== undefined && now - this.seedFailedAt < SEED_PEER_FAILED_TIMEOUT_MS) return true;
    const seed = this.latestSeedPeer();
    return seed !== undefined && seed.state === PeerState.Failed && now - seed.createdAt < SEED_PEER_FAILED_TIMEOUT_MS;
  }

  canAddPeerEdge(fromId: string, toId: string): boolean {
    return this.dag.canAddEdge(fromId, toId);
  }

  /** Adds parent -> child and bumps the parent host's projected load (Dragonfly's AddPeerEdge). */
  addPeerEdge(parent: Peer, child: Peer): void {
    this.dag.addEdge(parent.id, child.id);
    parent.host.addUploadLoad(child.peakBandwidthUsage(this.pieceLength), child.concurrentPieceCount, Math.max(0, this.contentLength));
  }

  /** Parents feeding the peer, in the DAG or the forest. */
  inDegree(id: string): number {
    return (this.dag.inDegree(id) ?? 0) + this.stripeEdges.inDegree(id);
  }

  /** Children the peer feeds, in the DAG or the forest. */
  outDegree(id: string): number {
    return (this.dag.outDegree(id) ?? 0) + this.stripeEdges.outDegree(id);
  }

  /**
   * Replaces the child's forest edges by one per parent, `stripes` being how many of the `k`
   * stripes that parent feeds it. A parent's projected load is the child's DAG-edge load times
   * that share: it sends the child stripes/k of the pieces.
   */
  setStripeParents(child: Peer, parents: ReadonlyMap<Peer, number>, k: number): void {
    this.releaseStripeLoad(this.stripeEdges.deleteIn(child.id));
    const bandwidth = child.peakBandwidthUsage(this.pieceLength);
    const contentLength = Math.max(0, this.contentLength);
    const edges = new Map<string, EdgeLoad>();
    for (const [parent, stripes] of parents) {
      const share = stripes / k;
      // Whole numbers: the host's figures go out on the wire as integers.
      const load = { bandwidth: Math.round(bandwidth * share), pieces: Math.max(1, Math.round(child.concurrentPieceCount * share)), contentLength: Math.round(contentLength * share) };
      parent.host.addUploadLoad(load.bandwidth, load.pieces, load.contentLength);
      edges.set(parent.id, load);
    }
    this.stripeEdges.set(child.id, edges);
  }

  /** Drops every forest edge (the forest is gone), giving back their load. */
  clearStripeEdges(): void {
    for (const peer of this.dag.values()) this.releaseStripeLoad(this.stripeEdges.deleteIn(peer.id));
  }

  private releaseStripeLoad(edges: ReadonlyMap<string, EdgeLoad>): void {
    for (const [parentId, load] of edges) this.dag.get(parentId)?.value.host.removeUploadLoad(load.bandwidth, load.pieces, load.contentLength);
  }

  deletePeerInEdges(peer: Peer): void {
    this.releaseStripeLoad(this.stripeEdges.deleteIn(peer.id));
    const vertex = this.dag.get(peer.id);
    if (!vertex || vertex.parents.size === 0) return;
    const bandwidth = peer.peakBandwidthUsage(this.pieceLength);
    const contentLength = Math.max(0, this.contentLength);
    for (const parent of vertex.parents) parent.value.host.removeUploadLoad(bandwidth, peer.concurrentPieceCount, contentLength);
    this.dag.deleteInEdges(peer.id);
  }

  deletePeerOutEdges(peer: Peer): void {
    for (const [, load] of this.stripeEdges.deleteOut(peer.id)) peer.host.removeUploadLoad(load.bandwidth, load.pieces, load.contentLength);
    const vertex = this.dag.get(peer.id);
    if (!vertex || vertex.children.size === 0) return;
    const contentLength = Math.max(0, this.contentLength);
    for (const child of vertex.children) {
      peer.host.removeUploadLoad(child.value.peakBandwidthUsage(this.pieceLength), child.value.concurrentPieceCount, contentLength);
    }
    this.dag.deleteOutEdges(peer.id);
  }

  /** Registers a waiter; returns its removal. */
  addWaiter(wake: () => void): () => void {
    this.waiters.add(wake);
    return () => this.waiters.delete(wake);
  }

  /** A parent may have appeared (or the seed failed): waiting peers look again now. */
  wakeWaiters(): void {
    if (this.waiters.size === 0) return;
    for (const wake of [...this.waiters]) wake();
  }
}

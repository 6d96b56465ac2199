/**
 * Striped scheduling (`scheduler.stripes` = k >= 2): each task with a root gets a StripeForest
 * (forest.ts), and a peer is answered with its plan (one parent per stripe plus backups) instead of
 * the DAG's best three. Every change the forest reports (a join pushing a leaf down, a member
 * leaving or failing, a demotion, relief of an overcommitted parent) is pushed at once to each
 * moved member still downloading from parents, as a new NormalTaskResponse on its stream.
 *
 * The forest's edges are not DAG edges (a member may feed another in one stripe and be fed by it
 * in another): they are kept as the task's stripe edges, which carry the projected load and count
 * in the task's in- and out-degree, so the filter (a fed peer is a candidate), GC (a peer serving
 * nobody) and the load score read them as they read the DAG.
 */
import type { Logger } from '../log.ts';
import { PeerState } from '../resource/fsm.ts';
import type { Peer, StripePlan } from '../resource/peer.ts';
import type { Task } from '../resource/task.ts';
import { StripeForest } from './forest.ts';
import { median, stripeSlots } from './slots.ts';

/**
 * Distinct children of a task that must report a parent failing before it is demoted. One report
 * may be the child's own link; two children losing the same parent point at the parent. Byte
 * counts were the other measure at hand, and neither tells a parent's share: the host's announced
 * upload bytes cover every task on the host over its announce interval, and the piece costs its
 * children report include, for a forwarder that relays pieces as they reach it, the delays of its
 * own parents, so a deep but healthy forwarder would look as slow as a failing one.
 */
export const DEMOTE_AFTER_REPORTS = 2;

interface TaskForest {
  readonly forest: StripeForest;
  readonly root: Peer;
  /** parent id -> ids of the children that reported it failing a piece. */
  readonly failures: Map<string, Set<string>>;
}

/** States in which a peer downloads from parents: the only ones told about new parents. */
function fedFromParents(peer: Peer): boolean {
  return peer.state === PeerState.ReceivedNormal || peer.state === PeerState.Running;
}

export class Striping {
  readonly stripes: number;
  private readonly log: Logger;
  private readonly forests = new WeakMap<Task, TaskForest>();

  constructor(stripes: number, log: Logger) {
    if (!Number.isInteger(stripes) || stripes < 2) throw new RangeError(`stripes must be an integer >= 2, got ${stripes}`);
    this.stripes = stripes;
    this.log = log;
  }

  /** The task's forest, if it has one now. */
  forestOf(task: Task): StripeForest | undefined {
    return this.forests.get(task)?.forest;
  }

  /**
   * Answers the peer with its plan, joining it to the forest first if needed; false when the task
   * has no root yet (the caller then schedules by the DAG, see Scheduling.attempt).
   */
  schedule(peer: Peer): boolean {
    if (!fedFromParents(peer)) return false;
    const entry = this.entryFor(peer.task);
    if (!entry || peer === entry.root) return false;
    const { forest } = entry;
    const changed: string[] = [];
    if (!forest.has(peer.id)) {
      changed.push(...forest.join({ id: peer.id, slots: this.slotsOf(peer.task, peer) }));
      // A host that shares nothing takes a place only to be fed: it never forwards.
      if (peer.host.info.disableShared) changed.push(...forest.demote(peer.id));
    } else {
      // A reschedule: move off primaries the peer gave up on, to the first backup it has not.
      for (const { stripe, parentId, backupIds } of forest.planOf(peer.id)!.parents) {
        if (!peer.blockParents.has(parentId)) continue;
        for (const backup of backupIds) if (!peer.blockParents.has(backup) && forest.reparent(peer.id, stripe, backup)) break;
      }
    }
    this.tell(entry, peer);
    this.push(entry, changed.filter((id) => id !== peer.id));
    return true;
  }

  /** The peer failed or is leaving: it leaves the forest and the members it fed are re-placed. */
  peerEnded(peer: Peer): void {
    const entry = this.forests.get(peer.task);
    if (!entry) return;
    if (peer === entry.root) {
      // A forest cannot change its root. Members keep their plans (backups first, then a
      // reschedule, which joins a forest grown from the next root); their edges are dropped now.
      this.forests.delete(peer.task);
      peer.task.clearStripeEdges();
      this.log.info('forest root ended; forest dropped', { taskId: peer.task.id, rootId: peer.id });
      return;
    }
    entry.failures.delete(peer.id);
    this.push(entry, entry.forest.remove(peer.id));
  }

  /**
   * The child could not get piece `pieceNumber` from `parentId`. When that parent is its primary in
   * the piece's stripe, the child has moved to its first usable backup: the forest records that
   * move and the child gets the plan that says so. A parent that distinct children keep reporting
   * is demoted to a leaf everywhere.
   */
  pieceFailed(child: Peer, pieceNumber: number | undefined, parentId: string): void {
    const entry = this.forests.get(child.task);
    if (!entry || pieceNumber === undefined || !parentId || !entry.forest.has(child.id)) return;
    const { forest, root } = entry;
    const stripe = pieceNumber % forest.stripes;
    if (forest.parentOf(child.id, stripe) === parentId) {
      const backups = forest.planOf(child.id)!.parents[stripe]!.backupIds;
      const moved = backups.some((backup) => backup !== parentId && !child.blockParents.has(backup) && forest.reparent(child.id, stripe, backup));
      if (moved) this.tell(entry, child);
    }
    if (parentId === root.id || !forest.has(parentId)) return;
    let reporters = entry.failures.get(parentId);
    if (!reporters) entry.failures.set(parentId, (reporters = new Set()));
    reporters.add(child.id);
    if (reporters.size < DEMOTE_AFTER_REPORTS) return;
    const changed = forest.demote(parentId);
    if (changed.length > 0) this.log.info('forest member demoted to a leaf', { taskId: child.task.id, peerId: parentId, reporters: [...reporters] });
    this.push(entry, changed);
  }

  /** The task's forest, grown now if a root has appeared. */
  private entryFor(task: Task): TaskForest | undefined {
    const known = this.forests.get(task);
    if (known) {
      // A root that ended without being reported (it should not happen) is dropped here too.
      if (known.root.state !== PeerState.Failed && known.root.state !== PeerState.Leave) return known;
      this.peerEnded(known.root);
    }
    const root = rootOf(task);
    if (!root) return undefined;
    const entry = { forest: new StripeForest(this.stripes, { id: root.id, slots: this.slotsOf(task, root) }), root, failures: new Map() };
    this.forests.set(task, entry);
    this.log.debug('forest grown', { taskId: task.id, rootId: root.id, stripes: this.stripes });
    return entry;
  }

  /** Slots against the median uplink of the task's normal peers, taken when the member joins. */
  private slotsOf(task: Task, member: Peer): number {
    const uplinks: number[] = [];
    for (const peer of task.peers()) {
      if (peer.host.type === 'normal' && peer.state !== PeerState.Failed && peer.state !== PeerState.Leave) uplinks.push(peer.host.info.maxTxBandwidth);
    }
    return stripeSlots(this.stripes, member.host.info.maxTxBandwidth, median(uplinks));
  }

  /** Re-sends their plans to the members that moved (and records their edges), if they still download from parents. */
  private push(entry: TaskForest, ids: readonly string[]): void {
    for (const id of ids) {
      const peer = entry.root.task.dag.get(id)?.value;
      if (peer && fedFromParents(peer)) this.tell(entry, peer);
    }
  }

  /** Records the member's edges and sends it its plan, if its stream is open. */
  private tell(entry: TaskForest, peer: Peer): void {
    const task = peer.task;
    const peerOf = (id: string) => (id === entry.root.id ? entry.root : task.dag.get(id)?.value);
    const plan = entry.forest.planOf(peer.id)!;
    const stripes: StripePlan['stripes'][number][] = [];
    const primaries = new Map<Peer, number>();
    const named = new Map<string, Peer>();
    for (const { parentId } of plan.parents) {
      // The forest holds only peers of the task that have not ended, so a primary always resolves.
      const parent = peerOf(parentId)!;
      primaries.set(parent, (primaries.get(parent) ?? 0) + 1);
      named.set(parentId, parent);
    }
    for (const { stripe, parentId, backupIds } of plan.parents) {
      // Backups the peer already gave up on are not offered again.
      const usable = backupIds.filter((id) => !peer.blockParents.has(id) && peerOf(id) !== undefined);
      for (const id of usable) if (!named.has(id)) named.set(id, peerOf(id)!);
      stripes.push({ stripe, parentId, backupIds: usable });
    }
    task.setStripeParents(peer, primaries, this.stripes);
    const stream = peer.stream;
    if (!stream || stream.signal.aborted) return;
    stream.send({ type: 'normal', parents: [...named.values()], plan: { stripeCount: this.stripes, stripes } });
  }
}

/**
 * The task's seed peer once it has data to give (downloading or done), else the earliest-created
 * peer that downloads from the origin or has the whole task. A host that shares nothing is never
 * the root.
 */
export function rootOf(task: Task): Peer | undefined {
  const seed = task.latestSeedPeer();
  const serving = (peer: Peer) => !peer.host.info.disableShared;
  if (seed && serving(seed) && (seed.state === PeerState.BackToSource || seed.state === PeerState.Running || seed.state === PeerState.Succeeded)) return seed;
  let first: Peer | undefined;
  for (const peer of task.peers()) {
    if (!serving(peer) || (peer.state !== PeerState.BackToSource && peer.state !== PeerState.Succeeded)) continue;
    if (!first || peer.createdAt < first.createdAt || (peer.createdAt === first.createdAt && peer.id < first.id)) first = peer;
  }
  return first;
}

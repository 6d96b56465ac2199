/**
 * Which peers of a task may be a peer's parents (Dragonfly's `filterCandidateParents`): a random
 * sample of `filterParentLimit` peers of the task, minus those any rule rejects.
 */
import { PeerState } from '../resource/fsm.ts';
import type { Peer } from '../resource/peer.ts';
import { isBadCost, isBadParent } from './evaluator.ts';

export type RejectReason = 'blocklisted' | 'disableShared' | 'sameHost' | 'notInDag' | 'notServing' | 'badParent' | 'cycle';

/**
 * Why `candidate` cannot be a parent of `child`, or undefined when it can. Rules in Dragonfly's
 * order. `notServing`: a normal peer with no finished piece, no parent of its own, and neither
 * downloading from the origin nor done has nothing to offer and nothing coming. A peer that has a
 * parent is kept even before its first piece (as Dragonfly keeps in-degree > 0): SyncPieces streams
 * its pieces as they land, and without this every peer starting at once would hang off the seed
 * alone. A seed peer is kept with no piece while it downloads from the origin, for the same reason.
 *
 * Unlike Dragonfly, that holds from the moment the peer was given its parents (ReceivedNormal with
 * in-degree > 0), not only once its DownloadPeerStarted arrived: when many peers register in the
 * same instant, each is scheduled before any of the others has reported Running, and Dragonfly's
 * rule then hands every one of them the seed alone, a star whose seed uplink is shared N ways
 * (measured on simulated 100 Mbit/s hosts: 16 peers took 17 x the time one link needs).
 * In-degree counts a striped task's forest edges too: a forest member is fed as a DAG child is.
 */
export function rejectReason(candidate: Peer, child: Peer, blocklist: ReadonlySet<string>): RejectReason | undefined {
  if (blocklist.has(candidate.id) || candidate.id === child.id) return 'blocklisted';
  if (candidate.host.info.disableShared) return 'disableShared';
  if (candidate.host.id === child.host.id) return 'sameHost';
  const task = child.task;
  if (!task.dag.has(candidate.id)) return 'notInDag';
  const state = candidate.state;
  const fed = (state === PeerState.Running || state === PeerState.ReceivedNormal) && task.inDegree(candidate.id) > 0;
  if (candidate.host.type === 'normal' && candidate.finishedPieces.count === 0 && !fed && state !== PeerState.BackToSource && state !== PeerState.Succeeded) {
    return 'notServing';
  }
  // A normal peer just given parents is about to start: not bad for being ReceivedNormal.
  const scheduled = candidate.host.type === 'normal' && state === PeerState.ReceivedNormal && fed;
  if (scheduled ? isBadCost(candidate.pieceCosts.stats()) : isBadParent(state, candidate.pieceCosts.stats())) return 'badParent';
  if (!task.canAddPeerEdge(candidate.id, child.id)) return 'cycle';
  return undefined;
}

export interface FilterResult {
  readonly parents: Peer[];
  readonly rejected: { readonly id: string; readonly reason: RejectReason }[];
}

/** Samples up to `limit` peers of the child's task and keeps those no rule rejects. */
export function filterCandidateParents(
  child: Peer,
  blocklist: ReadonlySet<string>,
  limit: number,
  random: () => number = Math.random,
): FilterResult {
  const parents: Peer[] = [];
  const rejected: { id: string; reason: RejectReason }[] = [];
  for (const candidate of child.task.dag.randomValues(limit, random)) {
    const reason = rejectReason(candidate, child, blocklist);
    if (reason === undefined) parents.push(candidate);
    else rejected.push({ id: candidate.id, reason });
  }
  return { parents, rejected };
}

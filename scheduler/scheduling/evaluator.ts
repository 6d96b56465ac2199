/**
 * Dragonfly's load-aware evaluator (`evaluator_default.go`, v2.4+) and bad-parent rule
 * (`evaluator.go::IsBadParent`), as pure functions of plain numbers so each formula has a table test.
 *
 *   total        = 0.6 load + 0.2 idc + 0.1 location + 0.1 hostType
 *   load         = 0.5 (1 - tx/maxTx) + 0.3 (1 - uploadBytes*8/maxTx/60s) + 0.2 concurrency
 *   concurrency  = 1 while pieces <= maxTx/(16 MiB*8), else that ratio inverted
 */
import { PeerState } from '../resource/fsm.ts';
import type { HostType } from '../resource/host.ts';
import type { CostStats, Peer } from '../resource/peer.ts';

export const WEIGHTS = Object.freeze({ load: 0.6, idc: 0.2, location: 0.1, hostType: 0.1 });
export const LOAD_WEIGHTS = Object.freeze({ peakBandwidth: 0.5, bandwidthDuration: 0.3, concurrency: 0.2 });
/** Seconds over which uploaded bytes are spread by the bandwidth-duration term. */
export const BANDWIDTH_DURATION_WINDOW_S = 60;
/** Piece length that saturates a link in the concurrency term (an empirical 16 MiB in Dragonfly). */
export const CONCURRENCY_PIECE_LENGTH = 16 * 1024 * 1024;
/** Location is `a|b|c|...`: at most this many leading elements count. */
export const MAX_LOCATION_ELEMENTS = 5;
/** While fewer costs than this are known, a piece 20x slower than the mean marks a bad parent. */
export const BAD_PARENT_MEAN_FACTOR = 20;
export const MIN_AVAILABLE_COSTS = 2;

/** A parent host's load as the scheduler projects it (bits per second, bytes, pieces). */
export interface Load {
  readonly maxTxBandwidth: number;
  readonly txBandwidth: number;
  readonly uploadContentLength: number;
  readonly concurrentUploadPieceCount: number;
}

/** max(0, 1 - tx/maxTx); 0 when maxTx is unknown. */
export function peakBandwidthUsageScore(load: Load): number {
  if (load.maxTxBandwidth <= 0 || load.txBandwidth >= load.maxTxBandwidth) return 0;
  return 1 - load.txBandwidth / load.maxTxBandwidth;
}

/** max(0, 1 - uploadBytes*8/maxTx/60s); 1 when nothing was uploaded, 0 when maxTx is unknown. */
export function bandwidthDurationScore(load: Load): number {
  if (load.maxTxBandwidth <= 0) return 0;
  if (load.uploadContentLength <= 0) return 1;
  const ratio = (load.uploadContentLength * 8) / load.maxTxBandwidth / BANDWIDTH_DURATION_WINDOW_S;
  return ratio >= 1 ? 0 : 1 - ratio;
}

/** 1 while concurrent upload pieces fit the link, then needed/actual; 0 for links under one 16 MiB piece/s. */
export function concurrencyScore(load: Load): number {
  if (load.maxTxBandwidth <= 0) return 0;
  const piecesNeeded = load.maxTxBandwidth / CONCURRENCY_PIECE_LENGTH / 8;
  if (piecesNeeded <= 1) return 0;
  if (load.concurrentUploadPieceCount <= 0) return 1;
  const ratio = load.concurrentUploadPieceCount / piecesNeeded;
  return ratio <= 1 ? 1 : 1 / ratio;
}

export function loadQualityScore(load: Load): number {
  return (
    LOAD_WEIGHTS.peakBandwidth * peakBandwidthUsageScore(load) +
    LOAD_WEIGHTS.bandwidthDuration * bandwidthDurationScore(load) +
    LOAD_WEIGHTS.concurrency * concurrencyScore(load)
  );
}

/** 1 when both IDCs are set and equal (case-insensitive). */
export function idcAffinityScore(parentIdc: string, childIdc: string): number {
  if (!parentIdc || !childIdc) return 0;
  return parentIdc.toLowerCase() === childIdc.toLowerCase() ? 1 : 0;
}

/** Matching leading `|`-separated elements (at most 5) over 5; 1 when the whole strings match. */
export function locationAffinityScore(parentLocation: string, childLocation: string): number {
  if (!parentLocation || !childLocation) return 0;
  if (parentLocation.toLowerCase() === childLocation.toLowerCase()) return 1;
  const a = parentLocation.split('|');
  const b = childLocation.split('|');
  const n = Math.min(a.length, b.length, MAX_LOCATION_ELEMENTS);
  let score = 0;
  for (let i = 0; i < n && a[i]!.toLowerCase() === b[i]!.toLowerCase(); i++) score++;
  return score / MAX_LOCATION_ELEMENTS;
}

/** Seeds score 1 while they are being scheduled or running (first downloads go to them), else 0; normal peers 0.5. */
export function hostTypeScore(type: HostType, state: PeerState): number {
  if (type !== 'normal') return state === PeerState.ReceivedNormal || state === PeerState.Running ? 1 : 0;
  return 0.5;
}

export interface ParentFeatures {
  readonly load: Load;
  readonly idc: string;
  readonly location: string;
  readonly hostType: HostType;
  readonly state: PeerState;
}

export interface ChildFeatures {
  readonly idc: string;
  readonly location: string;
}

export function parentScore(parent: ParentFeatures, child: ChildFeatures): number {
  return (
    WEIGHTS.load * loadQualityScore(parent.load) +
    WEIGHTS.idc * idcAffinityScore(parent.idc, child.idc) +
    WEIGHTS.location * locationAffinityScore(parent.location, child.location) +
    WEIGHTS.hostType * hostTypeScore(parent.hostType, parent.state)
  );
}

const BAD_STATES: ReadonlySet<PeerState> = new Set([
  PeerState.Failed,
  PeerState.Leave,
  PeerState.Pending,
  PeerState.ReceivedEmpty,
  PeerState.ReceivedTiny,
  PeerState.ReceivedSmall,
  PeerState.ReceivedNormal,
]);

/**
 * The cost rule: with at least 2 costs, the latest one is bad when it is over 20x the mean of the
 * ones before while the window is not full, and over mean + 3 sigma once it is.
 */
export function isBadCost(stats: CostStats | undefined): boolean {
  if (!stats || stats.count < MIN_AVAILABLE_COSTS) return false;
  if (stats.count < stats.capacity) return stats.last > stats.meanBefore * BAD_PARENT_MEAN_FACTOR;
  return stats.last > stats.meanBefore + 3 * stats.stdBefore;
}

/** Not serving yet, gone, or its latest piece was an outlier. */
export function isBadParent(state: PeerState, stats: CostStats | undefined): boolean {
  return BAD_STATES.has(state) || isBadCost(stats);
}

export function featuresOf(peer: Peer): ParentFeatures {
  const host = peer.host;
  return {
    load: {
      maxTxBandwidth: host.info.maxTxBandwidth,
      txBandwidth: host.txBandwidth,
      uploadContentLength: host.uploadContentLength,
      concurrentUploadPieceCount: host.concurrentUploadPieceCount,
    },
    idc: host.info.idc,
    location: host.info.location,
    hostType: host.type,
    state: peer.state,
  };
}

/** Parents best first; each is scored once. Equal scores keep their (random) sample order. */
export function evaluateParents(parents: readonly Peer[], child: Peer): Peer[] {
  const childFeatures = { idc: child.host.info.idc, location: child.host.info.location };
  return parents
    .map((parent) => ({ parent, score: parentScore(featuresOf(parent), childFeatures) }))
    .sort((a, b) => b.score - a.score)
    .map(({ parent }) => parent);
}

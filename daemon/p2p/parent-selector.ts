/**
 * Which parent serves a piece (Dragonfly's `ParentSelector`): a weighted random choice over the
 * parents that have it, weighted by idle upload bandwidth `max(max_tx - tx, 10% of max_tx)`, so a
 * busy parent still gets a share and an idle one gets most. Parents that did not say what they can
 * send count as 10 Gbps. Pure.
 */
import type { commonv2 } from '../../api/index.ts';

export const DEFAULT_PARENT_TX_BPS = 10_000_000_000;

export function idleBandwidth(network: { maxTxBandwidth?: number | undefined; txBandwidth?: number | undefined } | null | undefined): number {
  const max = network?.maxTxBandwidth && network.maxTxBandwidth > 0 ? network.maxTxBandwidth : DEFAULT_PARENT_TX_BPS;
  const tx = Math.max(0, network?.txBandwidth ?? 0);
  return Math.max(max - tx, max * 0.1);
}

export function parentWeight(host: commonv2.Host__Output | null | undefined): number {
  return idleBandwidth(host?.network);
}

/** One of `candidates`, each with probability proportional to its weight; undefined when empty. */
export function pickWeighted<T>(candidates: readonly T[], weight: (candidate: T) => number, random: () => number = Math.random): T | undefined {
  if (candidates.length <= 1) return candidates[0];
  const weights = candidates.map((candidate) => Math.max(0, weight(candidate)));
  const total = weights.reduce((sum, w) => sum + w, 0);
  if (!(total > 0)) return candidates[Math.floor(random() * candidates.length)];
  let at = random() * total;
  for (let i = 0; i < candidates.length; i++) {
    at -= weights[i]!;
    if (at < 0) return candidates[i];
  }
  return candidates[candidates.length - 1];
}

/**
 * How many pieces each parent may have in flight at once: `concurrency` split in proportion to idle
 * upload bandwidth, each share rounded down, and what rounding leaves over going to the idlest
 * parents. A parent the scheduler already loaded with children (its projected tx at its max,
 * so only the 10% floor idle) then gets no share while an idle parent has room for every piece in
 * flight: it is not asked at all rather than asked for copies of what the idle one delivers.
 * Equal weights split evenly. Pure.
 */
export function parentShares(parents: readonly { readonly peerId: string; readonly host: commonv2.Host__Output | null | undefined }[], concurrency: number): Map<string, number> {
  const weights = parents.map((parent) => parentWeight(parent.host));
  const total = weights.reduce((sum, w) => sum + w, 0);
  const shares = parents.map((_, i) => (total > 0 ? Math.floor((concurrency * weights[i]!) / total) : 0));
  // What rounding left over goes round-robin to the idlest parents, in the scheduler's order (best first).
  const most = Math.max(...weights);
  const idlest = parents.map((_, i) => i).filter((i) => weights[i] === most);
  for (let left = concurrency - shares.reduce((sum, n) => sum + n, 0), k = 0; left > 0 && idlest.length > 0; left--, k++) {
    const i = idlest[k % idlest.length]!;
    shares[i] = shares[i]! + 1;
  }
  return new Map(parents.map((parent, i) => [parent.peerId, shares[i]!]));
}

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

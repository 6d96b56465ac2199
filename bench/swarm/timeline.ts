/**
 * Every host's link throughput over a run, sampled from the switch's counters (one `ip` call per
 * sample for all hosts): where the bytes went and when, which is how a slow swarm shows whose link
 * sat idle (a star keeps every peer's uplink at zero; a chain lights them up one after another).
 */
import { countersOfAll, type LinkCounters, type Topology } from './netns.ts';

export const DEFAULT_SAMPLE_MS = 500;

export interface LinkTimeline {
  readonly intervalSeconds: number;
  readonly hosts: readonly string[];
  /** Seconds from the start of sampling, one per interval (its end). */
  readonly seconds: readonly number[];
  /** Per host, per interval: Mbit/s sent and received (wire bytes). */
  readonly egressMbps: readonly (readonly number[])[];
  readonly ingressMbps: readonly (readonly number[])[];
}

/** Samples until stop(); a failed sample is skipped (the run goes on). */
export function startTimeline(topology: Pick<Topology, 'switchNetns' | 'hosts'>, intervalMs = DEFAULT_SAMPLE_MS): { stop(): Promise<LinkTimeline> } {
  const samples: Array<{ at: number; counters: LinkCounters[] }> = [];
  const started = performance.now();
  let stopped = false;
  let pending: Promise<void> = Promise.resolve();
  const take = async () => {
    try {
      samples.push({ at: (performance.now() - started) / 1000, counters: await countersOfAll(topology) });
    } catch {
      // One missing sample only widens an interval.
    }
  };
  pending = take();
  const timer = setInterval(() => {
    if (!stopped) pending = pending.then(take);
  }, intervalMs);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await pending;
      await take();
      const rate = (pick: (c: LinkCounters) => number, host: number) =>
        samples.slice(1).map((s, k) => {
          const prev = samples[k]!;
          const dt = s.at - prev.at;
          return dt > 0 ? Number((((pick(s.counters[host]!) - pick(prev.counters[host]!)) * 8) / dt / 1e6).toFixed(1)) : 0;
        });
      return {
        intervalSeconds: intervalMs / 1000,
        hosts: topology.hosts.map((h) => h.name),
        seconds: samples.slice(1).map((s) => Number(s.at.toFixed(2))),
        egressMbps: topology.hosts.map((_, i) => rate((c) => c.txBytes, i)),
        ingressMbps: topology.hosts.map((_, i) => rate((c) => c.rxBytes, i)),
      };
    },
  };
}

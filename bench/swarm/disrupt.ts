/**
 * Peers that die mid-run. The trigger is what anyone could watch from outside: the bytes the
 * peers' links have received since the launch (the switch's counters, the same ones every figure
 * of the run comes from), against what they need, every peer the whole file in full frames. When
 * that fraction is reached the chosen peers are SIGKILLed by PID, all at the same instant.
 * Counting wire bytes slightly overstates progress (ACKs of a peer's own uploads arrive on the same
 * link): a few percent early at most, and the same for every system.
 */
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CpuLedger } from './cpu.ts';
import { payloadOverheadFactor } from './floors.ts';
import { countersOfAll, type LinkCounters } from './netns.ts';
import type { KillPlan, PreparedSystem, SwarmContext } from './system.ts';

/** How often the counters are read while waiting for the trigger. */
export const KILL_POLL_MS = 100;

export interface KilledPeer {
  readonly index: number;
  readonly name: string;
  /** Seconds from the launch to the kill. */
  readonly atSeconds: number;
  /** The peers' received fraction the trigger saw. */
  readonly progress: number;
}

/** `count` distinct peer indexes out of `peers`, uniformly at random (a partial Fisher-Yates). */
export function chooseVictims(peers: number, count: number, random: (max: number) => number = randomInt): number[] {
  const order = Array.from({ length: peers }, (_, i) => i);
  for (let i = 0; i < Math.min(count, peers); i++) {
    const j = i + random(peers - i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.slice(0, Math.min(count, peers)).sort((a, b) => a - b);
}

/** The fraction of what the peers need (the file each, in full frames) that their links received. */
export function receivedFraction(before: readonly LinkCounters[], now: readonly LinkCounters[], peerHostIndexes: readonly number[], sizeBytes: number): number {
  const received = peerHostIndexes.reduce((sum, i) => sum + (now[i]!.rxBytes - before[i]!.rxBytes), 0);
  return received / (peerHostIndexes.length * sizeBytes * payloadOverheadFactor());
}

/**
 * Watches the counters from `before` until the plan's fraction is reached, then kills its victims
 * (once). stop() ends the watch and says whom it killed (none when the run ended first).
 */
export function startKiller(plan: KillPlan, ctx: SwarmContext, prepared: PreparedSystem, ledger: CpuLedger, before: readonly LinkCounters[]): { stop(): Promise<KilledPeer[]> } {
  const started = performance.now();
  const peerHostIndexes = ctx.peers.map((peer) => ctx.topology.hosts.findIndex((h) => h.netns === peer.netns));
  const killed: KilledPeer[] = [];
  let stopped = false;
  const watch = async () => {
    while (!stopped && !ctx.signal.aborted) {
      await sleep(KILL_POLL_MS);
      let progress: number;
      try {
        progress = receivedFraction(before, await countersOfAll(ctx.topology), peerHostIndexes, ctx.file.sizeBytes);
      } catch (error) {
        ctx.log(`kill trigger: counters unreadable (${(error as Error).message}); trying again`);
        continue;
      }
      if (stopped || progress < plan.atFraction) continue;
      const atSeconds = (performance.now() - started) / 1000;
      for (const index of plan.victims) {
        prepared.killPeer(index, ledger);
        killed.push({ index, name: ctx.peers[index]!.name, atSeconds, progress });
      }
      ctx.log(`killed ${killed.map((k) => k.name).join(', ')} (SIGKILL) ${atSeconds.toFixed(2)} s after the launch, the peers ${(progress * 100).toFixed(0)}% along`);
      return;
    }
  };
  const watching = watch();
  return {
    async stop() {
      stopped = true;
      await watching;
      return killed;
    },
  };
}

/** A plan for one run: `count` random victims, or none. */
export function killPlanFor(peers: number, count: number, atFraction: number): KillPlan | undefined {
  return count > 0 ? { victims: chooseVictims(peers, count), atFraction } : undefined;
}

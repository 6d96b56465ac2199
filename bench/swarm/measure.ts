/**
 * One system's run on the topology: prepare its servers, read link counters and CPU, launch every
 * peer's client at once, read them again once all are done, then check every output's sha256
 * against the file's and stop the servers. Bytes are the links' own counters (eth0 tx of each
 * host: IP packets with their headers), so every system is measured the same way.
 */
import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { sha256Of } from '../lib/files.ts';
import { CpuLedger, cpuPerGiBMoved, machineSnapshot, type CpuPerGiB, type CpuReport } from './cpu.ts';
import { startKiller, type KilledPeer } from './disrupt.ts';
import { countersOfAll } from './netns.ts';
import { startTimeline, type LinkTimeline } from './timeline.ts';
import type { PeerOutcome, SwarmContext, SwarmSystem, SystemName } from './system.ts';

export interface Percentiles {
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

export interface SystemResult {
  readonly system: SystemName;
  readonly completionSeconds: Percentiles;
  /** Bytes the origin host put on its link during the launch (wire bytes). */
  readonly originEgressBytes: number;
  /** Bytes each peer host put on its link, in peer order. */
  readonly peerUploadBytes: readonly number[];
  /** Bytes each peer host received on its link, in peer order. */
  readonly peerDownloadBytes: readonly number[];
  /** Every surviving peer finished and every survivor's output has the file's sha256. */
  readonly verified: boolean;
  /** Per peer, in peer order: seconds to done (null when it failed or was killed). */
  readonly peerSeconds: readonly (number | null)[];
  /** Peers SIGKILLed mid-run (not in the completion figures, their outputs not checked). */
  readonly killed: readonly (KilledPeer & { readonly outcome: string })[];
  /** CPU of the process kind that moves the peers' bytes, per GiB they moved (received + sent). */
  readonly peerCpuPerGiB: CpuPerGiB | undefined;
  readonly seedHostEgressBytes: number;
  readonly wallSeconds: number;
  readonly failures: readonly string[];
  readonly cpu: CpuReport;
  readonly loadBefore: number;
  readonly details: Record<string, unknown>;
  /** Every host's link throughput over the launch. */
  readonly timeline: LinkTimeline;
}

/** Nearest-rank percentile of `values` (0 < q <= 1); NaN for none. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * p50, p95 and max of the peers' completion times. A peer that failed counts as never done: the
 * figures are then Infinity where it falls, so a failure never looks fast.
 */
export function completionPercentiles(seconds: readonly (number | undefined)[]): Percentiles {
  const values = seconds.map((s) => s ?? Number.POSITIVE_INFINITY);
  return { p50: percentile(values, 0.5), p95: percentile(values, 0.95), max: percentile(values, 1) };
}

/** Which outputs are not the file: `undefined` when right, else why. Two at a time (two cores). */
async function checkOutputs(outcomes: readonly PeerOutcome[], ctx: SwarmContext, skip: ReadonlySet<number>): Promise<Array<string | undefined>> {
  const problems: Array<string | undefined> = new Array(outcomes.length);
  let next = 0;
  const worker = async () => {
    while (next < outcomes.length) {
      const i = next++;
      const outcome = outcomes[i]!;
      if (skip.has(i)) continue;
      if (outcome.error) {
        problems[i] = `${outcome.name}: ${outcome.error}`;
        continue;
      }
      try {
        const digest = await sha256Of(outcome.outputPath, ctx.file.sizeBytes);
        problems[i] = digest === ctx.file.sha256 ? undefined : `${outcome.name}: output sha256 ${digest.slice(0, 12)}... is not the file's`;
      } catch (error) {
        problems[i] = `${outcome.name}: cannot read its output: ${(error as Error).message}`;
      }
    }
  };
  await Promise.all([worker(), worker()]);
  return problems;
}

/** Runs `system` once in `ctx` (its workDir is created here and removed after). */
export async function measureSystem(system: SwarmSystem, ctx: SwarmContext): Promise<SystemResult> {
  mkdirSync(ctx.workDir, { recursive: true, mode: 0o755 });
  const loadBefore = loadavg()[0]!;
  try {
    const prepared = await system.prepare(ctx);
    let outcomes: PeerOutcome[];
    let details: Record<string, unknown> = {};
    let cpu: CpuReport;
    let wallSeconds: number;
    let before;
    let after;
    let timeline: LinkTimeline;
    let killed: KilledPeer[] = [];
    try {
      const ledger = new CpuLedger();
      prepared.track(ledger);
      before = await countersOfAll(ctx.topology);
      const machineBefore = machineSnapshot();
      const sampler = startTimeline(ctx.topology);
      const started = performance.now();
      ctx.log(`${system.name}: ${ctx.peers.length} peers start now`);
      const killer = ctx.kill ? startKiller(ctx.kill, ctx, prepared, ledger, before) : undefined;
      try {
        outcomes = await prepared.launch(ledger, ctx.signal);
      } finally {
        killed = (await killer?.stop()) ?? [];
        timeline = await sampler.stop();
      }
      if (ctx.kill && killed.length === 0) ctx.log(`${system.name}: the peers were done before they were ${(ctx.kill.atFraction * 100).toFixed(0)}% along by their counters: nobody was killed`);
      wallSeconds = (performance.now() - started) / 1000;
      const machineAfter = machineSnapshot();
      after = await countersOfAll(ctx.topology);
      ledger.settle();
      cpu = ledger.report(wallSeconds, machineBefore, machineAfter);
      details = (await prepared.details?.()) ?? {};
    } finally {
      await prepared.stop();
    }
    ctx.signal.throwIfAborted();
    ctx.log(`${system.name}: every client ended after ${wallSeconds.toFixed(2)} s; checking sha256 of ${outcomes.length} outputs`);
    const killedIndexes = new Set(killed.map((k) => k.index));
    const problems = await checkOutputs(outcomes, ctx, killedIndexes);
    const delta = (host: { netns: string }, pick: (c: { txBytes: number; rxBytes: number }) => number) => {
      const i = ctx.topology.hosts.findIndex((h) => h.netns === host.netns);
      return pick(after[i]!) - pick(before[i]!);
    };
    const egress = (host: { netns: string }) => delta(host, (c) => c.txBytes);
    const ingress = (host: { netns: string }) => delta(host, (c) => c.rxBytes);
    const survivorSeconds = outcomes.flatMap((o, i) => (killedIndexes.has(i) ? [] : [problems[i] === undefined ? o.seconds : undefined]));
    const peerUploadBytes = ctx.peers.map(egress);
    const peerDownloadBytes = ctx.peers.map(ingress);
    const moved = [...peerUploadBytes, ...peerDownloadBytes].reduce((sum, b) => sum + b, 0);
    return {
      system: system.name,
      completionSeconds: completionPercentiles(survivorSeconds),
      originEgressBytes: egress(ctx.origin),
      peerUploadBytes,
      peerDownloadBytes,
      verified: problems.every((p) => p === undefined),
      peerSeconds: outcomes.map((o, i) => (killedIndexes.has(i) || problems[i] !== undefined ? null : (o.seconds ?? null))),
      killed: killed.map((k) => ({ ...k, outcome: outcomes[k.index]?.error ?? `finished at ${outcomes[k.index]?.seconds?.toFixed(2)} s before the kill reached it` })),
      peerCpuPerGiB: cpuPerGiBMoved(cpu, system.peerKind, moved),
      seedHostEgressBytes: egress(ctx.seed),
      wallSeconds,
      failures: problems.filter((p): p is string => p !== undefined),
      cpu,
      loadBefore,
      details,
      timeline,
    };
  } finally {
    rmSync(ctx.workDir, { recursive: true, force: true });
  }
}

/** A fresh work dir name for one system's run. */
export function workDirFor(base: string, system: SystemName, run: number): string {
  return join(base, `${system}-run${run}`);
}

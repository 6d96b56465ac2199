/**
 * What a swarm run reports: tables for the console, the targets of the issue, and results.json:
 * `{ peers, sizeBytes, rate, floorSeconds, payloadFloorSeconds, systems: { p2p, http, bittorrent } }`,
 * each system `{ completionSeconds: { p50, p95, max }, maxOverFloor, maxOverPayloadFloor,
 * originEgressBytes, peerUploadBytes, verified, groups, killed, peerCpuPerGiB }` (plus CPU, per-peer
 * times and every run's figures, for whoever digs deeper).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixed, formatTable } from '../lib/format.ts';
import { checkTarget, type Target } from '../lib/report.ts';
import { cdfSvg, type CdfSeries } from './chart.ts';
import { payloadOverheadFactor, type Floors } from './floors.ts';
import { completionPercentiles, type Percentiles, type SystemResult } from './measure.ts';
import type { SystemName } from './system.ts';

/** Targets of the issue (16 peers, 256 MiB, 100mbit; the slow, origin-bound and kill cases). */
export const TARGETS = Object.freeze({
  p2pMaxOverFloor: 1.3,
  p2pMaxOverBittorrent: 0.7,
  originEgressOverFile: 1.01,
  /** When the origin's link sets the floor. */
  p2pMaxOverOriginFloor: 1.15,
  fastPeersMaxOverFloor: 1.35,
  slowPeersMaxOverFloor: 1.2,
  /** The survivors' max over the same system's undisturbed run's max (same hosts, same file). */
  killedMaxOverUndisturbed: 1.2,
  /** p2p daemons' CPU per GiB moved over the BitTorrent leechers'. */
  daemonCpuPerGiBOverLeecher: 1,
});

type Runs = ReadonlyMap<SystemName, readonly SystemResult[]>;
const NO_RUNS: Runs = new Map();

/** The undisturbed run paired with a system's reported run (a run that killed peers), if any. */
function baselineOf(name: SystemName, undisturbed: Runs): SystemResult | undefined {
  const runs = undisturbed.get(name);
  return runs && runs.length > 0 ? representative(runs) : undefined;
}

export interface RunSetup {
  readonly prefix: string;
  readonly peers: number;
  readonly sizeBytes: number;
  readonly rateText: string;
  readonly rateBps: number;
  readonly originRateBps: number;
  readonly floorSeconds: number;
  /** The fast peers' floors and, with --slow-peers, the slow ones'. */
  readonly floors: { readonly fast: Floors; readonly slow: Floors | undefined };
  readonly slowPeers: number;
  readonly slowRateBps: number | undefined;
  readonly killPeers: number;
  readonly killAt: number | undefined;
  readonly pieceLengthBytes: number;
  readonly concurrentPieceCount: number | undefined;
  readonly relay: boolean;
  readonly keepAlive: boolean | undefined;
  readonly stripes: number | undefined;
  /** Mutual TLS on every p2p link (--mtls). */
  readonly mtls?: boolean | undefined;
  readonly timeoutMs: number;
}

/** The run of a system whose max completion is the median of its runs (the one reported). */
export function representative(runs: readonly SystemResult[]): SystemResult {
  const sorted = [...runs].sort((a, b) => a.completionSeconds.max - b.completionSeconds.max);
  return sorted[(sorted.length - 1) >> 1]!;
}

const finiteOrNull = (value: number) => (Number.isFinite(value) ? value : null);

export interface GroupFigures {
  readonly group: 'fast' | 'slow';
  readonly rateBps: number;
  /** Peer names of the group, killed ones included. */
  readonly peers: readonly string[];
  readonly survivors: number;
  /** Over the group's survivors (a failed survivor counts as never done). */
  readonly completionSeconds: Percentiles;
  readonly floorSeconds: number;
  readonly payloadFloorSeconds: number;
  readonly maxOverFloor: number;
  readonly maxOverPayloadFloor: number;
}

/** Whether peer `index` (0-based) is one of the slow ones: the last `slowPeers`. */
export function isSlowPeer(setup: Pick<RunSetup, 'peers' | 'slowPeers'>, index: number): boolean {
  return index >= setup.peers - setup.slowPeers;
}

/** The fast peers' figures and, with slow peers, the slow ones', each against its own floors. */
export function groupsOf(setup: RunSetup, result: SystemResult): GroupFigures[] {
  const killed = new Set(result.killed.map((k) => k.index));
  const groups: GroupFigures[] = [];
  for (const group of ['fast', 'slow'] as const) {
    const floors = group === 'fast' ? setup.floors.fast : setup.floors.slow;
    if (!floors) continue;
    const members = result.peerSeconds.map((_, i) => i).filter((i) => isSlowPeer(setup, i) === (group === 'slow'));
    if (members.length === 0) continue;
    const survivors = members.filter((i) => !killed.has(i));
    const completion = completionPercentiles(survivors.map((i) => result.peerSeconds[i] ?? undefined));
    groups.push({
      group,
      rateBps: group === 'fast' ? setup.rateBps : setup.slowRateBps!,
      peers: members.map((i) => `peer-${i + 1}`),
      survivors: survivors.length,
      completionSeconds: completion,
      floorSeconds: floors.linkSeconds,
      payloadFloorSeconds: floors.payloadSeconds,
      maxOverFloor: completion.max / floors.linkSeconds,
      maxOverPayloadFloor: completion.max / floors.payloadSeconds,
    });
  }
  return groups;
}

const percentilesJson = (c: Percentiles) => ({ p50: finiteOrNull(c.p50), p95: finiteOrNull(c.p95), max: finiteOrNull(c.max) });

function systemJson(setup: RunSetup, result: SystemResult, runs: readonly SystemResult[], baseline: SystemResult | undefined) {
  const c = result.completionSeconds;
  const perGiB = result.peerCpuPerGiB;
  return {
    // With --kill-peers: the same system on the same hosts with nobody killed, run just before.
    undisturbed: baseline
      ? {
          completionSeconds: percentilesJson(baseline.completionSeconds),
          maxOverFloor: finiteOrNull(baseline.completionSeconds.max / setup.floors.fast.linkSeconds),
          verified: baseline.verified,
          peerCpuPerGiB: baseline.peerCpuPerGiB ?? null,
        }
      : null,
    maxOverUndisturbed: baseline ? finiteOrNull(c.max / baseline.completionSeconds.max) : null,
    completionSeconds: percentilesJson(c),
    maxOverFloor: finiteOrNull(c.max / setup.floors.fast.linkSeconds),
    maxOverPayloadFloor: finiteOrNull(c.max / setup.floors.fast.payloadSeconds),
    groups: groupsOf(setup, result).map((g) => ({
      ...g,
      completionSeconds: percentilesJson(g.completionSeconds),
      maxOverFloor: finiteOrNull(g.maxOverFloor),
      maxOverPayloadFloor: finiteOrNull(g.maxOverPayloadFloor),
    })),
    killed: result.killed,
    survivors: result.peerSeconds.length - result.killed.length,
    peerCpuPerGiB: perGiB ? { ...perGiB, secondsPerGiB: finiteOrNull(perGiB.secondsPerGiB) } : null,
    peerDownloadBytes: result.peerDownloadBytes,
    originEgressBytes: result.originEgressBytes,
    peerUploadBytes: result.peerUploadBytes,
    verified: result.verified,
    peerSeconds: result.peerSeconds,
    seedHostEgressBytes: result.seedHostEgressBytes,
    cpuBound: result.cpu.cpuBound,
    cpu: result.cpu,
    failures: result.failures,
    details: result.details,
    linkTimeline: result.timeline,
    runs: runs.map((r) => ({
      completionSeconds: percentilesJson(r.completionSeconds),
      originEgressBytes: r.originEgressBytes,
      killed: r.killed.map((k) => k.name),
      peerCpuSecondsPerGiB: finiteOrNull(r.peerCpuPerGiB?.secondsPerGiB ?? Number.NaN),
      verified: r.verified,
      cpuBound: r.cpu.cpuBound,
      machineBusyFraction: r.cpu.machineBusyFraction,
      loadBefore: r.loadBefore,
    })),
  };
}

export function resultsJson(setup: RunSetup, bySystem: Runs, skipped: Readonly<Record<string, string>>, undisturbed: Runs = NO_RUNS): object {
  const systems: Record<string, unknown> = {};
  for (const [name, runs] of bySystem) systems[name] = systemJson(setup, representative(runs), runs, baselineOf(name, undisturbed));
  const slow = setup.floors.slow;
  return {
    peers: setup.peers,
    sizeBytes: setup.sizeBytes,
    rate: setup.rateText,
    floorSeconds: setup.floorSeconds,
    payloadFloorSeconds: setup.floors.fast.payloadSeconds,
    payloadOverheadFactor: payloadOverheadFactor(),
    floorBoundBy: setup.floors.fast.boundBy,
    slowPeers: setup.slowPeers,
    slowRateBps: setup.slowRateBps ?? null,
    slowFloorSeconds: slow?.linkSeconds ?? null,
    slowPayloadFloorSeconds: slow?.payloadSeconds ?? null,
    killPeers: setup.killPeers,
    killAt: setup.killAt ?? null,
    systems,
    rateBps: setup.rateBps,
    originRateBps: setup.originRateBps,
    pieceLengthBytes: setup.pieceLengthBytes,
    concurrentPieceCount: setup.concurrentPieceCount ?? null,
    relay: setup.relay,
    keepAlive: setup.keepAlive ?? null,
    stripes: setup.stripes ?? null,
    mtls: setup.mtls ?? false,
    namespacePrefix: setup.prefix,
    timeoutSeconds: setup.timeoutMs / 1000,
    skipped,
  };
}

/** `1.23 (dfdaemon)`: CPU seconds per GiB the peers moved, and whose. */
function perGiBCell(r: SystemResult): string {
  const p = r.peerCpuPerGiB;
  return p ? `${fixed(p.secondsPerGiB)} (${p.kind})` : '-';
}

export function summaryTable(setup: RunSetup, bySystem: Runs, undisturbed: Runs = NO_RUNS): string {
  const fast = setup.floors.fast;
  const rows = [...bySystem].map(([name, runs]) => {
    const r = representative(runs);
    const c = r.completionSeconds;
    const uploads = r.peerUploadBytes.reduce((sum, b) => sum + b, 0);
    return [
      name,
      r.verified ? 'yes' : `NO (${r.failures.length})`,
      fixed(c.p50),
      fixed(c.p95),
      fixed(c.max),
      fixed(c.max / fast.linkSeconds),
      fixed(c.max / fast.payloadSeconds),
      fixed(r.originEgressBytes / setup.sizeBytes, 3),
      fixed(r.seedHostEgressBytes / setup.sizeBytes),
      fixed(uploads / setup.sizeBytes),
      fixed(Math.max(0, ...r.peerUploadBytes) / setup.sizeBytes),
      perGiBCell(r),
      `${(r.cpu.machineBusyFraction * 100).toFixed(0)}% (${(r.cpu.ownBusyFraction * 100).toFixed(0)}%)`,
      r.cpu.cpuBound ? 'CPU-BOUND' : 'no',
    ];
  });
  const header = ['system', 'verified', 'p50 s', 'p95 s', 'max s', 'max/floor', 'max/payload floor', 'origin egress x file', 'seed host egress x file', 'peers upload x file', 'top peer x file', 'peer CPU s/GiB moved', 'machine busy (own)', 'cpu-bound'];
  const lines = [
    formatTable(header, rows),
    `floor: ${fixed(fast.linkSeconds)} s = max(size / peer rate, size / origin rate): ${(setup.sizeBytes / 2 ** 20).toFixed(0)} MiB at ${setup.rateText} per peer, origin ${setup.originRateBps / 1e6} Mbit/s (${fast.boundBy} link sets it)`,
    `payload floor: ${fixed(fast.payloadSeconds)} s = floor x ${fixed(payloadOverheadFactor(), 4)} (full 1500-byte frames: Ethernet + IP + TCP headers and timestamps)`,
    'egress = bytes on the host\'s link (IP headers included); peer CPU per GiB = CPU of the kind in brackets / (bytes the peers\' links received + sent)',
  ];
  if (setup.slowPeers > 0 || setup.killPeers > 0) lines.push('', groupTable(setup, bySystem, undisturbed));
  return lines.join('\n');
}

/** Fast and slow peers apart, each against its own floor, and who was killed. */
export function groupTable(setup: RunSetup, bySystem: Runs, undisturbed: Runs = NO_RUNS): string {
  const rows: string[][] = [];
  const killedLines: string[] = [];
  for (const [name, runs] of bySystem) {
    const r = representative(runs);
    for (const g of groupsOf(setup, r)) {
      rows.push([name, g.group, `${g.rateBps / 1e6} Mbit/s`, `${g.survivors} of ${g.peers.length}`, fixed(g.completionSeconds.p50), fixed(g.completionSeconds.max), fixed(g.floorSeconds), fixed(g.maxOverFloor), fixed(g.maxOverPayloadFloor)]);
    }
    if (setup.killPeers > 0) {
      const baseline = baselineOf(name, undisturbed);
      const versus = baseline
        ? `; survivors' max ${fixed(r.completionSeconds.max)} s = ${fixed(r.completionSeconds.max / baseline.completionSeconds.max)} x the undisturbed run's (${fixed(baseline.completionSeconds.max)} s${baseline.verified ? '' : ', NOT verified'})`
        : '';
      killedLines.push(
        r.killed.length === 0
          ? `  ${name}: nobody killed (the peers finished before they were ${((setup.killAt ?? 0) * 100).toFixed(0)}% along)`
          : `  ${name}: killed ${r.killed.map((k) => k.name).join(', ')} at ${fixed(r.killed[0]!.atSeconds)} s (${(r.killed[0]!.progress * 100).toFixed(0)}% along); survivors ${r.verified ? 'all done and verified' : `NOT all done/verified (${r.failures.length})`}${versus}`,
      );
    }
  }
  const table = formatTable(['system', 'peers', 'link', 'survivors', 'p50 s', 'max s', 'own floor s', 'max/floor', 'max/payload floor'], rows);
  return [table, ...killedLines].join('\n');
}

export function cpuTable(bySystem: ReadonlyMap<SystemName, readonly SystemResult[]>): string {
  const rows: string[][] = [];
  for (const [name, runs] of bySystem) {
    const r = representative(runs);
    for (const k of r.cpu.kinds) {
      rows.push([name, k.kind, String(k.processes), fixed(k.cpuSeconds), fixed(k.cpuSeconds / k.processes), `${(k.maxProcessCoreFraction * 100).toFixed(0)}%`]);
    }
    rows.push([name, '(this run, all kinds)', '-', fixed(r.cpu.ownBusyFraction * r.cpu.cores * r.wallSeconds), '-', `${(r.cpu.ownBusyFraction * 100).toFixed(0)}% of ${r.cpu.cores} cores`]);
    rows.push([name, '(whole machine)', '-', fixed(r.cpu.machineBusyFraction * r.cpu.cores * r.wallSeconds), '-', `${(r.cpu.machineBusyFraction * 100).toFixed(0)}% of ${r.cpu.cores} cores`]);
  }
  return formatTable(['system', 'process kind', 'processes', 'CPU s', 'CPU s each', 'busiest (of a core)'], rows);
}

export function targetsOf(setup: RunSetup, bySystem: Runs, undisturbed: Runs = NO_RUNS): Target[] {
  const p2p = bySystem.get('p2p');
  if (!p2p) return [];
  const r = representative(p2p);
  const cpuNote = r.cpu.cpuBound ? `CPU-bound: ${r.cpu.reason}` : undefined;
  const groups = groupsOf(setup, r);
  const targets = [checkTarget(`p2p outputs all verified${r.killed.length > 0 ? ` (the ${r.peerSeconds.length - r.killed.length} survivors)` : ''}`, r.verified ? 1 : 0, '>=', 1, r.failures[0])];
  if (setup.floors.slow) {
    for (const g of groups) {
      const want = g.group === 'fast' ? TARGETS.fastPeersMaxOverFloor : TARGETS.slowPeersMaxOverFloor;
      targets.push(checkTarget(`p2p ${g.group} peers' max / their floor`, g.maxOverFloor, '<=', want, cpuNote));
    }
  } else if (setup.floors.fast.boundBy === 'origin') {
    targets.push(checkTarget('p2p max completion / origin floor (size / origin rate)', r.completionSeconds.max / setup.floorSeconds, '<=', TARGETS.p2pMaxOverOriginFloor, cpuNote));
  } else {
    targets.push(checkTarget('p2p max completion / floor', r.completionSeconds.max / setup.floorSeconds, '<=', TARGETS.p2pMaxOverFloor, cpuNote));
  }
  const baseline = baselineOf('p2p', undisturbed);
  if (baseline && r.killed.length > 0) {
    targets.push(checkTarget('p2p survivors\' max / the undisturbed run\'s max', r.completionSeconds.max / baseline.completionSeconds.max, '<=', TARGETS.killedMaxOverUndisturbed, cpuNote));
  }
  // A killed peer's unfinished pieces may come from the origin again: egress is the undisturbed run's then.
  const egressRun = r.killed.length === 0 ? r : baseline;
  if (egressRun) targets.push(checkTarget(`p2p origin egress / file size${egressRun === r ? '' : ' (undisturbed run)'}`, egressRun.originEgressBytes / setup.sizeBytes, '<=', TARGETS.originEgressOverFile));
  const bt = bySystem.get('bittorrent');
  if (bt) {
    const b = representative(bt);
    targets.push(checkTarget('p2p max / bittorrent max (same run)', r.completionSeconds.max / b.completionSeconds.max, '<=', TARGETS.p2pMaxOverBittorrent));
    const ours = r.peerCpuPerGiB?.secondsPerGiB ?? Number.NaN;
    const theirs = b.peerCpuPerGiB?.secondsPerGiB ?? Number.NaN;
    targets.push(checkTarget('p2p daemon CPU per GiB moved / aria2c leecher\'s', ours / theirs, '<=', TARGETS.daemonCpuPerGiBOverLeecher));
  }
  return targets;
}

/** Writes results.json and chart.svg into `outDir`; returns their paths. */
export function writeOutputs(outDir: string, setup: RunSetup, bySystem: Runs, skipped: Readonly<Record<string, string>>, undisturbed: Runs = NO_RUNS): { json: string; chart: string } {
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, 'results.json');
  writeFileSync(json, `${JSON.stringify(resultsJson(setup, bySystem, skipped, undisturbed), null, 2)}\n`);
  const chart = join(outDir, 'chart.svg');
  const title = `${setup.peers} peers x ${(setup.sizeBytes / 2 ** 20).toFixed(0)} MiB at ${setup.rateText}: completion time CDF`;
  // Killed peers are not in the curve (it reaches 1 when every survivor is done); the label says so.
  const series: CdfSeries[] = [...bySystem].map(([name, runs]) => {
    const r = representative(runs);
    const killed = new Set(r.killed.map((k) => k.index));
    return { label: killed.size > 0 ? `${name} (${killed.size} killed)` : name, seconds: r.peerSeconds.filter((_, i) => !killed.has(i)) };
  });
  for (const [name, runs] of undisturbed) series.push({ label: `${name} undisturbed`, seconds: representative(runs).peerSeconds });
  writeFileSync(chart, cdfSvg(title, series, setup.floorSeconds));
  return { json, chart };
}

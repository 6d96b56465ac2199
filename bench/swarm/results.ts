/**
 * What a swarm run reports: tables for the console, the targets of the issue, and results.json:
 * `{ peers, sizeBytes, rate, floorSeconds, systems: { p2p, http, bittorrent } }`, each system
 * `{ completionSeconds: { p50, p95, max }, originEgressBytes, peerUploadBytes, verified }` (plus
 * CPU, per-peer times and every run's figures, for whoever digs deeper).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixed, formatTable } from '../lib/format.ts';
import { checkTarget, type Target } from '../lib/report.ts';
import { cdfSvg } from './chart.ts';
import type { SystemResult } from './measure.ts';
import type { SystemName } from './system.ts';

/** Targets of the issue (16 peers, 256 MiB, 100mbit everywhere). */
export const TARGETS = Object.freeze({ p2pMaxOverFloor: 1.25, p2pMaxOverBittorrent: 0.85, originEgressOverFile: 1.1 });

export interface RunSetup {
  readonly prefix: string;
  readonly peers: number;
  readonly sizeBytes: number;
  readonly rateText: string;
  readonly rateBps: number;
  readonly originRateBps: number;
  readonly floorSeconds: number;
  readonly pieceLengthBytes: number;
  readonly concurrentPieceCount: number | undefined;
  readonly timeoutMs: number;
}

/** The run of a system whose max completion is the median of its runs (the one reported). */
export function representative(runs: readonly SystemResult[]): SystemResult {
  const sorted = [...runs].sort((a, b) => a.completionSeconds.max - b.completionSeconds.max);
  return sorted[(sorted.length - 1) >> 1]!;
}

const finiteOrNull = (value: number) => (Number.isFinite(value) ? value : null);

function systemJson(result: SystemResult, runs: readonly SystemResult[]) {
  const c = result.completionSeconds;
  return {
    completionSeconds: { p50: finiteOrNull(c.p50), p95: finiteOrNull(c.p95), max: finiteOrNull(c.max) },
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
      completionSeconds: { p50: finiteOrNull(r.completionSeconds.p50), p95: finiteOrNull(r.completionSeconds.p95), max: finiteOrNull(r.completionSeconds.max) },
      originEgressBytes: r.originEgressBytes,
      verified: r.verified,
      cpuBound: r.cpu.cpuBound,
      machineBusyFraction: r.cpu.machineBusyFraction,
      loadBefore: r.loadBefore,
    })),
  };
}

export function resultsJson(setup: RunSetup, bySystem: ReadonlyMap<SystemName, readonly SystemResult[]>, skipped: Readonly<Record<string, string>>): object {
  const systems: Record<string, unknown> = {};
  for (const [name, runs] of bySystem) systems[name] = systemJson(representative(runs), runs);
  return {
    peers: setup.peers,
    sizeBytes: setup.sizeBytes,
    rate: setup.rateText,
    floorSeconds: setup.floorSeconds,
    systems,
    rateBps: setup.rateBps,
    originRateBps: setup.originRateBps,
    pieceLengthBytes: setup.pieceLengthBytes,
    concurrentPieceCount: setup.concurrentPieceCount ?? null,
    namespacePrefix: setup.prefix,
    timeoutSeconds: setup.timeoutMs / 1000,
    skipped,
  };
}

export function summaryTable(setup: RunSetup, bySystem: ReadonlyMap<SystemName, readonly SystemResult[]>): string {
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
      fixed(c.max / setup.floorSeconds),
      fixed(r.originEgressBytes / setup.sizeBytes, 3),
      fixed(r.seedHostEgressBytes / setup.sizeBytes),
      fixed(uploads / setup.sizeBytes),
      fixed(Math.max(0, ...r.peerUploadBytes) / setup.sizeBytes),
      `${(r.cpu.machineBusyFraction * 100).toFixed(0)}% (${(r.cpu.ownBusyFraction * 100).toFixed(0)}%)`,
      r.cpu.cpuBound ? 'CPU-BOUND' : 'no',
    ];
  });
  const header = ['system', 'verified', 'p50 s', 'p95 s', 'max s', 'max/floor', 'origin egress x file', 'seed host egress x file', 'peers upload x file', 'top peer x file', 'machine busy (own)', 'cpu-bound'];
  return `${formatTable(header, rows)}\nfloor: ${fixed(setup.floorSeconds)} s (${(setup.sizeBytes / 2 ** 20).toFixed(0)} MiB at ${setup.rateText} per peer); egress = bytes on the host's link (IP headers included)`;
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

export function targetsOf(setup: RunSetup, bySystem: ReadonlyMap<SystemName, readonly SystemResult[]>): Target[] {
  const p2p = bySystem.get('p2p');
  if (!p2p) return [];
  const r = representative(p2p);
  const targets = [
    checkTarget('p2p outputs all verified', r.verified ? 1 : 0, '>=', 1, r.failures[0]),
    checkTarget('p2p max completion / floor', r.completionSeconds.max / setup.floorSeconds, '<=', TARGETS.p2pMaxOverFloor, r.cpu.cpuBound ? `CPU-bound: ${r.cpu.reason}` : undefined),
    checkTarget('p2p origin egress / file size', r.originEgressBytes / setup.sizeBytes, '<=', TARGETS.originEgressOverFile),
  ];
  const bt = bySystem.get('bittorrent');
  if (bt) {
    const b = representative(bt);
    targets.push(checkTarget('p2p max / bittorrent max (same run)', r.completionSeconds.max / b.completionSeconds.max, '<=', TARGETS.p2pMaxOverBittorrent));
  }
  return targets;
}

/** Writes results.json and chart.svg into `outDir`; returns their paths. */
export function writeOutputs(outDir: string, setup: RunSetup, bySystem: ReadonlyMap<SystemName, readonly SystemResult[]>, skipped: Readonly<Record<string, string>>): { json: string; chart: string } {
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, 'results.json');
  writeFileSync(json, `${JSON.stringify(resultsJson(setup, bySystem, skipped), null, 2)}\n`);
  const chart = join(outDir, 'chart.svg');
  const title = `${setup.peers} peers x ${(setup.sizeBytes / 2 ** 20).toFixed(0)} MiB at ${setup.rateText}: completion time CDF`;
  const series = [...bySystem].map(([name, runs]) => ({ label: name, seconds: representative(runs).peerSeconds }));
  writeFileSync(chart, cdfSvg(title, series, setup.floorSeconds));
  return { json, chart };
}

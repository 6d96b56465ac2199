/**
 * `npm run bench:swarm -- [--peers N] [--size 256MiB] [--rate 100mbit] [--origin-rate RATE]
 * [--piece-length L] [--systems p2p,http,bittorrent] [--runs K] [--out DIR]`: the swarm benchmark
 * on simulated hosts (see bench/README.md). Needs root; without it, says so and exits 2.
 * Exit 1 when a system could not run at all (its error is printed); missed targets are reported,
 * not fatal.
 */
import { fixed, loud } from '../lib/format.ts';
import { installInterruptHandlers, runCleanup } from '../lib/cleanup.ts';
import { argsOrExit, parseSwarmArgs, SWARM_USAGE } from './args.ts';
import { bittorrentSystem } from './bittorrent.ts';
import { httpSystem } from './http.ts';
import { measureSystem, type SystemResult } from './measure.ts';
import { p2pSystem } from './p2p.ts';
import { cpuTable, summaryTable, targetsOf, writeOutputs, type RunSetup } from './results.ts';
import { missingTools, openSession } from './session.ts';
import type { SwarmSystem, SystemName } from './system.ts';

const SYSTEM_RUNNERS: Readonly<Record<SystemName, SwarmSystem>> = { p2p: p2pSystem, http: httpSystem, bittorrent: bittorrentSystem };
const SETUP_ALLOWANCE_MS = 10 * 60_000;

const log = (message: string) => console.error(`swarm: ${message}`);

async function main(argv: readonly string[]): Promise<number> {
  const args = argsOrExit('bench:swarm', argv, parseSwarmArgs, SWARM_USAGE);
  if (typeof args === 'number') return args;
  const skipped: Record<string, string> = {};
  const systems: SwarmSystem[] = [];
  for (const name of args.systems) {
    const missing = missingTools(SYSTEM_RUNNERS[name]);
    if (missing.length > 0) {
      skipped[name] = `SKIPPED: missing ${missing.join(', ')}`;
      console.error(loud(`${name} ${skipped[name]}`));
    } else {
      systems.push(SYSTEM_RUNNERS[name]);
    }
  }
  const controller = new AbortController();
  // The overall bound: every system run at its own hard timeout, plus set-up.
  const slowestBps = Math.min(args.rateBps, args.originRateBps, args.slowRateBps ?? args.rateBps);
  const perRunMs = args.timeoutMs ?? 60_000 + 1.5 * args.peers * ((args.sizeBytes * 8) / slowestBps) * 1000;
  // A run that kills peers is preceded by an undisturbed one of the same system: twice the runs.
  const launches = systems.length * args.runs * (args.killPeers > 0 ? 2 : 1);
  const removeHandlers = installInterruptHandlers(controller, SETUP_ALLOWANCE_MS + launches * (perRunMs + 120_000));
  let failed = false;
  try {
    const session = await openSession(args, controller.signal, log);
    const bySystem = new Map<SystemName, SystemResult[]>();
    const undisturbed = new Map<SystemName, SystemResult[]>();
    const knobs = { pieceLengthBytes: args.pieceLengthBytes, concurrentPieceCount: args.concurrentPieceCount, relay: args.relay, keepAlive: args.keepAlive, stripes: args.stripes, mtls: args.mtls };
    for (let run = 1; run <= args.runs; run++) {
      for (const system of systems) {
        if (skipped[system.name]) continue;
        try {
          if (args.killPeers > 0) {
            const baseline = await measureSystem(system, session.contextFor(system.name, run, knobs, { undisturbed: true }));
            undisturbed.set(system.name, [...(undisturbed.get(system.name) ?? []), baseline]);
            log(`${system.name} run ${run}, undisturbed: max ${fixed(baseline.completionSeconds.max)} s, verified ${baseline.verified}; now the same with ${args.killPeers} killed`);
          }
          const result = await measureSystem(system, session.contextFor(system.name, run, knobs));
          bySystem.set(system.name, [...(bySystem.get(system.name) ?? []), result]);
          const c = result.completionSeconds;
          const killed = result.killed.length > 0 ? `, killed ${result.killed.map((k) => k.name).join(' ')} (survivors:)` : '';
          log(`${system.name} run ${run}: p50 ${fixed(c.p50)} s, max ${fixed(c.max)} s (${fixed(c.max / session.floorSeconds)} x floor, ${fixed(c.max / session.floors.fast.payloadSeconds)} x payload floor), origin egress ${fixed(result.originEgressBytes / args.sizeBytes, 3)} x file${killed}, verified ${result.verified}, peer CPU ${fixed(result.peerCpuPerGiB?.secondsPerGiB)} s/GiB moved${result.cpu.cpuBound ? `, CPU-BOUND (${result.cpu.reason})` : ''}`);
          for (const failure of result.failures.slice(0, 3)) log(`  ${failure}`);
        } catch (error) {
          if (controller.signal.aborted) throw controller.signal.reason;
          failed = true;
          skipped[system.name] = `FAILED: ${(error as Error).message}`;
          console.error(loud(`${system.name} FAILED: ${(error as Error).message}`));
        }
      }
    }
    const setup: RunSetup = {
      prefix: session.topology.prefix,
      peers: args.peers,
      sizeBytes: args.sizeBytes,
      rateText: args.rateText,
      rateBps: args.rateBps,
      originRateBps: args.originRateBps,
      floorSeconds: session.floorSeconds,
      floors: session.floors,
      slowPeers: args.slowPeers,
      slowRateBps: args.slowRateBps,
      killPeers: args.killPeers,
      killAt: args.killPeers > 0 ? args.killAt : undefined,
      pieceLengthBytes: session.contextFor('p2p', 0, knobs).pieceLengthBytes,
      concurrentPieceCount: args.concurrentPieceCount,
      relay: args.relay,
      keepAlive: args.keepAlive,
      stripes: args.stripes,
      mtls: args.mtls,
      timeoutMs: session.timeoutMs,
    };
    await session.close();
    const slow = args.slowPeers > 0 ? `, ${args.slowPeers} slow at ${(args.slowRateBps ?? 0) / 1e6} Mbit/s` : '';
    const kill = args.killPeers > 0 ? `, ${args.killPeers} killed at ${(args.killAt * 100).toFixed(0)}%` : '';
    console.log(`\n== swarm: ${args.peers} peers x ${(args.sizeBytes / 2 ** 20).toFixed(0)} MiB, ${args.rateText} per link${args.originRateBps !== args.rateBps ? ` (origin ${args.originRateBps / 1e6} Mbit/s)` : ''}${slow}${kill}${args.relay ? ', daemons relay (download.relay)' : ''}${args.keepAlive === false ? ', a connection per piece (download.keepAlive false)' : ''}${args.stripes !== undefined ? `, scheduler.stripes ${args.stripes}` : ''}${args.mtls ? ', mutual TLS on every link' : ''}\n`);
    if (bySystem.size > 0) {
      console.log(summaryTable(setup, bySystem, undisturbed));
      console.log(`\nCPU per process kind (over the launch)\n${cpuTable(bySystem)}`);
      for (const [name, runs] of bySystem) {
        for (const r of runs) if (r.cpu.cpuBound) console.log(loud(`${name}: CPU-BOUND run: ${r.cpu.reason}; its times measure this machine, not the links`));
      }
      const p2p = bySystem.get('p2p')?.at(-1)?.details;
      const started = p2p?.['downloadsStartedSeconds'] as { first: number; last: number } | null | undefined;
      if (started) console.log(`\n  p2p: the daemons began downloading ${fixed(started.first)}-${fixed(started.last)} s after the launch (dfget start-up: ${args.peers} Node processes at once on this machine)`);
      if (p2p) console.log(`  p2p: peers whose first parents were the seed alone (a star): ${String(p2p['seedOnlyFirstRounds'])} of ${args.peers}`);
      for (const [name, runs] of bySystem) console.log(`  ${name}: 1-minute load average before each run: ${runs.map((r) => fixed(r.loadBefore)).join(', ')}`);
      for (const t of targetsOf(setup, bySystem, undisturbed)) {
        console.log(`  target ${t.met ? 'MET   ' : 'MISSED'} ${t.name}: ${fixed(t.value)} (want ${t.comparison} ${t.target})${t.note ? ` - ${t.note}` : ''}`);
      }
    }
    for (const [name, reason] of Object.entries(skipped)) console.log(loud(`${name}: ${reason}`));
    const { json, chart } = writeOutputs(args.outDir, setup, bySystem, skipped, undisturbed);
    console.log(`\nresults: ${json}\nchart:   ${chart}`);
    return failed || bySystem.size === 0 ? 1 : 0;
  } finally {
    removeHandlers();
    await runCleanup();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (error: unknown) => {
    console.error(`bench:swarm: ${(error as Error).message ?? error}`);
    await runCleanup();
    process.exit(1);
  },
);

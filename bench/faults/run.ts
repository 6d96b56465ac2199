/**
 * `npm run bench:faults -- [--peers 16] [--size 128MiB] [--faults a,b,c] ...`: the fault matrix on
 * the swarm bench's simulated hosts (see bench/README.md, "Faults"). One set of hosts and one file
 * for every cell; an undisturbed run first, then one run per fault. Needs root; without it, says
 * so and exits 2. Exit 1 when a cell could not run at all; missed targets are reported, not fatal.
 */
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { installInterruptHandlers, runCleanup } from '../lib/cleanup.ts';
import { fixed, loud } from '../lib/format.ts';
import { argsOrExit } from '../swarm/args.ts';
import { listNetns } from '../swarm/netns.ts';
import { p2pSystem } from '../swarm/p2p.ts';
import { missingTools, openSession } from '../swarm/session.ts';
import type { P2pKnobs } from '../swarm/system.ts';
import { FAULTS_USAGE, parseFaultsArgs } from './args.ts';
import { runCell, type CellResult } from './cell.ts';
import { faultNamed } from './faults.ts';
import { cellTable, targetsOf, writeFaultsJson, type CellOutcome } from './report.ts';

const SETUP_ALLOWANCE_MS = 10 * 60_000;
/** The swarm's p2p system with the daemons' and dfget's defaults. */
const KNOBS: P2pKnobs = { pieceLengthBytes: undefined, concurrentPieceCount: undefined, relay: false, keepAlive: undefined, stripes: undefined };

const log = (message: string) => console.error(`faults: ${message}`);

async function main(argv: readonly string[]): Promise<number> {
  const args = argsOrExit('bench:faults', argv, parseFaultsArgs, FAULTS_USAGE);
  if (typeof args === 'number') return args;
  const missing = missingTools(p2pSystem);
  if (missing.length > 0) {
    console.error(`bench:faults: missing ${missing.join(', ')}`);
    return 2;
  }
  const controller = new AbortController();
  const perCellMs = args.timeoutMs ?? 60_000 + 1.5 * args.peers * ((args.sizeBytes * 8) / Math.min(args.rateBps, args.originRateBps)) * 1000;
  const removeHandlers = installInterruptHandlers(controller, SETUP_ALLOWANCE_MS + (args.faults.length + 1) * (perCellMs + 180_000));
  const options = { atFraction: args.atFraction, faultMs: args.faultMs, restartAfterMs: args.restartAfterMs, netem: args.netem };
  const outcomes: CellOutcome[] = [];
  let undisturbed: CellResult | undefined;
  let failed = false;
  const leftAtEnd: string[] = [];
  try {
    const session = await openSession({ peers: args.peers, sizeBytes: args.sizeBytes, rateBps: args.rateBps, originRateBps: args.originRateBps, timeoutMs: args.timeoutMs }, controller.signal, log);
    const workBase = dirname(session.contextFor('p2p', 0, KNOBS).workDir);
    try {
      undisturbed = await runCell(undefined, session.contextFor('p2p', 0, KNOBS, { undisturbed: true }), options);
      log(`undisturbed: max ${fixed(undisturbed.maxSeconds)} s, ${undisturbed.survivors.done}/${undisturbed.survivors.total} done`);
      if (undisturbed.survivors.done < undisturbed.survivors.total) console.error(loud('the undisturbed run did not finish on every peer: the ratios below mean little'));
      for (const [i, name] of args.faults.entries()) {
        const spec = faultNamed(name)!;
        const unavailable = spec.unavailable?.();
        if (unavailable) {
          outcomes.push({ fault: name, skipped: unavailable });
          console.error(loud(`${name} SKIPPED: ${unavailable}`));
          continue;
        }
        try {
          const result = await runCell(spec, session.contextFor('p2p', i + 1, KNOBS, { undisturbed: true }), options);
          outcomes.push({ fault: name, result, spec });
          const missed = targetsOf(spec, result, undisturbed).filter((t) => !t.met);
          log(`${name}: ${result.survivors.done}/${result.survivors.total} survivors done, max ${fixed(result.maxSeconds)} s (${fixed(result.maxSeconds / undisturbed.maxSeconds)} x undisturbed)${missed.length ? `; MISSED: ${missed.map((t) => t.name).join(', ')}` : ''}`);
        } catch (error) {
          if (controller.signal.aborted) throw controller.signal.reason;
          failed = true;
          outcomes.push({ fault: name, error: (error as Error).message });
          console.error(loud(`${name} FAILED: ${(error as Error).message}`));
        }
      }
    } finally {
      await session.close();
    }
    leftAtEnd.push(...listNetns().filter((ns) => ns.startsWith(session.topology.prefix)).map((ns) => `namespace ${ns}`));
    if (existsSync(workBase)) leftAtEnd.push(`temp dir ${workBase}`);
    leftAtEnd.push(...readdirSync(tmpdir()).filter((name) => name.startsWith(`df-bench-rss-${process.pid}-`)).map((name) => `temp file ${name}`));
    const setup = { peers: args.peers, sizeBytes: args.sizeBytes, rate: args.rateText, rateBps: args.rateBps, originRateBps: args.originRateBps, floorSeconds: session.floorSeconds, namespacePrefix: session.topology.prefix, timeoutSeconds: session.timeoutMs / 1000, options };
    console.log(`\n== faults: ${args.peers} peers x ${(args.sizeBytes / 2 ** 20).toFixed(0)} MiB, ${args.rateText} per link, floor ${fixed(session.floorSeconds)} s\n`);
    console.log(cellTable(undisturbed, outcomes, args.sizeBytes));
    for (const outcome of outcomes) {
      if (!('result' in outcome)) continue;
      console.log(`\n  ${outcome.fault}: ${outcome.spec.summary}`);
      for (const e of outcome.result.events) console.log(`    ${fixed(e.seconds)} s  ${e.what}`);
      for (const c of outcome.result.checks) console.log(`    check ${c.ok ? 'ok    ' : 'FAILED'} ${c.name}: ${c.detail}`);
      for (const t of targetsOf(outcome.spec, outcome.result, undisturbed)) if (!t.met) console.log(`    target MISSED ${t.name}: ${fixed(t.value)} (want ${t.comparison} ${t.target})${t.note ? ` - ${t.note}` : ''}`);
    }
    console.log(`\n  left at the end (namespaces ${session.topology.prefix}*, the work dir, temp files): ${leftAtEnd.length === 0 ? 'nothing' : leftAtEnd.join('; ')}`);
    console.log(`\nresults: ${writeFaultsJson(args.outDir, setup, undisturbed, outcomes, leftAtEnd)}`);
    return failed ? 1 : 0;
  } finally {
    removeHandlers();
    await runCleanup();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (error: unknown) => {
    console.error(`bench:faults: ${(error as Error).message ?? error}`);
    await runCleanup();
    process.exit(1);
  },
);

/**
 * `npm run bench:soak -- --duration 20m`: a dfdaemon with a dfscheduler and a seed under a steady
 * mix (dfget downloads of varied sizes, registry mirror pulls, dfgets killed mid-download, storage
 * GC evicting tasks) on loopback; RSS, fds and store bytes sampled throughout; growth per hour after
 * the warm-up and unexplained error log lines reported against the issue's targets. Bounded by the
 * duration plus a margin; every process started is stopped by PID and the temp dir removed, also on
 * error and Ctrl-C. Writes bench/results/soak-<time>/results.json and chart.svg.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { loadAddon } from '../../addon/index.ts';
import { fixed, loud } from '../lib/format.ts';
import { runBenchScript } from '../lib/main.ts';
import { attempt, printReport } from '../lib/report.ts';
import { parseSoakArgs, SOAK_USAGE, type SoakArgs } from './args.ts';
import { soakSvg } from './chart.ts';
import { buildReport, chartPanels, TITLE } from './results.ts';
import { runSoak } from './soak.ts';

/** On top of the duration: set-up (files, registry, three servers), the drain (DRAIN_MS at most) and shutdown. */
const MARGIN_MS = 6 * 60_000;

async function main(args: SoakArgs, signal: AbortSignal): Promise<number> {
  const started = new Date();
  const loadBefore = loadavg()[0]!;
  console.log(
    `bench:soak: ${started.toISOString()}, ${args.durationMs / 1000} s, ${availableParallelism()} cpus (${cpus()[0]?.model ?? '?'}), node ${process.version}, addon ${loadAddon().kind}, load ${fixed(loadBefore)}`,
  );
  if (loadBefore > availableParallelism() / 2) console.log(loud(`machine already busy (1-min load ${fixed(loadBefore)}): RSS and timing figures will be noisy`));
  const outDir = join(args.outDir, `soak-${started.toISOString().replace(/[:.]/g, '-')}`);
  let chart: string | undefined;
  const report = await attempt(
    TITLE,
    async () => {
      const run = await runSoak(args, (message) => console.error(`bench:soak: ${message}`), signal);
      chart = soakSvg(`soak ${args.durationMs / 60_000} min: dfdaemon under test (peer) and seed`, chartPanels(run), run.loadSeconds, args.warmupMs / 1000);
      return buildReport(run, args);
    },
    signal,
  );
  printReport(report);
  const loadAfter = loadavg()[0]!;
  const missed = report.targets.filter((t) => !t.met);
  console.log(`\nbench:soak: load average ${fixed(loadBefore)} before, ${fixed(loadAfter)} after`);
  console.log(`bench:soak: ${report.targets.length - missed.length}/${report.targets.length} targets met${missed.length ? `; MISSED: ${missed.map((t) => t.name).join('; ')}` : ''}`);
  mkdirSync(outDir, { recursive: true });
  const record = {
    startedAt: started.toISOString(),
    durationSeconds: (Date.now() - started.getTime()) / 1000,
    command: ['npm run bench:soak', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version, addon: loadAddon().kind },
    loadAverage: { before: loadBefore, after: loadAfter },
    args,
    parts: [{ title: report.title, skipped: report.skipped, targets: report.targets, notes: report.notes, data: report.data }],
  };
  writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(record, null, 2)}\n`);
  if (chart) writeFileSync(join(outDir, 'chart.svg'), chart);
  console.log(`bench:soak: results written to ${join(outDir, 'results.json')}${chart ? ' and chart.svg' : ''}`);
  if (report.skipped) console.error(loud(`${report.title}: ${report.skipped}`));
  return report.skipped ? 1 : 0;
}

await runBenchScript({
  name: 'bench:soak',
  usage: SOAK_USAGE,
  // The deadline needs the duration: the arguments are parsed once more for it.
  deadlineMs: deadlineOf(process.argv.slice(2)),
  parse: parseSoakArgs,
  main,
});

function deadlineOf(argv: readonly string[]): number {
  try {
    return parseSoakArgs(argv).durationMs + MARGIN_MS;
  } catch {
    return MARGIN_MS; // A bad argument: runBenchScript reports it and exits before the deadline matters.
  }
}

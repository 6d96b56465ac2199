/**
 * `npm run bench:mirror`: dfdaemon's registry mirror against a real docker-registry: how much of
 * an image the registry still sends when a second node pulls it, and the time to a blob's first
 * byte through the mirror against straight from the registry; with `--concurrent N`, N blob GETs
 * at once instead (concurrent.ts). Bounded in time; every process
 * started is stopped by PID and every temp dir removed, also on error and Ctrl-C. Prints tables and
 * writes bench/results/mirror-<timestamp>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { loadAddon } from '../../addon/index.ts';
import { runBenchScript } from '../lib/main.ts';
import { fixed, loud } from '../lib/format.ts';
import { attempt, printReport } from '../lib/report.ts';
import { MIRROR_USAGE, parseMirrorArgs, type MirrorArgs } from './args.ts';
import { benchConcurrent } from './concurrent.ts';
import { benchMirror } from './mirror.ts';

/** 210 MiB pulled three times plus 3 x 5 first-byte samples, each with its own daemon: about a minute on 2 cores. */
const DEADLINE_MS = 10 * 60_000;

async function main(args: MirrorArgs, signal: AbortSignal): Promise<number> {
  const started = new Date();
  const loadBefore = loadavg()[0]!;
  console.log(
    `bench:mirror: ${started.toISOString()}, ${availableParallelism()} cpus (${cpus()[0]?.model ?? '?'}), node ${process.version}, addon ${loadAddon().kind}, load ${fixed(loadBefore)}`,
  );
  if (loadBefore > availableParallelism() / 2) console.log(loud(`machine already busy (1-min load ${fixed(loadBefore)}): figures will be noisy`));
  const report = await attempt('registry mirror', () => (args.concurrent > 0 ? benchConcurrent(args, signal) : benchMirror(args, signal)), signal);
  printReport(report);
  const loadAfter = loadavg()[0]!;
  const missed = report.targets.filter((t) => !t.met);
  console.log(`\nbench:mirror: load average ${fixed(loadBefore)} before, ${fixed(loadAfter)} after`);
  console.log(`bench:mirror: ${report.targets.length - missed.length}/${report.targets.length} targets met${missed.length ? `; MISSED: ${missed.map((t) => t.name).join('; ')}` : ''}`);
  mkdirSync(args.outDir, { recursive: true });
  const file = join(args.outDir, `mirror-${args.concurrent > 0 ? 'concurrent-' : ''}${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const record = {
    startedAt: started.toISOString(),
    durationSeconds: (Date.now() - started.getTime()) / 1000,
    command: ['npm run bench:mirror', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version, addon: loadAddon().kind },
    loadAverage: { before: loadBefore, after: loadAfter },
    args,
    parts: [{ title: report.title, skipped: report.skipped, targets: report.targets, notes: report.notes, data: report.data }],
  };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`bench:mirror: results written to ${file}`);
  if (report.skipped) console.error(loud(`${report.title}: ${report.skipped}`));
  return report.skipped ? 1 : 0;
}

await runBenchScript({ name: 'bench:mirror', usage: MIRROR_USAGE, deadlineMs: DEADLINE_MS, parse: parseMirrorArgs, main });

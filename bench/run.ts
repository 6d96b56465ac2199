/**
 * `npm run bench`: micro benchmarks (digests, pool hashing) then the macro download comparison,
 * in one process tree, bounded in time; everything started is killed and removed at the end, on
 * error and on Ctrl-C. Prints tables and writes bench/results/<timestamp>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { loadAddon } from '../addon/index.ts';
import { parseBenchArgs, BENCH_USAGE, type BenchArgs } from './lib/args.ts';
import { runBenchScript } from './lib/main.ts';
import { fixed, loud } from './lib/format.ts';
import { attempt, printReport, type Report } from './lib/report.ts';
import { benchDownloads } from './macro/download.ts';
import { benchDigests } from './micro/digests.ts';
import { benchPoolHash } from './micro/pool-hash.ts';

/** The whole run's bound; a 1 GiB, 3-run bench takes a few minutes on 2 cores. */
const DEADLINE_MS = 20 * 60_000;

async function main(args: BenchArgs, signal: AbortSignal): Promise<number> {
  const sections: Report[] = [];
  const started = new Date();
  const loadBefore = loadavg()[0]!;
  console.log(`bench: ${started.toISOString()}, ${availableParallelism()} cpus (${cpus()[0]?.model ?? '?'}), node ${process.version}, addon ${loadAddon().kind}, load ${fixed(loadBefore)}`);
  if (loadBefore > availableParallelism() / 2) console.log(loud(`machine already busy (1-min load ${fixed(loadBefore)}): figures will be noisy`));
  if (args.only !== 'macro') {
    console.error('bench: micro digests...');
    sections.push(await attempt('micro: digests', () => benchDigests(signal), signal));
    printReport(sections.at(-1)!);
    console.error('bench: micro pool hashing...');
    sections.push(await attempt('micro: pool hashing', () => benchPoolHash(args.sizeBytes, args.runs, signal), signal));
    printReport(sections.at(-1)!);
  }
  if (args.only !== 'micro') {
    console.error('bench: macro downloads...');
    sections.push(await attempt('macro: downloads', () => benchDownloads(args.sizeBytes, args.runs, signal), signal));
    printReport(sections.at(-1)!);
  }
  const targets = sections.flatMap((s) => s.targets);
  const missed = targets.filter((t) => !t.met);
  console.log(`\nbench: load average ${fixed(loadBefore)} before, ${fixed(loadavg()[0])} after`);
  console.log(`bench: ${targets.length - missed.length}/${targets.length} targets met${missed.length ? `; MISSED: ${missed.map((t) => t.name).join('; ')}` : ''}`);
  mkdirSync(args.outDir, { recursive: true });
  const file = join(args.outDir, `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const record = {
    startedAt: started.toISOString(),
    durationSeconds: (Date.now() - started.getTime()) / 1000,
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model, node: process.version, addon: loadAddon().kind },
    loadAverage: { before: loadBefore, after: loadavg()[0] },
    args,
    sections: sections.map(({ title, skipped, targets: checks, data }) => ({ title, skipped, targets: checks, data })),
  };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`bench: results written to ${file}`);
  const skipped = sections.filter((s) => s.skipped);
  for (const s of skipped) console.error(loud(`${s.title}: ${s.skipped}`));
  return sections.length > 0 && skipped.length === sections.length ? 1 : 0;
}

await runBenchScript({ name: 'bench', usage: BENCH_USAGE, deadlineMs: DEADLINE_MS, parse: parseBenchArgs, main });

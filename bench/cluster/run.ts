/**
 * `npm run bench:cluster`: (1) a swarm on loopback, nginx origin + dfscheduler + seed + N dfdaemons,
 * every peer downloading the same file at once; (2) the CPU a dfdaemon's piece server spends per
 * GiB served, against nginx with sendfile. Bounded in time; every process started is stopped by
 * PID and every temp dir removed, also on error and Ctrl-C. Prints tables and writes
 * bench/results/cluster-<timestamp>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { loadAddon } from '../../addon/index.ts';
import { runBenchScript } from '../lib/main.ts';
import { fixed, loud } from '../lib/format.ts';
import { CLUSTER_USAGE, parseClusterArgs, type ClusterArgs } from './args.ts';
import { attempt, printReport, type Report } from '../lib/report.ts';
import { benchServe } from './serve.ts';
import { benchSwarm } from './swarm.ts';

/** The whole run's bound: 512 MiB x 8 peers plus 3 x 2 transfers of 1 GiB take a few minutes on 2 cores. */
const DEADLINE_MS = 10 * 60_000;

async function main(args: ClusterArgs, signal: AbortSignal): Promise<number> {
  const parts: Report[] = [];
  const started = new Date();
  const loadBefore = loadavg()[0]!;
  console.log(
    `bench:cluster: ${started.toISOString()}, ${availableParallelism()} cpus (${cpus()[0]?.model ?? '?'}), node ${process.version}, addon ${loadAddon().kind}, load ${fixed(loadBefore)}`,
  );
  if (loadBefore > availableParallelism() / 2) console.log(loud(`machine already busy (1-min load ${fixed(loadBefore)}): figures will be noisy`));
  if (args.only !== 'serve') {
    console.error('bench:cluster: swarm...');
    parts.push(await attempt('swarm', () => benchSwarm(args, signal), signal));
    printReport(parts.at(-1)!);
  }
  if (args.only !== 'swarm') {
    console.error('bench:cluster: piece server vs nginx...');
    parts.push(await attempt('piece server CPU vs nginx', () => benchServe(args, signal), signal));
    printReport(parts.at(-1)!);
  }
  const targets = parts.flatMap((p) => p.targets);
  const missed = targets.filter((t) => !t.met);
  const loadAfter = loadavg()[0]!;
  console.log(`\nbench:cluster: load average ${fixed(loadBefore)} before, ${fixed(loadAfter)} after`);
  console.log(`bench:cluster: ${targets.length - missed.length}/${targets.length} targets met${missed.length ? `; MISSED: ${missed.map((t) => t.name).join('; ')}` : ''}`);
  mkdirSync(args.outDir, { recursive: true });
  const file = join(args.outDir, `cluster-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  const record = {
    startedAt: started.toISOString(),
    durationSeconds: (Date.now() - started.getTime()) / 1000,
    command: ['npm run bench:cluster', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model, memoryBytes: totalmem(), node: process.version, addon: loadAddon().kind },
    loadAverage: { before: loadBefore, after: loadAfter },
    args,
    parts: parts.map(({ title, skipped, targets: checks, notes, data }) => ({ title, skipped, targets: checks, notes, data })),
  };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  console.log(`bench:cluster: results written to ${file}`);
  const skipped = parts.filter((p) => p.skipped);
  for (const p of skipped) console.error(loud(`${p.title}: ${p.skipped}`));
  return parts.length > 0 && skipped.length === parts.length ? 1 : 0;
}

await runBenchScript({ name: 'bench:cluster', usage: CLUSTER_USAGE, deadlineMs: DEADLINE_MS, parse: parseClusterArgs, main });

/**
 * Part 1, the swarm on loopback: a private nginx origin serving a random file, a real dfscheduler,
 * one seed dfdaemon and N dfdaemons; then `dfget URL -O OUT --endpoint SOCK --no-progress` on every
 * peer at once. Measured: wall time to the last dfget exit, each peer's completion, what the
 * origin sent (nginx access log) as a multiple of the file, each daemon's bytes by source and
 * uploaded (its /metrics), CPU and peak RSS of every process; every output's sha256 is checked.
 */
import { chmodSync, closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { addon } from '../../addon/index.ts';
import { makeTempDir } from '../lib/cleanup.ts';
import { sha256Of, writeRandomFile } from '../lib/files.ts';
import { fixed, MB, median } from '../lib/format.ts';
import { findExecutable, peakRssMethod, runMeasured, type MeasuredRun } from '../lib/spawn.ts';
import type { ClusterArgs } from './args.ts';
import { startCluster, trafficOf, type BenchCluster, type BenchDaemon, type DaemonTraffic } from './cluster.ts';
import { dfgetEntry } from './dfget.ts';
import { accessLogSize, readAccessLog, startLoggedNginx, type LoggedOrigin } from './origin.ts';
import { cpuSecondsOf, cpuSecondsOfAll, peakRssOf } from './proc.ts';
import { checkTarget, skippedReport, type Report, type Table, type Target } from '../lib/report.ts';

const TITLE = 'swarm: seed + peers downloading one file at once (loopback)';
const FILE_NAME = 'data.bin';
const MiB = 1 << 20;
const ORIGIN_TARGET = 1.05;

interface PeerResult {
  readonly name: string;
  readonly seed: boolean;
  /** Seconds from the common start to its dfget's exit (seed: to its "download finished" log line). */
  readonly doneSeconds: number | undefined;
  readonly dfget: MeasuredRun | undefined;
  readonly error: string | undefined;
  readonly traffic: DaemonTraffic;
  readonly daemonCpuSeconds: number;
  readonly daemonPeakRssBytes: number;
  readonly sha256Ok: boolean | undefined;
  /** Scheduling events from its log: rounds that found no new pieces, and back-to-source answers. */
  readonly reschedules: number;
  readonly backToSource: number;
}

/** How one dfget ended. */
interface Outcome {
  readonly result: MeasuredRun | undefined;
  readonly doneSeconds: number | undefined;
  readonly error: string | undefined;
}

interface RunResult {
  readonly run: number;
  readonly wallSeconds: number;
  readonly originBytes: number;
  readonly originRequests: number;
  readonly originMultiple: number;
  readonly schedulerCpuSeconds: number;
  readonly nginxCpuSeconds: number;
  readonly loadBefore: number;
  readonly loadAfter: number;
  readonly daemons: readonly PeerResult[];
}

/** Per-dfget timeout: every peer's bytes at 20 MB/s through two shared cores, plus start-up. */
function downloadTimeoutMs(args: ClusterArgs): number {
  return 60_000 + Math.ceil((args.peers * args.sizeBytes) / (20 * MB)) * 1000;
}

/** Runs `tasks` at most `limit` at a time, results in order. */
async function limited<T>(limit: number, tasks: readonly (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

function finishedAtSeconds(daemon: BenchDaemon, startedAtMs: number): number | undefined {
  const line = daemon.proc.lines.find((l) => l.msg === 'download finished');
  const time = line ? Date.parse(String(line['time'])) : Number.NaN;
  return Number.isFinite(time) ? (time - startedAtMs) / 1000 : undefined;
}

async function swarmOnce(
  run: number,
  cluster: BenchCluster,
  origin: LoggedOrigin,
  url: string,
  sha256: string,
  outDir: string,
  cacheHome: string,
  args: ClusterArgs,
  signal: AbortSignal,
): Promise<RunResult> {
  const loadBefore = loadavg()[0]!;
  const logFrom = accessLogSize(origin.accessLog);
  const cpuBefore = new Map(cluster.daemons.map((d) => [d.name, cpuSecondsOf(d.proc.pid)]));
  const schedulerCpuBefore = cpuSecondsOf(cluster.scheduler!.proc.pid);
  const nginxCpuBefore = cpuSecondsOfAll(origin.workerPids());
  const entry = dfgetEntry();
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: cacheHome, NODE_OPTIONS: '' };
  delete env['DF_NO_ADDON'];
  const startedAtMs = Date.now();
  const started = performance.now();
  const settled = await Promise.allSettled(
    cluster.peers.map(async (peer) => {
      const output = join(outDir, `${peer.name}.bin`);
      const result = await runMeasured(process.execPath, [entry, url, '-O', output, '--endpoint', peer.socketPath, '--no-progress'], {
        env,
        timeoutMs: downloadTimeoutMs(args),
        signal,
      });
      return { result, doneSeconds: (performance.now() - started) / 1000 };
    }),
  );
  const wallSeconds = (performance.now() - started) / 1000;
  signal.throwIfAborted();
  const schedulerCpuSeconds = cpuSecondsOf(cluster.scheduler!.proc.pid) - schedulerCpuBefore;
  const nginxCpuSeconds = cpuSecondsOfAll(origin.workerPids()) - nginxCpuBefore;
  const entries = readAccessLog(origin.accessLog, logFrom).filter((e) => e.method === 'GET' && e.path === `/${FILE_NAME}`);
  const originBytes = entries.reduce((sum, e) => sum + e.bodyBytes, 0);

  const outcomes = new Map<string, Outcome>(
    cluster.peers.map((peer, i): [string, Outcome] => {
      const s = settled[i]!;
      if (s.status === 'rejected') return [peer.name, { result: undefined, doneSeconds: undefined, error: (s.reason as Error).message }];
      const { result, doneSeconds } = s.value;
      const error = result.exitCode === 0 ? undefined : `dfget exited with ${result.exitCode ?? result.signal}: ${result.stderr.trim().slice(-500)}`;
      return [peer.name, { result, doneSeconds, error }];
    }),
  );
  console.error(`  run ${run}: every dfget ended after ${fixed(wallSeconds)} s; checking sha256 of the outputs...`);
  const hashes = await limited(
    2,
    cluster.peers.map((peer) => async () => {
      if (outcomes.get(peer.name)?.error) return undefined;
      try {
        return (await sha256Of(join(outDir, `${peer.name}.bin`), args.sizeBytes)) === sha256;
      } catch {
        return false; // Missing or short output.
      }
    }),
  );
  const daemons: PeerResult[] = [];
  for (const daemon of cluster.daemons) {
    const outcome = daemon.seed ? undefined : outcomes.get(daemon.name);
    const peerIndex = cluster.peers.indexOf(daemon);
    daemons.push({
      name: daemon.name,
      seed: daemon.seed,
      doneSeconds: daemon.seed ? finishedAtSeconds(daemon, startedAtMs) : outcome?.doneSeconds,
      dfget: outcome?.result,
      error: outcome?.error,
      traffic: await trafficOf(daemon, signal),
      daemonCpuSeconds: cpuSecondsOf(daemon.proc.pid) - cpuBefore.get(daemon.name)!,
      daemonPeakRssBytes: peakRssOf(daemon.proc.pid),
      sha256Ok: peerIndex >= 0 ? hashes[peerIndex] : undefined,
      reschedules: daemon.proc.lines.filter((l) => l.msg === 'parents announced nothing new in time; rescheduling').length,
      backToSource: daemon.proc.lines.filter((l) => l.msg === 'scheduler: back to source').length,
    });
  }
  return {
    run,
    wallSeconds,
    originBytes,
    originRequests: entries.length,
    originMultiple: originBytes / args.sizeBytes,
    schedulerCpuSeconds,
    nginxCpuSeconds,
    loadBefore,
    loadAfter: loadavg()[0]!,
    daemons,
  };
}

const mib = (bytes: number) => fixed(bytes / MiB, 1);

function peerTable(result: RunResult): Table {
  return {
    caption: `run ${result.run}: per daemon (MiB of pieces by source; CPU s and peak RSS of the daemon over the run, and of its dfget)`,
    header: ['daemon', 'done s', 'from parents', 'from origin', 'local', 'uploaded', 'daemon CPU s', 'daemon RSS MB', 'dfget CPU s', 'dfget RSS MB', 'resched', 'sha256'],
    rows: result.daemons.map((d) => [
      d.name,
      fixed(d.doneSeconds),
      mib(d.traffic.remotePeer),
      mib(d.traffic.backToSource),
      mib(d.traffic.localPeer),
      mib(d.traffic.uploaded),
      fixed(d.daemonCpuSeconds),
      fixed(d.daemonPeakRssBytes / MB, 0),
      fixed(d.dfget?.cpuSeconds),
      d.dfget ? fixed(d.dfget.peakRssBytes / MB, 0) : '-',
      String(d.reschedules),
      d.seed ? '-' : d.sha256Ok === true ? 'ok' : d.sha256Ok === false ? 'BAD' : 'FAILED',
    ]),
  };
}

function summaryTable(results: readonly RunResult[], args: ClusterArgs): Table {
  return {
    caption: `summary: ${args.peers} peers + 1 seed, ${mib(args.sizeBytes)} MiB file`,
    header: ['run', 'wall s', 'first s', 'median s', 'last s', 'origin x file', 'peers from origin x file', 'seed uploaded x file', 'peers uploaded x file', 'peer MB/s', 'sched CPU s', 'nginx CPU s', 'outputs ok'],
    rows: results.map((r) => {
      const peers = r.daemons.filter((d) => !d.seed);
      const seed = r.daemons.find((d) => d.seed);
      const done = peers.map((d) => d.doneSeconds).filter((s): s is number => s !== undefined);
      const peersFromOrigin = peers.reduce((sum, d) => sum + d.traffic.backToSource, 0) / args.sizeBytes;
      return [
        String(r.run),
        fixed(r.wallSeconds),
        fixed(Math.min(...done)),
        fixed(median(done)),
        fixed(Math.max(...done)),
        fixed(r.originMultiple, 3),
        fixed(peersFromOrigin, 3),
        seed ? fixed(seed.traffic.uploaded / args.sizeBytes) : '-',
        fixed(peers.reduce((sum, d) => sum + d.traffic.uploaded, 0) / args.sizeBytes),
        // What each peer got per second on average while all ran at once.
        fixed(args.sizeBytes / r.wallSeconds / MB, 0),
        fixed(r.schedulerCpuSeconds),
        fixed(r.nginxCpuSeconds),
        `${peers.filter((d) => d.sha256Ok === true).length}/${peers.length}`,
      ];
    }),
  };
}

function targetsOf(results: readonly RunResult[]): Target[] {
  const worstOrigin = Math.max(...results.map((r) => r.originMultiple));
  const peers = results.flatMap((r) => r.daemons.filter((d) => !d.seed));
  const ok = peers.filter((d) => d.sha256Ok === true).length;
  const origin = checkTarget('origin bytes / file size (worst run)', worstOrigin, '<=', ORIGIN_TARGET, 'peers went back to source: see "from origin" and the daemons\' logs');
  const integrity = checkTarget('outputs whose sha256 matches (fraction)', ok / peers.length, '>=', 1, peers.map((d) => d.error).find(Boolean));
  return [origin, integrity];
}

export async function benchSwarm(args: ClusterArgs, signal: AbortSignal): Promise<Report> {
  const nginx = findExecutable('nginx');
  if (!nginx) return skippedReport(TITLE, 'nginx not found: apt-get install -y nginx-light');
  const dir = makeTempDir('cluster');
  try {
    chmodSync(dir.path, 0o755);
    const www = join(dir.path, 'www');
    mkdirSync(www, { mode: 0o755 });
    console.error(`  writing a ${mib(args.sizeBytes)} MiB random file...`);
    const sha256 = writeRandomFile(join(www, FILE_NAME), args.sizeBytes, signal);
    const origin = await startLoggedNginx(nginx, join(dir.path, 'nginx'), www, `/${FILE_NAME}`, signal);
    const url = new URL(FILE_NAME, origin.baseUrl).href;
    const results: RunResult[] = [];
    try {
      for (let run = 1; run <= args.runs; run++) {
        const runDir = join(dir.path, `run-${run}`);
        mkdirSync(join(runDir, 'out'), { recursive: true });
        console.error(`  run ${run}/${args.runs}: starting dfscheduler, seed and ${args.peers} dfdaemons...`);
        const cluster = await startCluster(runDir, args.peers, signal);
        try {
          console.error(`  run ${run}/${args.runs}: ${args.peers} x dfget at once`);
          results.push(await swarmOnce(run, cluster, origin, url, sha256, join(runDir, 'out'), join(runDir, 'dfget-cache'), args, signal));
          const problems = cluster.daemons.flatMap((d) => d.proc.problems().map((line) => `${d.name}: ${line.level} ${line.msg ?? ''}`));
          if (problems.length > 0) console.error(`  run ${run}: ${problems.length} warning/error log lines, first: ${problems.slice(0, 5).join(' | ')}`);
        } finally {
          await cluster.stop();
          rmSync(runDir, { recursive: true, force: true });
        }
      }
    } finally {
      await origin.stop();
    }
    const notes = [
      `origin bytes: sum of $body_bytes_sent of GET /${FILE_NAME} in nginx's access log during the run (each daemon's 1-byte stat request included)`,
      `traffic: dragonfly_client_download_traffic{type} and dragonfly_client_upload_traffic scraped from each daemon after the run`,
      `done s: from the common start to each dfget's exit (node start-up included); seed: to its "download finished" log line`,
      `peer MB/s: file size / wall time (what each peer got on average while all ${args.peers} ran at once); dfget CPU/RSS via ${peakRssMethod() === 'gnu-time' ? 'GNU time' : '/proc polling (no CPU)'}`,
    ];
    return {
      title: TITLE,
      tables: [...results.map(peerTable), summaryTable(results, args)],
      notes,
      targets: targetsOf(results),
      data: { sizeBytes: args.sizeBytes, peers: args.peers, runs: args.runs, sha256, results },
    };
  } finally {
    await dir.remove();
  }
}

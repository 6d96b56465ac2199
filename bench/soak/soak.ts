/**
 * The soak: a dfscheduler, a seed dfdaemon and the dfdaemon under test on loopback, storage GC set
 * small (every 5 s, a 20 s task TTL) so tasks are evicted while the load runs; two private nginx
 * origins (one rate-limited, for downloads slow enough to kill mid-way) and, when Debian's
 * docker-registry is installed, a real registry with a few images for mirror pulls. For
 * `--duration` the mix of load.ts runs while every `--sample-interval` the daemons' (and the
 * scheduler's) RSS, open fds and threads, the stores' bytes on disk and the daemons' /metrics are
 * sampled. Every log line of the three servers is kept for classification (analysis.ts).
 */
import { chmodSync, mkdirSync, linkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir } from '../lib/cleanup.ts';
import { writeRandomFile } from '../lib/files.ts';
import { startNginx, type Origin } from '../lib/nginx.ts';
import { findExecutable } from '../lib/spawn.ts';
import { scrape, startDaemon, startScheduler, type BenchDaemon, type BenchScheduler } from '../cluster/cluster.ts';
import { dfgetEntry } from '../cluster/dfget.ts';
import type { LogLine, ServerProcess } from '../cluster/process.ts';
import { buildImage, pushImage, type BenchImage } from '../mirror/image.ts';
import { startRegistry } from '../mirror/registry.ts';
import type { InjectedFault, SeenLine } from './analysis.ts';
import type { SoakArgs } from './args.ts';
import { runLoad, seededRandom, type MirrorTarget, type OpRecord, type SoakFile } from './load.ts';
import { diskUsage, pickMetrics, sampleProc, type DiskSample, type ProcSample } from './sample.ts';

const KiB = 1 << 10;
const MiB = 1 << 20;
const READY_TIMEOUT_MS = 30_000;
/** Small enough that a file not asked for again within a few loops of the load is evicted. */
export const GC_CONFIG = { interval: '5s', policy: { taskTTL: '20s' } } as const;
/** Per-connection rate of the slow origin: a 64 MiB download takes several seconds even with 8 pieces at once. */
const SLOW_RATE = '2m';
/** How long the load may take to finish what it started once the duration is over. */
export const DRAIN_MS = 100_000;

/** dfget files: direct from the origin (<= 4 MiB, no scheduler), and P2P sizes. */
const DFGET_FILES: readonly { size: number; weight: number }[] = [
  { size: 256 * KiB, weight: 3 },
  { size: 3 * MiB, weight: 3 },
  { size: 6 * MiB, weight: 3 },
  { size: 16 * MiB, weight: 2 },
  { size: 40 * MiB, weight: 1 },
];
const CANCEL_FILE_BYTES = 64 * MiB;
/** Images for mirror pulls: P2P layers (> 4 MiB) and a small one the mirror fetches directly (<= 64 KiB). */
const IMAGES: readonly { name: string; layers: readonly number[] }[] = [
  { name: 'soak/a', layers: [6 * MiB, 10 * MiB] },
  { name: 'soak/b', layers: [5 * MiB, 12 * MiB] },
  { name: 'soak/c', layers: [8 * MiB, 20 * KiB] },
];

export const PROCESSES = ['peer', 'seed', 'scheduler'] as const;
export type ProcessName = (typeof PROCESSES)[number];

export interface Sample {
  /** Seconds since the load started. */
  readonly t: number;
  readonly atMs: number;
  readonly procs: Partial<Record<ProcessName, ProcSample>>;
  readonly disk: { readonly peer: DiskSample; readonly seed: DiskSample };
  readonly counters: { readonly peer?: Record<string, number>; readonly seed?: Record<string, number> };
  readonly handles: { readonly peer?: Record<string, number>; readonly seed?: Record<string, number> };
}

export interface SoakRun {
  readonly samples: readonly Sample[];
  readonly ops: readonly OpRecord[];
  readonly faults: readonly InjectedFault[];
  readonly lines: readonly SeenLine[];
  /** Info lines by process and message (only their counts are kept). */
  readonly infoCounts: Record<string, Record<string, number>>;
  readonly gcEvicted: { readonly peer: number; readonly seed: number };
  readonly mirrorSkipped: string | undefined;
  readonly files: readonly SoakFile[];
  readonly images: readonly string[];
  /** Set when a server exited while the load ran. */
  readonly crashed: string[];
  readonly loadSeconds: number;
  readonly drainSeconds: number;
}

function timeOf(line: LogLine): number {
  const parsed = typeof line['time'] === 'string' ? Date.parse(line['time']) : Number.NaN;
  return Number.isFinite(parsed) ? parsed : Date.now();
}

/** Keeps warn, error and non-JSON lines whole, counts the rest; watches `download started`. */
class LogCollector {
  readonly lines: SeenLine[] = [];
  readonly infoCounts: Record<string, Record<string, number>> = {};
  readonly gcEvicted: Record<string, number> = {};
  /** url -> epoch ms of the peer's latest `download started`. */
  readonly #started = new Map<string, number>();

  attach(name: string, proc: ServerProcess, watchStarts: boolean): void {
    const counts: Record<string, number> = (this.infoCounts[name] = {});
    this.gcEvicted[name] = 0;
    proc.onLine((line) => {
      const level = String(line.level ?? 'raw');
      const msg = String(line.msg ?? '');
      if (level === 'warn' || level === 'error' || level === 'fatal' || level === 'raw') {
        const { level: _level, msg: _msg, time: _time, ...fields } = line;
        this.lines.push({ process: name, atMs: timeOf(line), level, msg, fields });
        return;
      }
      counts[msg] = (counts[msg] ?? 0) + 1;
      if (msg === 'gc evicted tasks') this.gcEvicted[name]! += Number(line['count'] ?? 0);
      if (watchStarts && msg === 'download started' && typeof line['url'] === 'string') this.#started.set(line['url'], timeOf(line));
    });
  }

  async waitForStarted(url: string, sinceMs: number, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !signal.aborted) {
      if ((this.#started.get(url) ?? 0) >= sinceMs - 50) return true;
      await sleep(50);
    }
    return (this.#started.get(url) ?? 0) >= sinceMs - 50;
  }
}

/** Random files under `www`, one per size; returns them with their digests. */
function writeFiles(www: string, signal: AbortSignal): { files: SoakFile[]; cancelFile: SoakFile } {
  const files = DFGET_FILES.map(({ size, weight }) => {
    const name = `f-${size}.bin`;
    return { name, size, weight, sha256: writeRandomFile(join(www, name), size, signal) };
  });
  const cancelName = 'big.bin';
  const cancelFile = { name: cancelName, size: CANCEL_FILE_BYTES, weight: 1, sha256: writeRandomFile(join(www, cancelName), CANCEL_FILE_BYTES, signal) };
  return { files, cancelFile };
}

async function startMirrorRegistry(dir: string, signal: AbortSignal): Promise<{ url: string; images: BenchImage[]; stop: () => Promise<void> } | string> {
  const binary = findExecutable('docker-registry');
  if (!binary) return 'docker-registry not found (apt-get install -y docker-registry): mirror pulls skipped';
  mkdirSync(join(dir, 'layers'), { recursive: true });
  const registry = await startRegistry(binary, join(dir, 'registry'), signal);
  try {
    const images: BenchImage[] = [];
    for (const spec of IMAGES) {
      const layersDir = join(dir, 'layers', spec.name.replace('/', '-'));
      mkdirSync(layersDir, { recursive: true });
      const image = { ...buildImage(layersDir, spec.layers, signal), name: spec.name };
      await pushImage(registry.url, image, signal);
      images.push(image);
    }
    return { url: registry.url, images, stop: registry.stop };
  } catch (error) {
    await registry.stop();
    throw error;
  }
}

function takeSample(startedMs: number, daemons: { peer: BenchDaemon; seed: BenchDaemon }, scheduler: BenchScheduler): Omit<Sample, 'counters' | 'handles'> {
  const atMs = Date.now();
  return {
    t: (atMs - startedMs) / 1000,
    atMs,
    procs: { peer: sampleProc(daemons.peer.proc.pid), seed: sampleProc(daemons.seed.proc.pid), scheduler: sampleProc(scheduler.proc.pid) },
    disk: { peer: diskUsage(join(daemons.peer.dir, 'storage')), seed: diskUsage(join(daemons.seed.dir, 'storage')) },
  };
}

async function scrapeDaemon(daemon: BenchDaemon, signal: AbortSignal): Promise<ReturnType<typeof pickMetrics> | undefined> {
  try {
    return pickMetrics(await scrape(daemon.ports.metrics, signal));
  } catch (error) {
    if (signal.aborted) throw error;
    return undefined; // A slow answer on a busy machine: this sample has no counters.
  }
}

export async function runSoak(args: SoakArgs, log: (message: string) => void, signal: AbortSignal): Promise<SoakRun> {
  const nginx = findExecutable('nginx');
  if (!nginx) throw new Error('nginx not found: apt-get install -y nginx-light');
  const dir = makeTempDir('soak');
  try {
    chmodSync(dir.path, 0o755);
    const www = join(dir.path, 'www');
    mkdirSync(www, { mode: 0o755 });
    const outDir = join(dir.path, 'out');
    mkdirSync(outDir);
    log('writing the origin files...');
    const { files, cancelFile } = writeFiles(www, signal);
    // The slow origin serves only the file cancellations download (its port puts it in tasks of its own).
    const slowWww = join(dir.path, 'slow-www');
    mkdirSync(slowWww, { mode: 0o755 });
    linkSync(join(www, cancelFile.name), join(slowWww, cancelFile.name));
    const origins: Origin[] = [];
    let stopRegistry: (() => Promise<void>) | undefined;
    try {
      origins.push(await startNginx(nginx, join(dir.path, 'nginx-fast'), www, `/${files[0]!.name}`, signal));
      origins.push(await startNginx(nginx, join(dir.path, 'nginx-slow'), slowWww, `/${cancelFile.name}`, signal, { limitRate: SLOW_RATE }));
      const [fast, slow] = origins as [Origin, Origin];
      log('starting the registry and pushing images...');
      const registry = await startMirrorRegistry(join(dir.path, 'mirror'), signal);
      const mirrorSkipped = typeof registry === 'string' ? registry : undefined;
      if (typeof registry !== 'string') stopRegistry = registry.stop;
      if (mirrorSkipped) log(mirrorSkipped);
      log('starting dfscheduler, seed and dfdaemon...');
      const scheduler = await startScheduler(join(dir.path, 'scheduler'), signal);
      const collector = new LogCollector();
      collector.attach('scheduler', scheduler.proc, false);
      const started: BenchDaemon[] = [];
      try {
        const withGc = (config: Record<string, Record<string, unknown>>) => {
          config['gc'] = structuredClone(GC_CONFIG) as unknown as Record<string, unknown>;
        };
        const [seed, peer] = await Promise.all(
          (['seed', 'peer'] as const).map(async (name) => {
            const daemon = await startDaemon(dir.path, name, name === 'seed', scheduler.port, signal, withGc);
            started.push(daemon);
            collector.attach(name, daemon.proc, name === 'peer');
            return daemon;
          }),
        );
        const daemons = { peer: peer!, seed: seed! };
        await scheduler.proc.waitForLine(() => {
          const announced = new Set(scheduler.proc.lines.filter((l) => l.msg === 'host announced').map((l) => String(l['hostId'])));
          return announced.has(daemons.peer.hostId) && announced.has(daemons.seed.hostId);
        }, READY_TIMEOUT_MS, signal);

        const ops: OpRecord[] = [];
        const faults: InjectedFault[] = [];
        const samples: Sample[] = [];
        const crashed: string[] = [];
        const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: join(dir.path, 'dfget-cache'), NODE_OPTIONS: '' };
        delete env['DF_NO_ADDON'];
        const mirror: MirrorTarget | undefined =
          typeof registry === 'string' ? undefined : { proxyPort: daemons.peer.ports.proxy, registryUrl: registry.url, images: registry.images };
        const stop = new AbortController();
        const startedMs = Date.now();
        log(`load running for ${args.durationMs / 1000} s (dfget${mirror ? ', mirror pulls' : ''}, cancellations, GC every ${GC_CONFIG.interval} with a ${GC_CONFIG.policy.taskTTL} TTL)`);
        const load = runLoad(
          {
            dfgetEntry: dfgetEntry(),
            socketPath: daemons.peer.socketPath,
            env,
            fastBase: fast.baseUrl,
            slowBase: slow.baseUrl,
            files,
            cancelFile,
            outDir,
            mirror,
            random: seededRandom(args.seed),
            waitForStarted: (url, sinceMs, timeoutMs, waitSignal) => collector.waitForStarted(url, sinceMs, timeoutMs, waitSignal),
            onFault: (fault) => faults.push(fault),
            record: (op) => ops.push(op),
          },
          stop.signal,
          signal,
        );
        const loadFailed = load.then(
          () => undefined,
          (error: unknown) => error,
        );
        let nextReport = startedMs + 60_000;
        for (let next = startedMs; Date.now() - startedMs < args.durationMs; ) {
          signal.throwIfAborted();
          const base = takeSample(startedMs, daemons, scheduler);
          const [peerMetrics, seedMetrics] = await Promise.all([scrapeDaemon(daemons.peer, signal), scrapeDaemon(daemons.seed, signal)]);
          samples.push({
            ...base,
            counters: { peer: peerMetrics?.counters, seed: seedMetrics?.counters },
            handles: { peer: peerMetrics?.handles, seed: seedMetrics?.handles },
          });
          for (const [name, proc] of [['peer', daemons.peer.proc], ['seed', daemons.seed.proc], ['scheduler', scheduler.proc]] as const) {
            if (!proc.running && !crashed.some((c) => c.startsWith(name))) crashed.push(`${name}: ${proc.stderrTail().trim().slice(-1000)}`);
          }
          if (crashed.length > 0) break;
          if (Date.now() >= nextReport) {
            nextReport += 60_000;
            const rss = base.procs.peer ? (base.procs.peer.rssBytes / 1e6).toFixed(0) : '-';
            log(`  ${base.t.toFixed(0)} s: peer RSS ${rss} MB, fds ${base.procs.peer?.fds ?? '-'}, store ${(base.disk.peer.allocatedBytes / 1e6).toFixed(0)} MB; ops ${ops.length} (${ops.filter((o) => !o.ok).length} failed), kills ${faults.length}`);
          }
          next += args.sampleIntervalMs;
          await sleep(Math.max(0, next - Date.now()), undefined, { signal });
        }
        const loadSeconds = (Date.now() - startedMs) / 1000;
        stop.abort();
        log('duration over: waiting for the load to finish what it started...');
        const drainStart = Date.now();
        const drained = await Promise.race([loadFailed.then(() => true), sleep(DRAIN_MS, false, { signal })]);
        if (!drained) throw new Error(`the load did not finish within ${DRAIN_MS / 1000} s of the end`);
        const loadError = await loadFailed;
        if (loadError) throw loadError;
        const drainSeconds = (Date.now() - drainStart) / 1000;
        // Lines a shutdown writes count too: stop peer first (it leaves the scheduler), then seed, then scheduler.
        await daemons.peer.proc.stop();
        await daemons.seed.proc.stop();
        await scheduler.proc.stop();
        return {
          samples,
          ops,
          faults,
          lines: collector.lines,
          infoCounts: collector.infoCounts,
          gcEvicted: { peer: collector.gcEvicted['peer'] ?? 0, seed: collector.gcEvicted['seed'] ?? 0 },
          mirrorSkipped,
          files: [...files, cancelFile],
          images: mirror ? mirror.images.map((image) => `${image.name}:${image.tag} (${image.blobs.map((b) => b.size).join(' + ')} bytes)`) : [],
          crashed,
          loadSeconds,
          drainSeconds,
        };
      } finally {
        await Promise.all(started.map((daemon) => daemon.proc.stop()));
        await scheduler.proc.stop();
      }
    } finally {
      await stopRegistry?.();
      for (const origin of origins) await origin.stop();
    }
  } finally {
    await dir.remove();
  }
}

/**
 * The registry-mirror bench, start to end: a private docker-registry with a pushed image, a
 * direct pull, a dfscheduler and two dfdaemons (no seed peer) pulling the image through their
 * mirrors one after the other (between the two, the warm first-byte samples, while only node-a
 * has the image), then time to first blob byte direct and cold. Everything it
 * starts is stopped by PID and its temp dir removed, here or by the bench's cleanup on error.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, startScheduler, trafficOf, type BenchDaemon, type DaemonTraffic } from '../cluster/cluster.ts';
import { makeTempDir } from '../lib/cleanup.ts';
import { skippedReport, type Report } from '../lib/report.ts';
import { findExecutable } from '../lib/spawn.ts';
import type { MirrorArgs } from './args.ts';
import { announced, firstByteCold, firstByteDirect, firstByteWarm, type FirstByteCase, type FirstByteContext } from './first-byte.ts';
import { buildImage, pushImage, type BenchImage, type Blob } from './image.ts';
import { directTarget, mirrorTarget, pullImage, type PullResult, type PullTarget } from './pull.ts';
import { blobGetBytes, startRegistry, total, type BenchRegistry } from './registry.ts';
import { mirrorReport } from './results.ts';

/** Layers in this range have 4 MiB pieces and at least 8 of them (see laterBlobOf). */
const SAME_PATH_MIN_BYTES = 8 * 4 * 2 ** 20;
const SAME_PATH_MAX_BYTES = 2000 * 2 ** 20;

export interface MeasuredPull extends PullResult {
  /** Bytes of blob GETs the registry logged during this pull, per digest. */
  readonly registryBlobBytes: Readonly<Record<string, number>>;
  readonly registryBlobTotal: number;
  /** The daemon's piece counters after the pull (mirror pulls only). */
  readonly traffic?: DaemonTraffic | undefined;
  /** Warnings and errors the daemon logged by the end of the pull. */
  readonly daemonWarnings?: readonly string[] | undefined;
  /** The daemon's log lines during the pull (`time msg taskId`), to see when each download started, got its answer and ended. */
  readonly daemonLog?: readonly string[] | undefined;
}

export interface MirrorFigures {
  readonly image: { readonly name: string; readonly layers: readonly number[]; readonly blobBytes: number; readonly blobs: number };
  readonly pulls: readonly MeasuredPull[];
  readonly firstByte: readonly FirstByteCase[];
  readonly largestLayerBytes: number;
  /** `download.concurrentPieceCount` of every daemon, when the bench set it. */
  readonly concurrentPieces: number | undefined;
}

/** Pulls through `target`, counting the registry's blob bytes from its access log around the pull. */
async function measuredPull(registry: BenchRegistry, target: PullTarget, image: BenchImage, daemon: BenchDaemon | undefined, signal: AbortSignal): Promise<MeasuredPull> {
  await registry.settle(signal);
  const from = registry.entries.length;
  const fromLine = daemon?.proc.lines.length ?? 0;
  const result = await pullImage(target, image, signal);
  await registry.settle(signal);
  const bytes = blobGetBytes(registry.entries.slice(from));
  return {
    ...result,
    registryBlobBytes: Object.fromEntries(bytes),
    registryBlobTotal: total(bytes),
    traffic: daemon ? await trafficOf(daemon, signal) : undefined,
    daemonLog: daemon?.proc.lines.slice(fromLine).map((line) => `${String(line['time'] ?? '')} ${line.msg}${line['taskId'] ? ` ${String(line['taskId']).slice(0, 12)}` : ''}`),
    daemonWarnings: daemon?.proc.problems().map((line) => `${String(line['time'] ?? '')} ${line.level}: ${line.msg}${line['error'] ? ` (${JSON.stringify(line['error'])})` : ''}`),
  };
}

/**
 * The largest layer after `largest`, if its first byte takes the same path: 4 MiB pieces (below
 * 2000 MiB) and at least as many pieces as a daemon fetches at once (8 by default).
 */
function laterBlobOf(image: BenchImage, largest: Blob): Blob | undefined {
  const candidates = image.layers.filter((layer) => layer !== largest && layer.size >= SAME_PATH_MIN_BYTES && layer.size <= SAME_PATH_MAX_BYTES);
  return candidates.sort((x, y) => y.size - x.size)[0];
}

/** What `--concurrent-pieces` changes in every daemon's config; nothing without it. */
function daemonConfigure(args: MirrorArgs): FirstByteContext['configure'] {
  const count = args.concurrentPieces;
  if (count === undefined) return undefined;
  return (config) => {
    config['download'] = { ...config['download'], concurrentPieceCount: count };
  };
}

export async function benchMirror(args: MirrorArgs, signal: AbortSignal): Promise<Report> {
  const title = 'registry mirror: two daemons pulling one image';
  const registryBinary = findExecutable('docker-registry');
  if (!registryBinary) return skippedReport(title, 'docker-registry not found: install the Debian package docker-registry');
  // On error the bench's cleanup stops the processes (registered later, undone first), then removes this.
  const temp = makeTempDir('mirror');
  const layersDir = join(temp.path, 'layers');
  mkdirSync(layersDir);
  console.error(`bench:mirror: writing ${args.layerBytes.length} layers of random bytes...`);
  const image = buildImage(layersDir, args.layerBytes, signal);
  const registry = await startRegistry(registryBinary, join(temp.path, 'registry'), signal);
  console.error(`bench:mirror: pushing to ${registry.url}...`);
  await pushImage(registry.url, image, signal);

  console.error('bench:mirror: direct pull...');
  const direct = await measuredPull(registry, directTarget(registry.url), image, undefined, signal);

  const clusterDir = join(temp.path, 'cluster');
  const scheduler = await startScheduler(join(clusterDir, 'scheduler'), signal);
  const context: FirstByteContext = { registry, image, runs: args.ttfbRuns, configure: daemonConfigure(args), signal };
  const [a, b] = await Promise.all(['node-a', 'node-b'].map((name) => startDaemon(clusterDir, name, false, scheduler.port, signal, context.configure)));
  for (const daemon of [a!, b!]) await announced(scheduler, daemon, signal);
  console.error('bench:mirror: pull through node-a (nobody has the image)...');
  const pullA = await measuredPull(registry, mirrorTarget('node-a mirror', a!.ports.proxy, registry.url), image, a, signal);

  const largest = image.layers.reduce((best, layer) => (layer.size > best.size ? layer : best));
  console.error(`bench:mirror: first byte through fresh daemons while node-a has the image (${args.ttfbRuns} runs)...`);
  const later = laterBlobOf(image, largest);
  const warm = await firstByteWarm(context, clusterDir, scheduler, largest, later);

  console.error('bench:mirror: pull through node-b (node-a has the image)...');
  const pullB = await measuredPull(registry, mirrorTarget('node-b mirror', b!.ports.proxy, registry.url), image, b, signal);
  await Promise.all([a!.proc.stop(), b!.proc.stop()]);
  await scheduler.proc.stop();

  console.error(`bench:mirror: first byte direct and through cold clusters (${args.ttfbRuns} runs each)...`);
  const directFirstByte = await firstByteDirect(context, largest);
  const cold = await firstByteCold(context, join(temp.path, 'cold'), largest, later);
  await registry.stop();

  const figures: MirrorFigures = {
    image: {
      name: `${image.name}:${image.tag}`,
      layers: image.layers.map((layer) => layer.size),
      blobBytes: image.blobs.reduce((sum, blob) => sum + blob.size, 0),
      blobs: image.blobs.length,
    },
    pulls: [direct, pullA, pullB],
    firstByte: [directFirstByte, cold.fresh, warm.fresh, ...(cold.used ? [cold.used] : []), ...(warm.used ? [warm.used] : [])],
    largestLayerBytes: largest.size,
    concurrentPieces: args.concurrentPieces,
  };
  await temp.remove();
  return mirrorReport(title, figures);
}

/**
 * Time to first blob byte, for one blob (the largest layer), three ways the issue names:
 * - direct: from the registry itself, after one untimed fetch so its page cache is warm;
 * - cold mirror: through a daemon that has never seen the blob, in a cluster where nobody has it
 *   (each sample starts its own dfscheduler and dfdaemon): the daemon must check access upstream,
 *   stat the blob, register with the scheduler, be told to go to the origin and fetch piece 0;
 * - warm mirror: through a fresh daemon joining the main cluster, where another daemon has the
 *   whole blob: piece 0 comes from that peer.
 * and, to tell a fresh daemon process's one-time costs from each request's own, the cold and warm
 * cases again for another layer through the same daemon right after ("used daemon").
 * Before each timed mirror request the daemon gets the manifest, as a runtime's pull does first
 * (which also settles the mirror's once-per-registry `/v2/` check). Every request opens its own
 * connection, direct or not. The clock runs from just before the request is made to the first
 * body byte; the whole body is read and its sha256 checked.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, startScheduler, trafficOf, type BenchDaemon, type BenchScheduler, type DaemonTraffic } from '../cluster/cluster.ts';
import { median } from '../lib/format.ts';
import { fetchBlob } from './http.ts';
import type { Blob, BenchImage } from './image.ts';
import { directTarget, getManifest, mirrorTarget, type PullTarget } from './pull.ts';
import type { BenchRegistry } from './registry.ts';
import { buildTimeline, epochNowMs, medianPhases, phasesOf, type Phase, type TimelineEvent } from './timeline.ts';

const BLOB_IDLE_TIMEOUT_MS = 60_000;
const ANNOUNCE_TIMEOUT_MS = 30_000;

export interface FirstByteSample {
  readonly headersMs: number;
  readonly firstByteMs: number;
  readonly totalMs: number;
  readonly verified: boolean;
  /** Where the daemon's pieces of this blob came from (mirror cases). */
  readonly traffic?: DaemonTraffic | undefined;
  /** Registry requests and daemon log lines from the request to its first byte (mirror cases). */
  readonly timeline?: readonly TimelineEvent[] | undefined;
  readonly phases?: Partial<Record<Phase, number>> | undefined;
}

export interface FirstByteCase {
  readonly name: 'direct' | 'cold mirror' | 'warm mirror' | 'cold blob, used daemon' | 'warm blob, used daemon';
  readonly samples: readonly FirstByteSample[];
  readonly medianFirstByteMs: number;
  readonly medianHeadersMs: number;
  readonly medianTotalMs: number;
  /** Per phase, the median over the samples (mirror cases). */
  readonly medianPhases?: Partial<Record<Phase, number>> | undefined;
}

function summarize(name: FirstByteCase['name'], samples: FirstByteSample[]): FirstByteCase {
  return {
    name,
    samples,
    medianFirstByteMs: median(samples.map((s) => s.firstByteMs)),
    medianHeadersMs: median(samples.map((s) => s.headersMs)),
    medianTotalMs: median(samples.map((s) => s.totalMs)),
    medianPhases: samples.some((s) => s.phases) ? medianPhases(samples.flatMap((s) => (s.phases ? [s.phases] : []))) : undefined,
  };
}

async function timedFetch(target: PullTarget, image: BenchImage, blob: Blob, signal: AbortSignal): Promise<FirstByteSample & { startEpochMs: number }> {
  const startEpochMs = epochNowMs();
  const got = await fetchBlob(`${target.base}/v2/${image.name}/blobs/${blob.digest}`, { headers: target.headers, agent: false, timeoutMs: BLOB_IDLE_TIMEOUT_MS, signal });
  return {
    startEpochMs,
    headersMs: got.headersMs,
    firstByteMs: got.firstByteMs,
    totalMs: got.totalMs,
    verified: got.bytes === blob.size && `sha256:${got.sha256}` === blob.digest,
  };
}

/** Resolves once `scheduler` has logged `daemon`'s first announce (it cannot schedule an unknown host). */
export async function announced(scheduler: BenchScheduler, daemon: BenchDaemon, signal: AbortSignal): Promise<void> {
  await scheduler.proc.waitForLine((line) => line.msg === 'host announced' && line['hostId'] === daemon.hostId, ANNOUNCE_TIMEOUT_MS, signal);
}

/** What every first-byte case works with. */
export interface FirstByteContext {
  readonly registry: BenchRegistry;
  readonly image: BenchImage;
  /** Timed samples per case. */
  readonly runs: number;
  /** Applied to every daemon's config (e.g. `download.concurrentPieceCount`). */
  readonly configure: ((config: Record<string, Record<string, unknown>>) => void) | undefined;
  readonly signal: AbortSignal;
}

/** `runs` timed GETs of `blob` straight from the registry, after one untimed. */
export async function firstByteDirect(context: FirstByteContext, blob: Blob): Promise<FirstByteCase> {
  const { registry, image, signal } = context;
  const target = directTarget(registry.url);
  await timedFetch(target, image, blob, signal); // Warm-up: page cache, registry's first-request costs.
  const samples: FirstByteSample[] = [];
  for (let run = 0; run < context.runs; run++) samples.push(await timedFetch(target, image, blob, signal));
  return summarize('direct', samples);
}

/**
 * One sample through `daemon`: manifest first (untimed), then the timed blob GET, and the
 * registry's and the daemon's logs from the request to its first byte.
 */
async function throughDaemon(context: FirstByteContext, daemon: BenchDaemon, blob: Blob): Promise<FirstByteSample> {
  const { registry, image, signal } = context;
  const target = mirrorTarget(daemon.name, daemon.ports.proxy, registry.url);
  await getManifest(target, image, false, signal);
  await registry.settle(signal);
  const { startEpochMs, ...sample } = await timedFetch(target, image, blob, signal);
  await registry.settle(signal);
  const timeline = buildTimeline({
    fromEpochMs: startEpochMs,
    firstByteMs: sample.firstByteMs,
    headersMs: sample.headersMs,
    registry: registry.completed,
    daemonLines: daemon.proc.lines,
  });
  return { ...sample, traffic: await trafficOf(daemon, signal), timeline, phases: phasesOf(timeline) };
}

/** Samples of `blob` and, if given, of `laterBlob` through the same daemon. */
interface FreshAndUsed {
  readonly fresh: FirstByteCase;
  readonly used: FirstByteCase | undefined;
}

/**
 * Each sample: a new scheduler and daemon under `dir`, stopped and removed afterwards. With
 * `laterBlob` (another blob of 4 MiB pieces and at least as many pieces as the daemon fetches at
 * once, so its first byte takes the same path), the same daemon then fetches that one too, nobody
 * having it either: the difference between the two cases is what a fresh daemon process costs
 * on its first request (code run for the first time, first connections).
 */
export async function firstByteCold(context: FirstByteContext, dir: string, blob: Blob, laterBlob: Blob | undefined): Promise<FreshAndUsed> {
  const { signal } = context;
  const fresh: FirstByteSample[] = [];
  const used: FirstByteSample[] = [];
  for (let run = 1; run <= context.runs; run++) {
    const runDir = join(dir, `cold-${run}`);
    const scheduler = await startScheduler(join(runDir, 'scheduler'), signal);
    let daemon: BenchDaemon | undefined;
    try {
      daemon = await startDaemon(runDir, `cold-${run}`, false, scheduler.port, signal, context.configure);
      await announced(scheduler, daemon, signal);
      fresh.push(await throughDaemon(context, daemon, blob));
      if (laterBlob) used.push(await throughDaemon(context, daemon, laterBlob));
    } finally {
      await daemon?.proc.stop();
      await scheduler.proc.stop();
      rmSync(runDir, { recursive: true, force: true });
    }
  }
  return { fresh: summarize('cold mirror', fresh), used: laterBlob ? summarize('cold blob, used daemon', used) : undefined };
}

/**
 * Each sample: a new daemon joining `scheduler`'s cluster, where another daemon has the blob; with
 * `laterBlob`, which that daemon has too, the same new daemon then fetches it (as in firstByteCold).
 */
export async function firstByteWarm(context: FirstByteContext, dir: string, scheduler: BenchScheduler, blob: Blob, laterBlob: Blob | undefined): Promise<FreshAndUsed> {
  const { signal } = context;
  const fresh: FirstByteSample[] = [];
  const used: FirstByteSample[] = [];
  for (let run = 1; run <= context.runs; run++) {
    let daemon: BenchDaemon | undefined;
    try {
      daemon = await startDaemon(dir, `warm-${run}`, false, scheduler.port, signal, context.configure);
      await announced(scheduler, daemon, signal);
      fresh.push(await throughDaemon(context, daemon, blob));
      if (laterBlob) used.push(await throughDaemon(context, daemon, laterBlob));
    } finally {
      await daemon?.proc.stop();
      rmSync(join(dir, `warm-${run}`), { recursive: true, force: true });
    }
  }
  return { fresh: summarize('warm mirror', fresh), used: laterBlob ? summarize('warm blob, used daemon', used) : undefined };
}

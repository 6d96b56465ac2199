/**
 * `npm run bench:mirror -- --concurrent N`: the registry mirror under N blob GETs at once, as N
 * hosts pulling at the same moment would send them. Same registry, image and daemons as the pull
 * bench (mirror.ts); instead of pulls, rounds of N simultaneous GETs of /v2/<name>/blobs/<digest>,
 * each on its own connection, from `--clients` client processes (load-client.ts):
 *   direct  straight from the registry (what the machine does without a mirror)
 *   cold    through node-a; nobody has any blob
 *   warm    through node-a again; it has every blob in its store
 *   peer    through node-b; node-a has every blob, node-b none
 * Half of the requests ask for the first layer (one blob, N/2 readers), the other half cycle over
 * the image's other blobs (the other layers and the small config blob). Each body's sha256 is
 * checked against its digest. Per round: errors by kind, time to first and last byte
 * (p50/p90/p99/max), the registry's blob bytes, and the daemon's open fds and RSS after the round
 * (a leak shows as fds that grow round after round, or stay up once the daemons have been idle
 * past the piece server's idle close).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDaemon, startScheduler, type BenchDaemon } from '../cluster/cluster.ts';
import { makeTempDir, onCleanup } from '../lib/cleanup.ts';
import { skippedReport, type Report } from '../lib/report.ts';
import { findExecutable, killGroup } from '../lib/spawn.ts';
import type { MirrorArgs } from './args.ts';
import { announced } from './first-byte.ts';
import { buildImage, pushImage, type BenchImage } from './image.ts';
import type { FromClient, LoadJob, LoadOutcome, ToClient } from './load-client.ts';
import { directTarget, getManifest, mirrorTarget, type PullTarget } from './pull.ts';
import { blobGetBytes, startRegistry, total, type BenchRegistry } from './registry.ts';
import { concurrentReport } from './concurrent-results.ts';

const CLIENT_SCRIPT = join(import.meta.dirname, 'load-client.ts');
/** A request that moves no byte this long is counted as a timeout. */
const IDLE_TIMEOUT_MS = 120_000;
const CLIENT_READY_TIMEOUT_MS = 15_000;
const MANIFEST_TIMEOUT_MS = 30_000;
/** Sockets the round closed are gone from the daemon's fd table after this. */
const SETTLE_MS = 1_000;
/** Past the piece server's idle close of task-file handles (engine OpenFiles, 5 s): what is left open then stays. */
const IDLE_SETTLE_MS = 6_500;

export interface RoundRequest {
  readonly id: number;
  readonly digest: string;
  /** The first layer, asked for by half of the requests. */
  readonly hot: boolean;
}

export interface DaemonState {
  readonly fds: number;
  readonly rssBytes: number;
}

export interface Round {
  readonly name: 'direct' | 'cold' | 'warm' | 'peer';
  readonly through: string;
  readonly wallSeconds: number;
  readonly requests: readonly RoundRequest[];
  readonly outcomes: readonly LoadOutcome[];
  readonly registryBlobBytes: number;
  /** The mirror's daemon before and after the round (mirror rounds). */
  readonly daemonBefore?: DaemonState | undefined;
  readonly daemonAfter?: DaemonState | undefined;
  readonly daemonProblems?: readonly string[] | undefined;
  readonly clientLoopDelayMs: { readonly p99: number; readonly max: number };
  readonly loadAverage: { readonly before: number; readonly after: number };
}

export interface ConcurrentFigures {
  readonly concurrent: number;
  readonly clients: number;
  readonly image: { readonly layers: readonly number[]; readonly blobs: number; readonly hotDigest: string };
  readonly bytesPerRound: number;
  readonly rounds: readonly Round[];
  /** Each daemon's open fds before its first round and after every round plus an idle wait: a leak keeps them up. */
  readonly idleFds: readonly { readonly daemon: string; readonly before: number; readonly afterIdle: number }[];
}

/** Half on the first layer, half cycling over the other blobs: a mix of one blob and different blobs. */
export function roundRequests(image: BenchImage, count: number): RoundRequest[] {
  const hot = image.layers[0]!.digest;
  const others = image.blobs.filter((blob) => blob.digest !== hot);
  return Array.from({ length: count }, (_, id) => {
    const digest = id % 2 === 0 || others.length === 0 ? hot : others[(id >> 1) % others.length]!.digest;
    return { id, digest, hot: digest === hot };
  });
}

function daemonState(pid: number): DaemonState {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
  return { fds: readdirSync(`/proc/${pid}/fd`).length, rssBytes: rssKiB * 1024 };
}

interface Client {
  readonly child: ChildProcess;
  run(jobs: readonly LoadJob[]): Promise<Extract<FromClient, { type: 'done' }>>;
}

/** Forks a client process in its own group, stopped by PID by the bench's cleanup. */
async function startClient(signal: AbortSignal): Promise<Client> {
  const child = fork(CLIENT_SCRIPT, { detached: true, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  onCleanup(`mirror load client (pid ${child.pid})`, () => killGroup(child, 'SIGKILL'));
  const next = (type: FromClient['type']) =>
    new Promise<FromClient>((resolve, reject) => {
      const onMessage = (message: FromClient) => {
        if (message.type !== type) return;
        done();
        resolve(message);
      };
      const onExit = (code: number | null) => {
        done();
        reject(new Error(`mirror load client exited with ${code}`));
      };
      const onAbort = () => {
        done();
        reject(signal.reason as Error);
      };
      const done = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
        signal.removeEventListener('abort', onAbort);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  await Promise.race([next('ready'), sleep(CLIENT_READY_TIMEOUT_MS, undefined, { signal }).then(() => Promise.reject(new Error('mirror load client not ready')))]);
  return {
    child,
    run: (jobs) => {
      const answer = next('done') as Promise<Extract<FromClient, { type: 'done' }>>;
      child.send({ type: 'run', jobs, idleTimeoutMs: IDLE_TIMEOUT_MS } satisfies ToClient);
      return answer;
    },
  };
}

interface RoundContext {
  readonly registry: BenchRegistry;
  readonly image: BenchImage;
  readonly clients: readonly Client[];
  readonly concurrent: number;
  readonly signal: AbortSignal;
}

async function runRound(context: RoundContext, name: Round['name'], target: PullTarget, daemon: BenchDaemon | undefined): Promise<Round> {
  const { registry, image, clients, signal } = context;
  const sizes = new Map(image.blobs.map((blob) => [blob.digest, blob.size]));
  const requests = roundRequests(image, context.concurrent);
  // A runtime gets the manifest before the blobs (and the mirror settles its /v2/ check).
  if (daemon) await getManifest(target, image, false, AbortSignal.any([signal, AbortSignal.timeout(MANIFEST_TIMEOUT_MS)]));
  await registry.settle(signal);
  const from = registry.entries.length;
  const fromLine = daemon?.proc.lines.length ?? 0;
  const daemonBefore = daemon ? daemonState(daemon.proc.pid) : undefined;
  const loadBefore = loadavg()[0]!;
  console.error(`bench:mirror: ${name}: ${requests.length} GETs at once through ${target.label} (load ${loadBefore.toFixed(2)})...`);
  const jobs: LoadJob[] = requests.map((r) => ({ id: r.id, url: `${target.base}/v2/${image.name}/blobs/${r.digest}`, headers: target.headers, digest: r.digest, size: sizes.get(r.digest)! }));
  const started = performance.now();
  const answers = await Promise.all(clients.map((client, k) => client.run(jobs.filter((_, i) => i % clients.length === k))));
  const wallSeconds = (performance.now() - started) / 1000;
  await registry.settle(signal);
  await sleep(SETTLE_MS, undefined, { signal });
  return {
    name,
    through: target.label,
    wallSeconds,
    requests,
    outcomes: answers.flatMap((answer) => answer.outcomes).sort((x, y) => x.id - y.id),
    registryBlobBytes: total(blobGetBytes(registry.entries.slice(from))),
    daemonBefore,
    daemonAfter: daemon ? daemonState(daemon.proc.pid) : undefined,
    daemonProblems: daemon?.proc.lines.slice(fromLine).filter((line) => line.level === 'warn' || line.level === 'error' || line.level === 'raw').map((line) => `${line.level}: ${line.msg}${line['error'] ? ` (${JSON.stringify(line['error'])})` : ''}`),
    clientLoopDelayMs: { p99: Math.max(...answers.map((a) => a.loopDelayMs.p99)), max: Math.max(...answers.map((a) => a.loopDelayMs.max)) },
    loadAverage: { before: loadBefore, after: loadavg()[0]! },
  };
}

export async function benchConcurrent(args: MirrorArgs, signal: AbortSignal): Promise<Report> {
  const title = `registry mirror: ${args.concurrent} blob GETs at once`;
  const registryBinary = findExecutable('docker-registry');
  if (!registryBinary) return skippedReport(title, 'docker-registry not found: install the Debian package docker-registry');
  const temp = makeTempDir('mirror-concurrent');
  const layersDir = join(temp.path, 'layers');
  mkdirSync(layersDir);
  const image = buildImage(layersDir, args.layerBytes, signal);
  const registry = await startRegistry(registryBinary, join(temp.path, 'registry'), signal);
  await pushImage(registry.url, image, signal);
  const clients = await Promise.all(Array.from({ length: args.clients }, () => startClient(signal)));
  const context: RoundContext = { registry, image, clients, concurrent: args.concurrent, signal };

  const rounds: Round[] = [await runRound(context, 'direct', directTarget(registry.url), undefined)];
  const clusterDir = join(temp.path, 'cluster');
  const scheduler = await startScheduler(join(clusterDir, 'scheduler'), signal);
  const configure =
    args.concurrentPieces === undefined
      ? undefined
      : (config: Record<string, Record<string, unknown>>) => void (config['download'] = { ...config['download'], concurrentPieceCount: args.concurrentPieces });
  const [a, b] = await Promise.all(['node-a', 'node-b'].map((name) => startDaemon(clusterDir, name, false, scheduler.port, signal, configure)));
  for (const daemon of [a!, b!]) await announced(scheduler, daemon, signal);
  const targetA = mirrorTarget('node-a mirror', a!.ports.proxy, registry.url);
  rounds.push(await runRound(context, 'cold', targetA, a));
  rounds.push(await runRound(context, 'warm', targetA, a));
  rounds.push(await runRound(context, 'peer', mirrorTarget('node-b mirror', b!.ports.proxy, registry.url), b));

  for (const client of clients) client.child.send({ type: 'exit' } satisfies ToClient);
  await sleep(IDLE_SETTLE_MS, undefined, { signal });
  const idleFds = [
    { daemon: a!.name, before: rounds.find((r) => r.name === 'cold')!.daemonBefore!.fds, afterIdle: daemonState(a!.proc.pid).fds },
    { daemon: b!.name, before: rounds.find((r) => r.name === 'peer')!.daemonBefore!.fds, afterIdle: daemonState(b!.proc.pid).fds },
  ];
  await Promise.all([a!.proc.stop(), b!.proc.stop()]);
  await scheduler.proc.stop();
  await registry.stop();
  await temp.remove();
  const sizes = new Map(image.blobs.map((blob) => [blob.digest, blob.size]));
  return concurrentReport(title, {
    concurrent: args.concurrent,
    clients: args.clients,
    image: { layers: image.layers.map((layer) => layer.size), blobs: image.blobs.length, hotDigest: image.layers[0]!.digest },
    bytesPerRound: roundRequests(image, args.concurrent).reduce((sum, r) => sum + sizes.get(r.digest)!, 0),
    rounds,
    idleFds,
  });
}

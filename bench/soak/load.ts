/**
 * The soak's steady mix, three loops against one dfdaemon until `stop` aborts:
 * - dfget downloads (through the daemon's socket, `--digest sha256`) of files of varied sizes from
 *   the fast origin; each URL gets a `?n=` of a few values so repeats hit the store until GC
 *   evicts the task, then come from the seed or the origin again;
 * - cancellations: a dfget of a large file from the rate-limited origin, killed (SIGINT and
 *   SIGKILL in turn) a moment after the daemon started the download; each kill is an injected
 *   fault the log classification may blame;
 * - registry mirror pulls: a manifest and every blob of one of a few images, through the daemon's
 *   proxy port with `X-Dragonfly-Registry`, each blob's sha256 checked.
 * A loop stops starting work when `stop` aborts; the hard `signal` (Ctrl-C, the deadline) also
 * kills what runs. Every dfget runs in its own process group, killed by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { onCleanup } from '../lib/cleanup.ts';
import { killGroup } from '../lib/spawn.ts';
import { fetchBlob, send } from '../mirror/http.ts';
import { OCI_MANIFEST, type BenchImage } from '../mirror/image.ts';
import type { InjectedFault } from './analysis.ts';

export interface SoakFile {
  /** Path under the origins' root, without the leading slash. */
  readonly name: string;
  readonly size: number;
  readonly sha256: string;
  /** Relative weight among the dfget files. */
  readonly weight: number;
}

export type OpKind = 'dfget' | 'cancel' | 'mirror';

export interface OpRecord {
  readonly kind: OpKind;
  readonly startMs: number;
  readonly endMs: number;
  readonly ok: boolean;
  readonly url: string;
  readonly bytes: number;
  /** For a cancellation: what happened; for a failure: why. */
  readonly detail?: string | undefined;
}

export interface MirrorTarget {
  readonly proxyPort: number;
  /** `http://127.0.0.1:PORT` of the registry. */
  readonly registryUrl: string;
  readonly images: readonly BenchImage[];
}

export interface LoadPlan {
  readonly dfgetEntry: string;
  readonly socketPath: string;
  readonly env: NodeJS.ProcessEnv;
  /** `http://127.0.0.1:PORT/` */
  readonly fastBase: string;
  readonly slowBase: string;
  readonly files: readonly SoakFile[];
  readonly cancelFile: SoakFile;
  readonly outDir: string;
  readonly mirror: MirrorTarget | undefined;
  readonly random: () => number;
  /** Resolves true once the daemon logged `download started` for `url` after `sinceMs`, false on timeout. */
  waitForStarted(url: string, sinceMs: number, timeoutMs: number, signal: AbortSignal): Promise<boolean>;
  onFault(fault: InjectedFault): void;
  record(op: OpRecord): void;
}

/** Variants (`?n=`) per dfget file: about one revisit a minute each at the loop's pace, so GC (20 s TTL) evicts most. */
export const COPIES_PER_FILE = 4;
/** Names of the large file cancellations use: few, so partial tasks left by kills stay bounded. */
export const CANCEL_COPIES = 4;
const DFGET_PAUSE_MS = 500;
const CANCEL_EVERY_MS = 12_000;
const MIRROR_PAUSE_MS = 3_000;
const DFGET_TIMEOUT_MS = 90_000;
const STARTED_TIMEOUT_MS = 8_000;
const STDERR_KEEP = 2048;

/** A deterministic generator (mulberry32), so a soak's mix can be replayed with the same --seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function pickWeighted<T extends { readonly weight: number }>(items: readonly T[], random: () => number): T {
  let left = random() * items.reduce((sum, item) => sum + item.weight, 0);
  for (const item of items) {
    left -= item.weight;
    if (left < 0) return item;
  }
  return items[items.length - 1]!;
}

interface Dfget {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly done: () => boolean;
  readonly stderr: () => string;
}

function startDfget(plan: LoadPlan, url: string, output: string, sha256: string, signal: AbortSignal): Dfget {
  const argv = [plan.dfgetEntry, url, '-O', output, '--endpoint', plan.socketPath, '--no-progress', '--overwrite', '--digest', `sha256:${sha256}`, '--timeout', `${DFGET_TIMEOUT_MS / 1000}s`];
  const child = spawn(process.execPath, argv, { env: plan.env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  const unregister = onCleanup(`dfget (pid ${child.pid})`, () => killGroup(child, 'SIGKILL'));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-STDERR_KEEP)));
  let finished = false;
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), DFGET_TIMEOUT_MS + 10_000);
  const onAbort = () => killGroup(child, 'SIGKILL');
  signal.addEventListener('abort', onAbort, { once: true });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (error) => ((stderr += `\n${error.message}`), resolve({ code: null, signal: null })));
    child.once('exit', (code, sig) => resolve({ code, signal: sig }));
  }).finally(() => {
    finished = true;
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    void unregister();
  });
  return { child, exited, done: () => finished, stderr: () => stderr.trim() };
}

/** Sleeps unless `stop` aborts first; false when it did. */
async function pause(ms: number, stop: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal: stop });
    return true;
  } catch {
    return false;
  }
}

async function dfgetLoop(plan: LoadPlan, stop: AbortSignal, signal: AbortSignal): Promise<void> {
  for (let i = 0; !stop.aborted; i++) {
    const file = pickWeighted(plan.files, plan.random);
    const url = `${plan.fastBase}${file.name}?n=${Math.floor(plan.random() * COPIES_PER_FILE)}`;
    const output = join(plan.outDir, `dfget-${i}.bin`);
    const startMs = Date.now();
    const run = startDfget(plan, url, output, file.sha256, signal);
    const { code, signal: killedBy } = await run.exited;
    rmSync(output, { force: true });
    if (signal.aborted) return;
    const ok = code === 0;
    plan.record({ kind: 'dfget', startMs, endMs: Date.now(), ok, url, bytes: ok ? file.size : 0, detail: ok ? undefined : `exit ${code ?? killedBy}: ${run.stderr().slice(-300)}` });
    if (!(await pause(DFGET_PAUSE_MS, stop))) return;
  }
}

async function cancelLoop(plan: LoadPlan, stop: AbortSignal, signal: AbortSignal): Promise<void> {
  // Off the dfget loop's phase, so a kill does not always land on a start-up.
  if (!(await pause(CANCEL_EVERY_MS / 2, stop))) return;
  for (let i = 0; !stop.aborted; i++) {
    const cycleStart = Date.now();
    const file = plan.cancelFile;
    const url = `${plan.slowBase}${file.name}?c=${Math.floor(plan.random() * CANCEL_COPIES)}`;
    const output = join(plan.outDir, `cancel-${i}.bin`);
    const run = startDfget(plan, url, output, file.sha256, signal);
    const ended = new AbortController();
    void run.exited.then(() => ended.abort());
    const started = await plan.waitForStarted(url, cycleStart, STARTED_TIMEOUT_MS, AbortSignal.any([ended.signal, signal]));
    // A moment into the download: a few pieces in, most still to come (the origin sends 2 MB/s a connection).
    if (!run.done()) await pause(300 + Math.floor(plan.random() * 1700), ended.signal);
    let detail: string;
    if (run.done()) detail = 'dfget ended before the kill';
    else {
      const how: NodeJS.Signals = i % 2 === 0 ? 'SIGINT' : 'SIGKILL';
      killGroup(run.child, how);
      const what = started ? 'killed mid-download' : 'killed before the daemon started the download';
      plan.onFault({ kind: 'cancel', atMs: Date.now(), detail: `dfget ${how}, ${what}` });
      detail = `${how}: ${what}`;
    }
    const { code, signal: killedBy } = await run.exited;
    rmSync(output, { force: true });
    if (signal.aborted) return;
    const endedOnItsOwn = detail === 'dfget ended before the kill';
    plan.record({
      kind: 'cancel',
      startMs: cycleStart,
      endMs: Date.now(),
      // A dfget that ended by itself must have succeeded; a killed one is what was asked.
      ok: endedOnItsOwn ? code === 0 : true,
      url,
      bytes: 0,
      detail: endedOnItsOwn && code !== 0 ? `${detail}, exit ${code ?? killedBy}: ${run.stderr().slice(-300)}` : detail,
    });
    if (!(await pause(Math.max(0, CANCEL_EVERY_MS - (Date.now() - cycleStart)), stop))) return;
  }
}

async function pullImage(mirror: MirrorTarget, image: BenchImage, signal: AbortSignal): Promise<number> {
  const base = `http://127.0.0.1:${mirror.proxyPort}/v2/${image.name}`;
  const headers = { 'x-dragonfly-registry': mirror.registryUrl };
  const manifest = await send(`${base}/manifests/${image.tag}`, { headers: { ...headers, accept: OCI_MANIFEST }, timeoutMs: 30_000, signal });
  if (manifest.status !== 200) throw new Error(`manifest answered ${manifest.status}: ${manifest.body.toString('utf8').slice(0, 200)}`);
  if (!manifest.body.equals(image.manifestBytes)) throw new Error('manifest bytes differ from those pushed');
  let bytes = 0;
  for (const blob of image.blobs) {
    const got = await fetchBlob(`${base}/blobs/${blob.digest}`, { headers, timeoutMs: 60_000, signal });
    if (`sha256:${got.sha256}` !== blob.digest || got.bytes !== blob.size) throw new Error(`blob ${blob.digest}: got ${got.bytes} bytes with sha256:${got.sha256}`);
    bytes += got.bytes;
  }
  return bytes;
}

async function mirrorLoop(plan: LoadPlan, mirror: MirrorTarget, stop: AbortSignal, signal: AbortSignal): Promise<void> {
  // A third of the cancel period in, so the three loops' first requests do not coincide.
  if (!(await pause(CANCEL_EVERY_MS / 3, stop))) return;
  while (!stop.aborted) {
    const image = mirror.images[Math.floor(plan.random() * mirror.images.length)]!;
    const startMs = Date.now();
    const url = `mirror ${image.name}:${image.tag}`;
    try {
      const bytes = await pullImage(mirror, image, signal);
      plan.record({ kind: 'mirror', startMs, endMs: Date.now(), ok: true, url, bytes });
    } catch (error) {
      if (signal.aborted) return;
      plan.record({ kind: 'mirror', startMs, endMs: Date.now(), ok: false, url, bytes: 0, detail: (error as Error).message });
    }
    if (!(await pause(MIRROR_PAUSE_MS, stop))) return;
  }
}

/** Runs the three loops until `stop` aborts and each has finished what it started. */
export async function runLoad(plan: LoadPlan, stop: AbortSignal, signal: AbortSignal): Promise<void> {
  await Promise.all([
    dfgetLoop(plan, stop, signal),
    cancelLoop(plan, stop, signal),
    ...(plan.mirror ? [mirrorLoop(plan, plan.mirror, stop, signal)] : []),
  ]);
}

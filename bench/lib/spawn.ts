/**
 * Child processes for the macro benchmarks: each in its own process group (so a wrapper and
 * everything under it die together, by PID), bounded in time, killed on abort or cleanup.
 * Peak RSS and CPU time come from GNU time's `%M %U %S` (the kernel's rusage at wait) when
 * /usr/bin/time is GNU time, else from polling /proc/<pid>/status VmHWM (can miss a peak in the
 * last poll interval; no CPU time then).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { onCleanup } from './cleanup.ts';

const GNU_TIME = '/usr/bin/time';
const TIME_FORMAT = '%M %U %S';
const POLL_MS = 20;
const STDERR_KEEP_BYTES = 4096;

export type RssMethod = 'gnu-time' | 'proc-vmhwm';

let rssMethod: RssMethod | undefined;

/**
 * The environment of the servers a benchmark starts: the addon in use (an inherited DF_NO_ADDON
 * is dropped), and DF_BENCH_NODE_OPTIONS as their NODE_OPTIONS (nothing inherited), e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where a daemon's CPU goes.
 */
export function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: process.env['DF_BENCH_NODE_OPTIONS'] ?? '' };
  delete env['DF_NO_ADDON'];
  return env;
}

/** Which way peak RSS is measured here; probes /usr/bin/time once. DF_BENCH_RSS=proc forces polling. */
export function peakRssMethod(): RssMethod {
  if (rssMethod) return rssMethod;
  rssMethod = 'proc-vmhwm';
  if (existsSync(GNU_TIME) && process.env['DF_BENCH_RSS'] !== 'proc') {
    const probe = join(tmpdir(), `df-bench-time-probe-${process.pid}`);
    const result = spawnSync(GNU_TIME, ['-f', TIME_FORMAT, '-o', probe, 'true'], { stdio: 'ignore', timeout: 5_000 });
    try {
      if (result.status === 0 && /^\d+ [\d.]+ [\d.]+\s*$/.test(readFileSync(probe, 'utf8'))) rssMethod = 'gnu-time';
    } catch {
      // No output file: not GNU time (busybox time has no -o); keep polling /proc.
    } finally {
      rmSync(probe, { force: true });
    }
  }
  return rssMethod;
}

export interface MeasuredRun {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly wallSeconds: number;
  /** Peak resident set of the measured process, in bytes (0 if unknown). */
  readonly peakRssBytes: number;
  /** User + system CPU seconds of the measured process, when GNU time measured it. */
  readonly cpuSeconds?: number | undefined;
  readonly stderr: string;
}

export interface RunOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}

/**
 * Kills a whole process group by its leader's PID. Once the leader has been reaped its PID may be
 * reused, so a finished child is left alone.
 */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function readVmHwmBytes(pid: number): number {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0; // The process has exited between polls.
  }
}

function readGnuTime(path: string): { peakRssBytes: number; cpuSeconds?: number } {
  try {
    // GNU time writes "Command exited with non-zero status N" first when the child failed.
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    const [kb, user, system] = lines[lines.length - 1]!.split(' ').map(Number);
    if (kb === undefined || !Number.isFinite(kb)) return { peakRssBytes: 0 };
    return { peakRssBytes: kb * 1024, cpuSeconds: (user ?? 0) + (system ?? 0) };
  } catch {
    return { peakRssBytes: 0 };
  } finally {
    rmSync(path, { force: true });
  }
}

/** Runs a command to its end, measuring wall time and peak RSS; kills it on timeout or abort. */
export async function runMeasured(command: string, args: readonly string[], options: RunOptions): Promise<MeasuredRun> {
  options.signal.throwIfAborted();
  const method = peakRssMethod();
  const rssFile = join(tmpdir(), `df-bench-rss-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const [file, argv] = method === 'gnu-time' ? [GNU_TIME, ['-f', TIME_FORMAT, '-o', rssFile, command, ...args]] : [command, [...args]];
  const started = performance.now();
  const child = spawn(file, argv, { env: options.env ?? process.env, cwd: options.cwd, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  const unregister = onCleanup(`process ${command} (pid ${child.pid})`, () => killGroup(child, 'SIGKILL'));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEEP_BYTES);
  });
  let polledPeak = 0;
  const poller =
    method === 'proc-vmhwm' && child.pid !== undefined
      ? setInterval(() => (polledPeak = Math.max(polledPeak, readVmHwmBytes(child.pid!))), POLL_MS)
      : undefined;
  let killedFor: string | undefined;
  const kill = (reason: string) => {
    killedFor ??= reason;
    killGroup(child, 'SIGKILL');
  };
  const timer = setTimeout(() => kill(`timed out after ${options.timeoutMs / 1000}s`), options.timeoutMs);
  const onAbort = () => kill('aborted');
  options.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, sig) => resolve([code, sig]));
    });
    const wallSeconds = (performance.now() - started) / 1000;
    await new Promise<void>((resolve) => (child.stderr!.readableEnded ? resolve() : child.stderr!.once('close', resolve)));
    if (killedFor) throw new Error(`${command} ${killedFor}; stderr: ${stderr.trim() || '(empty)'}`);
    const usage = method === 'gnu-time' ? readGnuTime(rssFile) : { peakRssBytes: polledPeak };
    return { exitCode, signal, wallSeconds, ...usage, stderr };
  } finally {
    clearTimeout(timer);
    if (poller) clearInterval(poller);
    options.signal.removeEventListener('abort', onAbort);
    rmSync(rssFile, { force: true });
    await unregister();
  }
}

/** A long-running child (a server): stop() sends SIGTERM to its group, then SIGKILL after graceMs. */
export function startBackground(
  label: string,
  command: string,
  args: readonly string[],
  options: { cwd?: string; graceMs?: number } = {},
): { child: ChildProcess; stderr: () => string; stop: () => Promise<void> } {
  const child = spawn(command, [...args], { cwd: options.cwd, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEEP_BYTES);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const stop = onCleanup(`${label} (pid ${child.pid})`, async () => {
    killGroup(child, 'SIGTERM');
    const grace = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), options.graceMs ?? 3_000).unref());
    if ((await Promise.race([exited, grace])) === 'late') {
      killGroup(child, 'SIGKILL');
      await exited;
    }
  });
  return { child, stderr: () => stderr, stop };
}

/** The absolute path of an executable found on PATH (or given absolute), else undefined. */
export function findExecutable(name: string): string | undefined {
  const candidates = isAbsolute(name) ? [name] : (process.env['PATH'] ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name));
  for (const candidate of [...candidates, join('/usr/sbin', name), join('/usr/bin', name)]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; try the next directory.
    }
  }
  return undefined;
}

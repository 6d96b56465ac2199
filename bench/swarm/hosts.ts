/**
 * Processes on simulated hosts. Everything runs through `ip netns exec NS CMD`, which enters the
 * namespace and then execs CMD in place: the PID the harness holds is CMD's own, so /proc/<pid>
 * and the kill by PID (of its process group) reach it.
 */
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { runMeasured, startBackground, type MeasuredRun } from '../lib/spawn.ts';
import type { SimHost } from './netns.ts';

const execFileAsync = promisify(execFile);

/** The launcher that runs a command inside the host's namespace. */
export function launcherFor(host: SimHost): string[] {
  return ['ip', 'netns', 'exec', host.netns];
}

/** A client run to its end inside the host (GNU time measures it when installed). */
export function runInHost(
  host: SimHost,
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs: number; signal: AbortSignal; cwd?: string },
): Promise<MeasuredRun> {
  return runMeasured('ip', ['netns', 'exec', host.netns, command, ...args], options);
}

/** A server inside the host, stopped by PID (SIGTERM then SIGKILL) by stop() or the bench's cleanup. */
export function startInHost(host: SimHost, label: string, command: string, args: readonly string[], options: { cwd?: string; graceMs?: number } = {}) {
  return startBackground(`${label} on ${host.netns}`, 'ip', ['netns', 'exec', host.netns, command, ...args], options);
}

/** A short command inside the host; resolves its stdout, rejects with its stderr. */
export async function execInHost(host: SimHost, command: string, args: readonly string[], timeoutMs = 10_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync('ip', ['netns', 'exec', host.netns, command, ...args], { timeout: timeoutMs, maxBuffer: 16 << 20 });
    return stdout;
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`${command} ${args.join(' ')} in ${host.netns} failed: ${stderr || (error as Error).message}`, { cause: error });
  }
}

/**
 * Waits until `url` answers HEAD with 200 when asked from inside `host` (curl), or fails after
 * `timeoutMs`, when `alive()` turns false, or on abort.
 */
export async function waitForHttp(host: SimHost, url: string, timeoutMs: number, signal: AbortSignal, alive: () => boolean = () => true): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  while (performance.now() < deadline) {
    signal.throwIfAborted();
    if (!alive()) throw new Error(`the server for ${url} exited before it answered`);
    try {
      const code = await execInHost(host, 'curl', ['-s', '-o', '/dev/null', '-I', '-w', '%{http_code}', '--max-time', '2', url], 5_000);
      if (code.trim() === '200') return;
      last = `HEAD answered ${code.trim()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000}s from ${host.netns}: ${last}`);
}

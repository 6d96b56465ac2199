/**
 * Running third-party binaries for end-to-end tests: one-shot commands with a time limit and
 * long-running servers, both in their own process group so a kill by PID also reaches the
 * helpers they fork (containerd's shims, podman's children).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ToolError } from './errors.ts';

/** What a finished command left behind. `code` is null when a signal ended it. */
export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the time limit killed it. */
  readonly timedOut: boolean;
}

export interface CommandOptions {
  /** The whole environment of the child (not merged with ours): pass `process.env` entries yourself. */
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly cwd?: string | undefined;
  /** Killed (SIGKILL to its process group) after this long; default 60 s. */
  readonly timeoutMs?: number | undefined;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;
/** ctr prints a progress frame per 100 ms: keep the tail, which holds the outcome. */
const MAX_CAPTURED_CHARS = 1 << 20;

function appendCapped(sofar: string, text: string): string {
  const joined = sofar + text;
  return joined.length > MAX_CAPTURED_CHARS ? joined.slice(joined.length - MAX_CAPTURED_CHARS) : joined;
}

/** Sends `signal` to the child's process group (it leads one: spawned detached), else to the child. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already; the child itself may still need the signal.
    child.kill(signal);
  }
}

/**
 * Runs `bin args` to completion and resolves its exit and output; never rejects for a non-zero
 * exit (callers decide), only when the binary cannot be started at all.
 */
export function runCommand(bin: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout = appendCapped(stdout, text)));
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr = appendCapped(stderr, text)));
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup(child, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new ToolError('DF_E2E_TOOL_FAILED', `cannot start ${bin}: ${error.message}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** The last `chars` characters of a tool's output, for error messages. */
export function tail(text: string, chars = 3_000): string {
  return text.length > chars ? `...${text.slice(text.length - chars)}` : text;
}

/** Throws DF_E2E_TOOL_FAILED (or _TIMEOUT) with the output's tail unless `result` is a success. */
export function mustSucceed(result: CommandResult, what: string): CommandResult {
  if (result.timedOut) throw new ToolError('DF_E2E_TOOL_TIMEOUT', `${what} timed out; stderr:\n${tail(result.stderr)}`);
  if (result.code !== 0) {
    const output = `${tail(result.stderr)}${result.stdout ? `\nstdout:\n${tail(result.stdout, 1_000)}` : ''}`;
    throw new ToolError('DF_E2E_TOOL_FAILED', `${what} exited ${result.code ?? result.signal}; stderr:\n${output}`);
  }
  return result;
}

/** A server-like process kept running in the background, its output split into lines. */
export class BackgroundProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Every stderr and stdout line so far, capped at the last 1 MiB each, for diagnostics. */
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(
    name: string,
    bin: string,
    args: readonly string[],
    options: { env?: NodeJS.ProcessEnv; cwd?: string; onLine?: (line: string, stream: 'stdout' | 'stderr') => void } = {},
  ) {
    this.name = name;
    this.child = spawn(bin, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const partial = { stdout: '', stderr: '' };
    for (const stream of ['stdout', 'stderr'] as const) {
      this.child[stream]!.setEncoding('utf8').on('data', (text: string) => {
        this[stream] = appendCapped(this[stream], text);
        const lines = (partial[stream] + text).split('\n');
        partial[stream] = lines.pop()!;
        for (const line of lines) options.onLine?.(line, stream);
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.once('error', (error) => {
        this.stderr += `\ncannot start ${bin}: ${error.message}`;
        this.#exit = { code: null, signal: null };
        resolve(this.#exit);
      });
      this.child.once('close', (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** SIGTERM to its process group, SIGKILL after `graceMs`; resolves when it has exited. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.#exit) return;
    signalGroup(this.child, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(this.child, 'SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Mount points at or below `dir`, deepest first (the order to unmount them in). */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const points: string[] = [];
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    // Field 2 is the mount point with spaces and the like written as octal escapes.
    const field = line.split(' ')[1];
    if (!field) continue;
    const point = field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    if (point === dir || point.startsWith(prefix)) points.push(point);
  }
  return points.sort((a, b) => b.length - a.length);
}

/** Unmounts everything mounted at or below `dir` (lazily, so a busy mount cannot wedge cleanup). */
export async function unmountUnder(dir: string): Promise<void> {
  for (const point of mountsUnder(dir)) {
    mustSucceed(await runCommand('umount', ['--lazy', point], { timeoutMs: 10_000 }), `umount ${point}`);
  }
}

/** Runs the real dfget CLI as a child process on the Node that runs the tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** The executable a user runs (a path to spawn, not a module to import). */
export const DFGET_BIN = join(import.meta.dirname, '..', '..', 'daemon', 'bin', 'dfget.ts');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliRun {
  readonly child: ChildProcess;
  readonly result: Promise<CliResult>;
}

/**
 * Starts `dfget args...` with XDG_CACHE_HOME in `cacheHome`; the child is killed and the result
 * rejects if it has not exited within `timeoutMs`.
 */
export function startDfget(args: readonly string[], options: { cacheHome: string; cwd?: string; timeoutMs?: number }): CliRun {
  const child = spawn(process.execPath, [DFGET_BIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, XDG_CACHE_HOME: options.cacheHome, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const result = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dfget ${args.join(' ')} did not exit within ${timeoutMs} ms; stderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, result };
}

export function dfget(args: readonly string[], options: { cacheHome: string; cwd?: string; timeoutMs?: number }): Promise<CliResult> {
  return startDfget(args, options).result;
}

/** A stack frame line such as `    at foo (file.ts:1:2)`: never shown to a user. */
export const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

/** The lines dfget wrote as errors (`dfget: error: ...`), without JSON log lines. */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('dfget: error:'));
}

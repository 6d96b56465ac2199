/**
 * Real child processes for tests: a Node script on the test's Node, its stderr JSON log lines
 * collected, a wait for a given line, and a stop by PID (SIGTERM, then SIGKILL if it lingers).
 * Every process started here is stopped when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { TestContext } from 'vitest';

export interface LogLine {
  readonly msg?: string;
  readonly level?: string;
  readonly [key: string]: unknown;
}

export class NodeProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  stderr = '';
  stdout = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #waiters: Array<() => void> = [];

  constructor(name: string, script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    this.name = name;
    this.child = spawn(process.execPath, [script, ...args], {
      env: { ...process.env, NODE_OPTIONS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let partial = '';
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      this.stderr += text;
      partial += text;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ msg: line, level: 'raw' });
        }
      }
      this.#wake();
    });
    this.child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.#exit = { code, signal };
        this.#wake();
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** The first log line matching `match`; fails if the process exits first or `timeoutMs` pass. */
  async waitForLine(match: (line: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(match);
      if (found) return found;
      if (this.#exit) throw new Error(`${this.name} exited (${JSON.stringify(this.#exit)}) before the expected log line; stderr:\n${this.stderr.slice(-4000)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.name}: no expected log line within ${timeoutMs} ms; stderr:\n${this.stderr.slice(-4000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 8_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.#exit) return this.#exit;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  /** Kills at once, as a crash would. */
  async kill(): Promise<void> {
    if (this.#exit) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Starts a process that is stopped (by PID) when the test ends. */
export function startProcess(t: TestContext, name: string, script: string, args: readonly string[], env?: NodeJS.ProcessEnv): NodeProcess {
  const proc = new NodeProcess(name, script, args, env);
  t.onTestFinished(async () => {
    await proc.stop('SIGTERM', 3_000);
  });
  return proc;
}

/**
 * A long-running Node server (dfscheduler, dfdaemon) as a child of the bench: in its own process
 * group, JSON log lines on stderr parsed as they come (so its "ready" line can be awaited), stopped
 * by PID (SIGTERM to the group, SIGKILL after a grace period) by `stop()` or by the bench's cleanup
 * on error, deadline and Ctrl-C. No GNU time wrapper: its CPU and RSS are read from /proc/<pid>.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { onCleanup } from '../lib/cleanup.ts';
import { killGroup } from '../lib/spawn.ts';

export interface LogLine {
  readonly msg?: string;
  readonly level?: string;
  readonly [key: string]: unknown;
}

/** Lines kept per process: enough for start-up and every warning of a run, bounded for a long one. */
const MAX_LINES = 20_000;
const STDERR_TAIL_BYTES = 8192;
const STOP_GRACE_MS = 8_000;

export class ServerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  #stderrTail = '';
  #exit: string | undefined;
  #waiters: Array<() => void> = [];
  readonly #listeners: Array<(line: LogLine) => void> = [];
  readonly #exited: Promise<void>;
  readonly #unregister: () => Promise<void>;

  /**
   * `launcher`: a command that runs Node for us, e.g. `['ip', 'netns', 'exec', NS]`; it must exec
   * Node in place (same PID), so /proc/<pid> and the kill by PID still reach the server itself.
   */
  constructor(name: string, script: string, args: readonly string[], env: NodeJS.ProcessEnv, launcher: readonly string[] = []) {
    this.name = name;
    // process.execPath is the pinned Node 24 running the bench (system node cannot run .ts).
    const argv = [...launcher, process.execPath, script, ...args];
    this.child = spawn(argv[0]!, argv.slice(1), { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let partial = '';
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      this.#stderrTail = (this.#stderrTail + text).slice(-STDERR_TAIL_BYTES);
      partial += text;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const line of parts) {
        if (this.lines.length >= MAX_LINES) this.lines.splice(0, MAX_LINES / 2);
        let parsed: LogLine;
        try {
          parsed = JSON.parse(line) as LogLine;
        } catch {
          parsed = { msg: line, level: 'raw' };
        }
        this.lines.push(parsed);
        for (const listener of this.#listeners) listener(parsed);
      }
      this.#wake();
    });
    this.#exited = new Promise<void>((resolve) => {
      this.child.once('error', (error) => {
        this.#exit ??= `could not start: ${error.message}`;
        this.#wake();
        resolve();
      });
      this.child.once('exit', (code, signal) => {
        this.#exit ??= `exited with ${code ?? signal}`;
        this.#wake();
        resolve();
      });
    });
    this.#unregister = onCleanup(`${name} (pid ${this.child.pid})`, () => this.#terminate());
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** Calls `listener` with every log line from now on (`lines` keeps only the latest MAX_LINES). */
  onLine(listener: (line: LogLine) => void): void {
    this.#listeners.push(listener);
  }

  stderrTail(): string {
    return this.#stderrTail;
  }

  /** Log lines at warn or error level (and anything not JSON). */
  problems(): LogLine[] {
    return this.lines.filter((line) => line.level === 'warn' || line.level === 'error' || line.level === 'raw');
  }

  /** The first log line matching `match`; fails if the process exits first, on timeout or abort. */
  async waitForLine(match: (line: LogLine) => boolean, timeoutMs: number, signal: AbortSignal): Promise<LogLine> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      signal.throwIfAborted();
      const found = this.lines.find(match);
      if (found) return found;
      if (this.#exit) throw new Error(`${this.name} ${this.#exit} before it was ready; stderr: ${this.#stderrTail.trim().slice(-2000)}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`${this.name} was not ready within ${timeoutMs / 1000}s; stderr: ${this.#stderrTail.trim().slice(-2000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** SIGTERM, then SIGKILL after the grace period; unregisters the cleanup. */
  stop(): Promise<void> {
    return this.#unregister();
  }

  async #terminate(): Promise<void> {
    if (!this.running) return;
    killGroup(this.child, 'SIGTERM');
    const late = await Promise.race([this.#exited.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), STOP_GRACE_MS).unref())]);
    if (late) {
      killGroup(this.child, 'SIGKILL');
      await this.#exited;
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

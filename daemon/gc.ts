/**
 * Storage GC, minimal: every `gc.interval`, delete tasks not used for `taskTTL`, then, while the
 * disk holding the store is fuller than `diskHighThresholdPercent`, evict our least recently used
 * tasks until it is below `diskLowThresholdPercent`. Tasks are finished ones and those whose
 * download failed in this process (kept for their pieces, counted by the bytes they hold). Tasks
 * being downloaded are never touched; other files on the disk are never touched either.
 */
import { statfs } from 'node:fs/promises';
import type { TaskRegistry, TaskView } from '../engine/index.ts';
import type { Logger } from './log.ts';

export interface GcPolicy {
  readonly intervalMs: number;
  readonly taskTtlMs: number;
  readonly diskHighThresholdPercent: number;
  readonly diskLowThresholdPercent: number;
}

export interface DiskUsage {
  readonly totalBytes: number;
  readonly usedBytes: number;
}

/** Which tasks to evict, oldest use first. Pure. */
export function tasksToEvict(tasks: readonly TaskView[], policy: GcPolicy, now: number, disk?: DiskUsage): TaskView[] {
  const idle = tasks.filter((task) => !task.downloading).sort((a, b) => a.updatedAt - b.updatedAt);
  const evict = idle.filter((task) => now - task.updatedAt > policy.taskTtlMs);
  if (!disk || disk.totalBytes <= 0) return evict;
  let used = disk.usedBytes - evict.reduce((sum, task) => sum + task.finishedBytes, 0);
  if ((disk.usedBytes / disk.totalBytes) * 100 <= policy.diskHighThresholdPercent) return evict;
  const low = (policy.diskLowThresholdPercent / 100) * disk.totalBytes;
  for (const task of idle) {
    if (used <= low) break;
    if (evict.includes(task)) continue;
    evict.push(task);
    used -= task.finishedBytes;
  }
  return evict;
}

export class StorageGc {
  readonly #tasks: TaskRegistry;
  readonly #dir: string;
  readonly #policy: GcPolicy;
  readonly #log: Logger;
  readonly #onEvicted: (taskId: string) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(init: { tasks: TaskRegistry; dir: string; policy: GcPolicy; log: Logger; onEvicted?: (taskId: string) => void }) {
    this.#tasks = init.tasks;
    this.#dir = init.dir;
    this.#policy = init.policy;
    this.#log = init.log;
    this.#onEvicted = init.onEvicted ?? (() => {});
  }

  start(): void {
    this.#timer = setInterval(() => void this.runOnce(), this.#policy.intervalMs);
    this.#timer.unref();
  }

  async runOnce(): Promise<string[]> {
    if (this.#running) await this.#running;
    const evicted: string[] = [];
    const run = (async () => {
      const tasks = await this.#tasks.list();
      const disk = await this.#diskUsage();
      for (const task of tasksToEvict(tasks, this.#policy, Date.now(), disk)) {
        if (await this.#tasks.remove(task.taskId)) {
          evicted.push(task.taskId);
          this.#onEvicted(task.taskId);
        }
      }
      if (evicted.length > 0) this.#log.info('gc evicted tasks', { count: evicted.length });
    })().catch((error: unknown) => this.#log.error('gc failed', { error }));
    this.#running = run;
    await run;
    this.#running = undefined;
    return evicted;
  }

  /** Without disk usage only the TTL rule runs this round; said as an error, since the disk may be filling. */
  async #diskUsage(): Promise<DiskUsage | undefined> {
    try {
      const fs = await statfs(this.#dir);
      return { totalBytes: fs.blocks * fs.bsize, usedBytes: (fs.blocks - fs.bavail) * fs.bsize };
    } catch (error) {
      this.#log.error('gc cannot read disk usage, evicting by TTL only', { dir: this.#dir, error });
      return undefined;
    }
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }
}

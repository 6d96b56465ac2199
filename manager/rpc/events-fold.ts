/**
 * Folds what schedulers report (ReportEvents) into the task index and the hosts table, and tells
 * the event bus. Peer progress is applied to a task kept in memory and marked dirty; every
 * `flushIntervalMs` the dirty tasks are written whole and published once each, so a task's
 * event goes out at most twice a second however many pieces arrive. Host events write at once
 * (they are rare). A sweep deletes tasks not seen for `taskIndex.ttl`.
 */
import type { Counter, Logger } from '../../api/index.ts';
import type { ManagerContext } from '../context.ts';
import { eventBus, type EventBus } from '../events.ts';
import { sharedCounter } from '../metrics.ts';
import { touchHost, upsertHost, type HostInput } from '../store/registry.ts';
import { findTask, indexedTaskView, saveTask, sweepTaskIndex, type IndexedTask } from '../store/task-index.ts';

export const FOLD_DEFAULTS = Object.freeze({
  flushIntervalMs: 500,
  /** Tasks held in memory; the least recently changed leave first (the database keeps them). */
  maxLiveTasks: 10_000,
  /** A host seen in peer events is marked active in `hosts` at most this often. */
  hostTouchIntervalMs: 5_000,
  /** The TTL sweep runs this often, at most. */
  maxSweepIntervalMs: 60 * 60_000,
});

/** A host as a scheduler reports it: what registry.ts upserts, less the cluster (the stream's). */
export interface HostReport extends Omit<HostInput, 'clusterId'> {
  readonly kind: 'announced' | 'left';
  readonly version: string;
}

export interface PeerReport {
  readonly taskId: string;
  readonly url: string;
  readonly digest: string | null;
  readonly contentLength: number | null;
  readonly hostId: string;
  readonly hostname: string;
  readonly ip: string;
  readonly state: string;
  readonly finishedBytes: number;
  readonly origin: number;
  readonly seedPeer: number;
  readonly peer: number;
}

export class EventFold {
  readonly #context: ManagerContext;
  readonly #bus: EventBus;
  readonly #log: Logger;
  readonly #live = new Map<string, IndexedTask>();
  readonly #loading = new Map<string, Promise<IndexedTask>>();
  readonly #dirty = new Set<string>();
  readonly #touchedAt = new Map<string, number>();
  readonly #received: Counter;
  #timers: NodeJS.Timeout[] = [];
  #flushing: Promise<void> = Promise.resolve();

  constructor(context: ManagerContext) {
    this.#context = context;
    this.#bus = eventBus(context.store);
    this.#log = context.log.child({ component: 'events' });
    this.#received = sharedCounter(context.metrics, 'dragonfly_manager_events_received_total', 'Events received from schedulers, by kind.', ['kind']);
  }

  start(): void {
    const flush = setInterval(() => void this.flush(), FOLD_DEFAULTS.flushIntervalMs);
    const ttl = this.#context.config.taskIndex.ttl;
    const sweep = setInterval(() => void this.sweep(), Math.max(1_000, Math.min(FOLD_DEFAULTS.maxSweepIntervalMs, Math.floor(ttl / 4))));
    flush.unref();
    sweep.unref();
    this.#timers = [flush, sweep];
  }

  /** Stops the timers and writes what is still dirty. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    await this.flush();
  }

  async applyHost(report: HostReport, clusterId: number): Promise<void> {
    this.#received.inc({ kind: 'host' });
    const db = this.#context.store.db;
    const now = this.#context.now();
    if (report.kind === 'announced') {
      await upsertHost(db, { ...report, clusterId }, now);
      if (report.version) await db.updateTable('hosts').set({ version: report.version }).where('host_id', '=', report.hostId).execute();
      this.#touchedAt.set(report.hostId, now);
    } else {
      await touchHost(db, report.hostId, 'inactive', now);
      this.#touchedAt.delete(report.hostId);
    }
    const state = report.kind === 'announced' ? 'active' : 'inactive';
    this.#bus.publish({ type: 'host', host: { host_id: report.hostId, hostname: report.hostname, ip: report.ip, type: report.type, state, scheduler_cluster_id: clusterId } });
  }

  async applyPeer(report: PeerReport): Promise<void> {
    this.#received.inc({ kind: 'peer' });
    const now = this.#context.now();
    const task = await this.#task(report, now);
    if (report.digest) task.digest = report.digest;
    if (report.contentLength !== null && report.contentLength >= 0) task.contentLength = report.contentLength;
    task.lastSeenAt = now;
    const entry = {
      host_id: report.hostId,
      hostname: report.hostname,
      ip: report.ip,
      state: report.state,
      finished_bytes: report.finishedBytes,
      bytes_by_source: { origin: report.origin, seed_peer: report.seedPeer, peer: report.peer },
      updated_at: now,
    };
    const at = task.hosts.findIndex((host) => host.host_id === report.hostId);
    if (at >= 0) task.hosts[at] = entry;
    else task.hosts.push(entry);
    // Re-inserted so the map's order is least recently changed first.
    this.#live.delete(task.taskId);
    this.#live.set(task.taskId, task);
    this.#dirty.add(task.taskId);
    await this.#touch(report.hostId, now);
  }

  /** Writes and publishes every dirty task; one flush at a time. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (this.#dirty.size === 0) return;
      const ids = [...this.#dirty];
      this.#dirty.clear();
      for (const id of ids) {
        const task = this.#live.get(id);
        if (!task) continue;
        try {
          await saveTask(this.#context.store.db, task);
        } catch (error) {
          this.#log.warn('cannot write the task index; retried at the next flush', { taskId: id, error });
          this.#dirty.add(id);
          continue;
        }
        this.#bus.publish({ type: 'task', task: indexedTaskView(task) });
      }
      this.#evict();
    });
    return this.#flushing;
  }

  /** Deletes tasks last seen more than `taskIndex.ttl` ago; returns how many. */
  async sweep(): Promise<number> {
    const cutoff = this.#context.now() - this.#context.config.taskIndex.ttl;
    try {
      for (const [id, task] of this.#live) if (task.lastSeenAt < cutoff && !this.#dirty.has(id)) this.#live.delete(id);
      const count = await sweepTaskIndex(this.#context.store.db, cutoff);
      if (count > 0) this.#log.info('task index: expired tasks deleted', { count });
      return count;
    } catch (error) {
      this.#log.warn('task index sweep failed', { error });
      return 0;
    }
  }

  /** The live task, loaded from the index the first time (a task seen before keeps its hosts). */
  async #task(report: PeerReport, now: number): Promise<IndexedTask> {
    const live = this.#live.get(report.taskId);
    if (live) return live;
    let loading = this.#loading.get(report.taskId);
    if (!loading) {
      loading = findTask(this.#context.store.db, report.taskId).then(
        (found) => found ?? { taskId: report.taskId, url: report.url, digest: report.digest, contentLength: report.contentLength, hosts: [], firstSeenAt: now, lastSeenAt: now },
      );
      this.#loading.set(report.taskId, loading);
      void loading.finally(() => this.#loading.delete(report.taskId)).catch(() => {});
    }
    const task = await loading;
    const again = this.#live.get(report.taskId);
    if (again) return again;
    this.#live.set(task.taskId, task);
    return task;
  }

  async #touch(hostId: string, now: number): Promise<void> {
    const last = this.#touchedAt.get(hostId);
    if (last !== undefined && now - last < FOLD_DEFAULTS.hostTouchIntervalMs) return;
    this.#touchedAt.set(hostId, now);
    if (this.#touchedAt.size > FOLD_DEFAULTS.maxLiveTasks) this.#touchedAt.delete(this.#touchedAt.keys().next().value!);
    await touchHost(this.#context.store.db, hostId, 'active', now);
  }

  #evict(): void {
    for (const id of this.#live.keys()) {
      if (this.#live.size <= FOLD_DEFAULTS.maxLiveTasks) return;
      if (!this.#dirty.has(id)) this.#live.delete(id);
    }
  }
}

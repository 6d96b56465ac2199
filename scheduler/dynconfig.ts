/**
 * The scheduler's link to the manager (`manager.addr`, then `manager.addrs`): UpdateScheduler at start, then one
 * KeepAlive stream written every `manager.keepAlive.interval` (re-registered and reopened with
 * backoff whenever it breaks: the manager restarted, lost its database, or is down), and
 * GetScheduler every `dynconfig.refreshInterval` for the cluster's config, whose parent limits are
 * handed to scheduling at once. The last config is kept as JSON in `dynconfig.cacheDir` and
 * applied at start when the manager cannot be reached, so a restart while the manager is down
 * keeps the cluster's limits instead of falling back to scheduler.yaml's.
 *
 * With several manager replicas (one database, as behind a load balancer) the link talks to one at
 * a time and moves to the next when a call to it fails: a replica that died must not leave this
 * scheduler inactive while another could keep it alive.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { managerv2 } from '../api/index.ts';
import type { EventsReporter } from './events-reporter.ts';
import type { Logger } from './log.ts';
import type { ParentLimits } from './scheduling/scheduler.ts';

export const DYNCONFIG_CACHE_FILE = 'scheduler-dynconfig.json';

/** Bounds of the link's waits: one call, the first backoff and its ceiling. */
export const MANAGER_LINK_DEFAULTS = Object.freeze({ callTimeoutMs: 5_000, backoffMs: 500, maxBackoffMs: 30_000 });

export interface SchedulerIdentity {
  readonly hostname: string;
  readonly ip: string;
  readonly port: number;
  readonly idc: string;
  readonly location: string;
  readonly clusterId: number;
  readonly features: readonly string[];
}

export interface ManagerLinkOptions {
  /** One client per manager replica, tried in this order; at least one. */
  readonly managerClients: readonly managerv2.ManagerClient[];
  readonly self: SchedulerIdentity;
  readonly keepAliveIntervalMs: number;
  readonly refreshIntervalMs: number;
  readonly cacheDir: string;
  readonly log: Logger;
  /** Called with the cluster's limits whenever they change (from the manager or the cache). */
  readonly onLimits: (limits: Partial<ParentLimits>, source: 'manager' | 'cache') => void;
  /** Sends the cluster's events over this link's connection from start to close. */
  readonly events?: EventsReporter | undefined;
}

/** What is cached: the cluster's id and its config document as the manager sent it. */
interface Cached {
  readonly clusterId: number;
  readonly config: Record<string, unknown>;
  readonly savedAt: number;
}

const LIMIT_RANGES = Object.freeze({ candidate_parent_limit: [1, 20], filter_parent_limit: [1, 1000] } as const);

/** The parent limits in a cluster config; a missing or out-of-range value is left out (the static one stays). */
export function limitsOf(config: Record<string, unknown>): Partial<ParentLimits> {
  const pick = (key: keyof typeof LIMIT_RANGES): number | undefined => {
    const value = config[key];
    const [min, max] = LIMIT_RANGES[key];
    return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : undefined;
  };
  const candidate = pick('candidate_parent_limit');
  const filter = pick('filter_parent_limit');
  return { ...(candidate !== undefined && { candidateParentLimit: candidate }), ...(filter !== undefined && { filterParentLimit: filter }) };
}

function unary<Req, Res>(method: (r: Req, o: grpc.CallOptions, cb: grpc.requestCallback<Res>) => unknown, request: Req, timeoutMs: number): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, { deadline: Date.now() + timeoutMs }, (error, value) => (error ? reject(error) : resolve(value!)));
  });
}

export class ManagerLink {
  readonly #o: ManagerLinkOptions;
  readonly #abort = new AbortController();
  #clusterId: number;
  #applied = '';
  #stream: grpc.ClientWritableStream<managerv2.KeepAliveRequest> | undefined;
  #loops: Promise<void>[] = [];
  /** The replica talked to now, an index into managerClients. */
  #current = 0;

  constructor(options: ManagerLinkOptions) {
    if (options.managerClients.length === 0) throw new RangeError('ManagerLink needs at least one manager client');
    this.#o = options;
    this.#clusterId = options.self.clusterId;
  }

  get #client(): managerv2.ManagerClient {
    return this.#o.managerClients[this.#current]!;
  }

  /** The address of the replica talked to now. */
  get managerAddr(): string {
    // grpc-js names the target with its resolver scheme; the config had host:port.
    return this.#client.getChannel().getTarget().replace(/^dns:/, '');
  }

  /** Moves to the next replica (no-op with one); true when it moved. */
  #next(reason: string): boolean {
    const count = this.#o.managerClients.length;
    if (count < 2) return false;
    const from = this.managerAddr;
    this.#current = (this.#current + 1) % count;
    this.#o.log.warn('manager replica failed; trying the next one', { from, to: this.managerAddr, error: reason });
    return true;
  }

  get #cachePath(): string {
    return join(this.#o.cacheDir, DYNCONFIG_CACHE_FILE);
  }

  /**
   * Registers and takes the cluster's config once (bounded by one call timeout each); when the
   * manager cannot be reached, applies the cached config instead. Either way the loops then run
   * until `close`.
   */
  async start(): Promise<void> {
    let registered = false;
    // Each replica once, in order, until one answers.
    for (let tried = 0; tried < this.#o.managerClients.length && !registered; tried++) {
      try {
        await this.#register();
        registered = true;
        await this.#refresh();
      } catch (error) {
        if (!registered && this.#next((error as Error).message)) continue;
        this.#o.log.warn('manager unreachable at start; using the cached cluster config', { manager: this.managerAddr, error: (error as Error).message });
        await this.#applyCache();
        break;
      }
    }
    this.#loops = [this.#keepAliveLoop(registered), this.#refreshLoop()];
    this.#o.events?.start(() => this.#client, () => ({ hostname: this.#o.self.hostname, ip: this.#o.self.ip, clusterId: this.#clusterId }));
  }

  async close(): Promise<void> {
    this.#abort.abort();
    // Ending the stream tells the manager at once that this scheduler left.
    this.#stream?.end();
    this.#o.events?.close();
    await Promise.allSettled(this.#loops);
    for (const client of this.#o.managerClients) client.close();
  }

  async #register(): Promise<void> {
    const { self } = this.#o;
    const client = this.#client;
    const answer = await unary<managerv2.UpdateSchedulerRequest, managerv2.Scheduler__Output>(
      client.updateScheduler.bind(client),
      { sourceType: 'SCHEDULER_SOURCE', hostname: self.hostname, ip: self.ip, port: self.port, idc: self.idc, location: self.location, schedulerClusterId: self.clusterId, features: [...self.features] },
      MANAGER_LINK_DEFAULTS.callTimeoutMs,
    );
    // The manager may put us in another cluster (the default one) than the one asked for.
    this.#clusterId = Number(answer.schedulerClusterId);
    this.#o.log.info('registered with the manager', { schedulerId: Number(answer.id), clusterId: this.#clusterId, manager: this.managerAddr });
  }

  async #refresh(): Promise<void> {
    const { self } = this.#o;
    const client = this.#client;
    const answer = await unary<managerv2.GetSchedulerRequest, managerv2.Scheduler__Output>(
      client.getScheduler.bind(client),
      { sourceType: 'SCHEDULER_SOURCE', hostname: self.hostname, ip: self.ip, schedulerClusterId: this.#clusterId },
      MANAGER_LINK_DEFAULTS.callTimeoutMs,
    );
    let config: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(answer.schedulerCluster?.config || '{}') as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) config = parsed as Record<string, unknown>;
    } catch (error) {
      this.#o.log.warn('cluster config from the manager is not JSON; keeping the current limits', { error: (error as Error).message });
      return;
    }
    if (this.#apply(config, 'manager')) await this.#saveCache({ clusterId: this.#clusterId, config, savedAt: Date.now() });
  }

  /** Hands changed limits to scheduling; true when they changed. */
  #apply(config: Record<string, unknown>, source: 'manager' | 'cache'): boolean {
    const limits = limitsOf(config);
    const key = JSON.stringify(limits);
    if (key === this.#applied) return false;
    this.#applied = key;
    this.#o.onLimits(limits, source);
    return true;
  }

  async #saveCache(cached: Cached): Promise<void> {
    try {
      await mkdir(this.#o.cacheDir, { recursive: true });
      // Written beside and renamed, so a crash never leaves half a file to start from.
      const temp = `${this.#cachePath}.${process.pid}.tmp`;
      await writeFile(temp, JSON.stringify(cached));
      await rename(temp, this.#cachePath);
    } catch (error) {
      this.#o.log.warn('cannot write the dynconfig cache (dynconfig.cacheDir)', { path: this.#cachePath, error: (error as Error).message });
    }
  }

  async #applyCache(): Promise<void> {
    let cached: Cached;
    try {
      cached = JSON.parse(await readFile(this.#cachePath, 'utf8')) as Cached;
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      this.#o.log.warn(missing ? 'no cached cluster config; using scheduler.yaml limits' : 'cached cluster config unreadable; using scheduler.yaml limits', { path: this.#cachePath });
      return;
    }
    if (typeof cached?.config !== 'object' || cached.config === null) return;
    if (Number.isSafeInteger(cached.clusterId) && cached.clusterId > 0) this.#clusterId = cached.clusterId;
    this.#apply(cached.config, 'cache');
  }

  /** Resolves after `ms`, or at once when the link closes. */
  #sleep(ms: number): Promise<void> {
    const signal = this.#abort.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  async #refreshLoop(): Promise<void> {
    let failing = false;
    while (!this.#abort.signal.aborted) {
      await this.#sleep(this.#o.refreshIntervalMs);
      if (this.#abort.signal.aborted) return;
      try {
        await this.#refresh();
        if (failing) this.#o.log.info('cluster config refreshed again');
        failing = false;
      } catch (error) {
        // Said once per outage; the cached config stays in force meanwhile.
        if (!failing) this.#o.log.warn('cannot refresh the cluster config; keeping the current one', { error: (error as Error).message });
        failing = true;
      }
    }
  }

  /** One open stream at a time; when it ends for any reason but close, register again after a backoff. */
  async #keepAliveLoop(registered: boolean): Promise<void> {
    let backoff: number = MANAGER_LINK_DEFAULTS.backoffMs;
    let needsRegister = !registered;
    let failedInRow = 0;
    while (!this.#abort.signal.aborted) {
      try {
        if (needsRegister) await this.#register();
        needsRegister = true;
        const openedAt = Date.now();
        await this.#holdStream();
        // A stream that lived a while was healthy: the next failure starts the backoff afresh.
        if (Date.now() - openedAt > MANAGER_LINK_DEFAULTS.maxBackoffMs) {
          backoff = MANAGER_LINK_DEFAULTS.backoffMs;
          failedInRow = 0;
        }
      } catch (error) {
        if (this.#abort.signal.aborted) return;
        this.#o.log.warn('manager keepalive failed; retrying', { inMs: backoff, manager: this.managerAddr, error: (error as Error).message });
        failedInRow++;
        this.#next((error as Error).message);
      }
      if (this.#abort.signal.aborted) return;
      await this.#sleep(backoff);
      // The first try of each other replica comes after the short wait; only a full round of failures backs off.
      if (failedInRow >= this.#o.managerClients.length) backoff = Math.min(backoff * 2, MANAGER_LINK_DEFAULTS.maxBackoffMs);
    }
  }

  /** Opens the stream and writes to it every interval; resolves or rejects when it ends. */
  #holdStream(): Promise<void> {
    const { self } = this.#o;
    return new Promise<void>((resolve, reject) => {
      const stream = this.#client.keepAlive((error) => {
        clearInterval(timer);
        this.#stream = undefined;
        if (error) reject(error);
        else resolve();
      });
      this.#stream = stream;
      const beat = () => stream.write({ sourceType: 'SCHEDULER_SOURCE', hostname: self.hostname, ip: self.ip, clusterId: this.#clusterId });
      beat();
      const timer = setInterval(beat, this.#o.keepAliveIntervalMs);
      if (this.#abort.signal.aborted) stream.end();
    });
  }
}

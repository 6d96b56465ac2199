/**
 * The daemon's dynamic config from the manager (`manager.addrs`): ListSchedulers at start and every
 * `dynconfig.refreshInterval`, whose answer (the active schedulers of this host's cluster, `ip:port`)
 * replaces the SchedulerClients' list while downloads run, plus the cluster's client config
 * (`load_limit` -> pieces served at once, `concurrent_piece_count` -> pieces fetched at once by a
 * request that names none; a seed peer takes the cluster's seed client config). The
 * last answer is kept in `<storage.dir>/dynconfig.json` and used at start when no manager answers,
 * so a daemon restarted while the manager is down still finds its schedulers.
 *
 * An answer with no scheduler does not empty the list: the manager saying "none active" (all
 * restarting at once, or a KeepAlive hiccup) is no reason to stop asking the schedulers we know,
 * whose calls fail fast to the origin if they are really gone.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PROTO_DIR, PROTO_FILES, PROTO_LOADER_OPTIONS, type managerv2 } from '../api/index.ts';
import type { Logger } from './log.ts';
import type { SchedulerClients } from './scheduler/clients.ts';

export const DYNCONFIG_CACHE_FILE = 'dynconfig.json';
export const DYNCONFIG_CALL_TIMEOUT_MS = 3_000;

/** The limits a cluster hands its peers; what is absent keeps the daemon's own config. */
export interface ClientConfig {
  readonly loadLimit?: number | undefined;
  readonly concurrentPieceCount?: number | undefined;
}

function positive(value: unknown, max: number): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= max ? value : undefined;
}

/** A cluster's client config JSON to limits; a value out of range is ignored, never applied. */
export function clientConfigOf(json: string | undefined): ClientConfig {
  if (!json) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null) return {};
  const config = parsed as Record<string, unknown>;
  return { loadLimit: positive(config['load_limit'], 50_000), concurrentPieceCount: positive(config['concurrent_piece_count'], 1024) };
}

export interface DynconfigHost {
  readonly hostname: string;
  readonly ip: string;
  readonly idc: string;
  readonly location: string;
  readonly schedulerClusterId: number;
}

export interface DynconfigOptions {
  readonly managerAddrs: readonly string[];
  readonly host: DynconfigHost;
  readonly refreshIntervalMs: number;
  readonly storageDir: string;
  readonly schedulers: SchedulerClients;
  readonly log: Logger;
  /** The scheduler list changed (announce to the new ones). */
  readonly onSchedulersChanged?: (addrs: readonly string[]) => void;
  /** A seed peer takes the cluster's seed client config. */
  readonly seed?: boolean | undefined;
  /** The cluster's client config, at start (from the manager or the cache) and whenever it changes. */
  readonly onClientConfig?: (config: ClientConfig) => void;
}

/** What is cached: the last useful answer. */
export interface DynconfigSnapshot {
  readonly schedulers: readonly string[];
  readonly clusterId: number;
  readonly clientConfig?: ClientConfig | undefined;
  readonly savedAt: number;
}

let managerService: managerv2.ProtoGrpcType['manager']['v2'] | undefined;

function loadManagerService(): managerv2.ProtoGrpcType['manager']['v2'] {
  if (!managerService) {
    const definition = protoLoader.loadSync(
      PROTO_FILES.map((file) => join(PROTO_DIR, file)),
      { ...PROTO_LOADER_OPTIONS, includeDirs: [...PROTO_LOADER_OPTIONS.includeDirs] },
    );
    managerService = (grpc.loadPackageDefinition(definition) as unknown as managerv2.ProtoGrpcType).manager.v2;
  }
  return managerService;
}

const addrOf = (scheduler: managerv2.Scheduler__Output) => `${scheduler.ip.includes(':') ? `[${scheduler.ip}]` : scheduler.ip}:${scheduler.port}`;

export class DaemonDynconfig {
  readonly #o: DynconfigOptions;
  readonly #clients: managerv2.ManagerClient[];
  readonly #abort = new AbortController();
  /** The manager that answered last is asked first next time. */
  #preferred = 0;
  #clientConfig = '{}';
  #loop: Promise<void> | undefined;

  constructor(options: DynconfigOptions) {
    this.#o = options;
    const { Manager } = loadManagerService();
    this.#clients = options.managerAddrs.map((addr) => new Manager(addr, grpc.credentials.createInsecure()));
  }

  get cachePath(): string {
    return join(this.#o.storageDir, DYNCONFIG_CACHE_FILE);
  }

  /** The first answer (or the cache when no manager answers), then the refresh loop until `close`. */
  async start(): Promise<void> {
    try {
      await this.refresh();
    } catch (error) {
      const cached = await this.#readCache();
      this.#o.log.warn(cached ? 'manager unreachable; using the cached scheduler list' : 'manager unreachable and nothing cached; downloads go to the origin until it answers', {
        error: (error as Error).message,
        ...(cached && { schedulers: cached.schedulers, savedAt: cached.savedAt }),
      });
      if (cached) {
        this.#use(cached.schedulers, 'cache');
        if (cached.clientConfig) this.#applyClientConfig(cached.clientConfig, 'cache');
      }
    }
    this.#loop = this.#refreshLoop();
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    for (const client of this.#clients) client.close();
  }

  /** One ListSchedulers, trying each manager in turn; throws when none answers. */
  async refresh(): Promise<void> {
    const { host } = this.#o;
    const request: managerv2.ListSchedulersRequest = {
      sourceType: 'PEER_SOURCE',
      hostname: host.hostname,
      ip: host.ip,
      idc: host.idc,
      location: host.location,
      ...(host.schedulerClusterId > 0 && { schedulerClusterId: host.schedulerClusterId }),
    };
    let lastError: unknown;
    for (let i = 0; i < this.#clients.length; i++) {
      const index = (this.#preferred + i) % this.#clients.length;
      const client = this.#clients[index]!;
      try {
        const answer = await new Promise<managerv2.ListSchedulersResponse__Output>((resolve, reject) => {
          client.listSchedulers(request, { deadline: Date.now() + DYNCONFIG_CALL_TIMEOUT_MS }, (error, value) => (error ? reject(error) : resolve(value!)));
        });
        this.#preferred = index;
        const schedulers = answer.schedulers.map(addrOf);
        if (schedulers.length === 0) {
          this.#o.log.debug('the manager knows no active scheduler for this host; keeping the current list', { current: this.#o.schedulers.addrs });
          return;
        }
        const cluster = answer.schedulers[0]!.schedulerCluster;
        const clientConfig = clientConfigOf(this.#o.seed ? cluster?.seedClientConfig : cluster?.clientConfig);
        const listChanged = this.#use(schedulers, 'manager');
        const configChanged = this.#applyClientConfig(clientConfig, 'manager');
        if (listChanged || configChanged) {
          await this.#writeCache({ schedulers: this.#o.schedulers.addrs, clusterId: Number(answer.schedulers[0]!.schedulerClusterId), clientConfig, savedAt: Date.now() });
        }
        return;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError instanceof Error ? lastError : new Error('no manager address');
  }

  #use(schedulers: readonly string[], source: 'manager' | 'cache'): boolean {
    if (!this.#o.schedulers.replace(schedulers)) return false;
    this.#o.log.info('scheduler list updated', { source, schedulers: this.#o.schedulers.addrs });
    this.#o.onSchedulersChanged?.(this.#o.schedulers.addrs);
    return true;
  }

  /** Applies the config when it differs from the last one applied; says whether it did. */
  #applyClientConfig(config: ClientConfig, source: 'manager' | 'cache'): boolean {
    const text = JSON.stringify(config);
    if (text === this.#clientConfig) return false;
    this.#clientConfig = text;
    this.#o.log.info('cluster client config applied', { source, ...config });
    this.#o.onClientConfig?.(config);
    return true;
  }

  async #readCache(): Promise<DynconfigSnapshot | undefined> {
    try {
      const parsed = JSON.parse(await readFile(this.cachePath, 'utf8')) as DynconfigSnapshot;
      if (!Array.isArray(parsed.schedulers) || parsed.schedulers.some((addr) => typeof addr !== 'string') || parsed.schedulers.length === 0) return undefined;
      return parsed;
    } catch {
      return undefined;
    }
  }

  async #writeCache(snapshot: DynconfigSnapshot): Promise<void> {
    try {
      await mkdir(dirname(this.cachePath), { recursive: true });
      // Renamed into place: a crash mid-write leaves the previous answer, never half a file.
      const temp = `${this.cachePath}.${process.pid}.tmp`;
      await writeFile(temp, JSON.stringify(snapshot));
      await rename(temp, this.cachePath);
    } catch (error) {
      this.#o.log.warn('cannot write the dynconfig cache', { path: this.cachePath, error: (error as Error).message });
    }
  }

  async #refreshLoop(): Promise<void> {
    const signal = this.#abort.signal;
    let failing = false;
    while (!signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, this.#o.refreshIntervalMs);
        signal.addEventListener('abort', done, { once: true });
      });
      if (signal.aborted) return;
      try {
        await this.refresh();
        if (failing) this.#o.log.info('manager answers again');
        failing = false;
      } catch (error) {
        // Once per outage: the current list stays in use meanwhile.
        if (!failing) this.#o.log.warn('cannot refresh from the manager; keeping the current scheduler list', { error: (error as Error).message });
        failing = true;
      }
    }
  }
}

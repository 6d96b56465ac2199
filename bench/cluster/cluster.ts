/**
 * A real cluster on loopback for the bench: one dfscheduler, an optional seed dfdaemon
 * (`seedPeer.enable`) and N dfdaemons, each with its own config file, storage dir, unix socket and
 * ports (port 0, read back from its "ready" log line). The configs come from the daemon's own
 * builder: Dragonfly's defaults except for what loopback and several daemons on one machine need.
 */
import { parseMetricsText } from '../../api/index.ts';
import { dfdaemonConfigTree, dfdaemonConfigYaml, type DfdaemonConfigTree } from '../../daemon/index.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { serverEnv } from '../lib/spawn.ts';
import { ServerProcess } from './process.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const DFDAEMON_BIN = join(REPO_ROOT, 'daemon', 'bin', 'dfdaemon.ts');
export const DFSCHEDULER_BIN = join(REPO_ROOT, 'scheduler', 'bin', 'dfscheduler.ts');

const READY_TIMEOUT_MS = 30_000;
/** Dragonfly's default is 300 s; the scheduler scores parents by announced load, so keep it fresh. */
const ANNOUNCE_INTERVAL = '5s';

export interface DaemonPorts {
  readonly upload: number;
  readonly pieces: number;
  readonly proxy: number;
  readonly metrics: number;
  readonly health: number;
}

export interface BenchDaemon {
  readonly name: string;
  readonly seed: boolean;
  readonly dir: string;
  readonly socketPath: string;
  readonly proc: ServerProcess;
  readonly ports: DaemonPorts;
  readonly hostId: string;
}

export interface BenchScheduler {
  readonly proc: ServerProcess;
  readonly port: number;
}

export interface BenchCluster {
  readonly scheduler: BenchScheduler | undefined;
  readonly seed: BenchDaemon | undefined;
  readonly peers: readonly BenchDaemon[];
  /** Seed first, then peers. */
  readonly daemons: readonly BenchDaemon[];
  /** Peers first (they leave the scheduler while it still runs), then the scheduler. */
  stop(): Promise<void>;
}

export function schedulerConfig(): object {
  return {
    server: { listenIP: '127.0.0.1', port: 0 },
    metrics: { addr: '127.0.0.1:0' },
    log: { level: 'info' },
  };
}

/** `schedulerPort` undefined: no scheduler (the daemon goes to the origin by itself). */
export function daemonConfig(dir: string, name: string, seed: boolean, schedulerPort: number | undefined): DfdaemonConfigTree {
  return dfdaemonConfigTree({
    hostname: name,
    ip: '127.0.0.1',
    storageDir: join(dir, 'storage'),
    socketPath: join(dir, 'dfdaemon.sock'),
    // An empty list is not allowed; port 1 on loopback refuses at once.
    schedulerAddrs: [`127.0.0.1:${schedulerPort ?? 1}`],
    seed,
    overrides: { scheduler: { announceInterval: ANNOUNCE_INTERVAL } },
  });
}

export async function startScheduler(dir: string, signal: AbortSignal): Promise<BenchScheduler> {
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'scheduler.yaml');
  writeFileSync(configPath, stringify(schedulerConfig()));
  const proc = new ServerProcess('dfscheduler', DFSCHEDULER_BIN, ['--config', configPath], serverEnv());
  try {
    const started = await proc.waitForLine((line) => line.msg === 'scheduler started', READY_TIMEOUT_MS, signal);
    return { proc, port: Number(String(started['grpc']).split(':').pop()) };
  } catch (error) {
    await proc.stop();
    throw error;
  }
}

/** `configure` may change the config's sections (daemonConfig's, by key) before it is written. */
export async function startDaemon(
  parentDir: string,
  name: string,
  seed: boolean,
  schedulerPort: number | undefined,
  signal: AbortSignal,
  configure?: (config: Record<string, Record<string, unknown>>) => void,
): Promise<BenchDaemon> {
  const dir = join(parentDir, name);
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'dfdaemon.yaml');
  const config = daemonConfig(dir, name, seed, schedulerPort) as Record<string, Record<string, unknown>>;
  configure?.(config);
  writeFileSync(configPath, dfdaemonConfigYaml(config));
  const proc = new ServerProcess(name, DFDAEMON_BIN, ['--config', configPath], serverEnv());
  try {
    const ready = await proc.waitForLine((line) => line.msg === 'dfdaemon ready', READY_TIMEOUT_MS, signal);
    return { name, seed, dir, socketPath: join(dir, 'dfdaemon.sock'), proc, ports: ready['ports'] as DaemonPorts, hostId: String(ready['hostId']) };
  } catch (error) {
    await proc.stop();
    throw error;
  }
}

/**
 * Scheduler, seed and `peers` daemons under `dir`; resolves once the scheduler has seen every host
 * announce (a seed it does not know cannot be triggered). On failure, whatever started is stopped.
 */
export async function startCluster(dir: string, peers: number, signal: AbortSignal): Promise<BenchCluster> {
  const scheduler = await startScheduler(join(dir, 'scheduler'), signal);
  const started: BenchDaemon[] = [];
  const stop = async () => {
    // Each stop waits for its own exit; peers in parallel, then the scheduler.
    await Promise.all(started.map((daemon) => daemon.proc.stop()));
    await scheduler.proc.stop();
  };
  try {
    const names = ['seed', ...Array.from({ length: peers }, (_, i) => `peer-${i + 1}`)];
    const results = await Promise.allSettled(
      names.map((name) => startDaemon(dir, name, name === 'seed', scheduler.port, signal).then((daemon) => (started.push(daemon), daemon))),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const byName = new Map(started.map((daemon) => [daemon.name, daemon]));
    const daemons = names.map((name) => byName.get(name)!);
    const hostIds = new Set(daemons.map((daemon) => daemon.hostId));
    await scheduler.proc.waitForLine(() => {
      const announced = new Set(scheduler.proc.lines.filter((line) => line.msg === 'host announced').map((line) => String(line['hostId'])));
      return [...hostIds].every((id) => announced.has(id));
    }, READY_TIMEOUT_MS, signal);
    return { scheduler, seed: daemons[0], peers: daemons.slice(1), daemons, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The samples of a Prometheus text page, by `name{labels}`. */
export async function scrape(port: number, signal: AbortSignal): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) });
  if (!response.ok) throw new Error(`GET /metrics on port ${port} answered ${response.status}`);
  return parseMetricsText(await response.text());
}

export interface DaemonTraffic {
  /** Bytes of pieces by where they came from. */
  readonly backToSource: number;
  readonly remotePeer: number;
  readonly localPeer: number;
  /** Bytes of pieces this daemon served to others. */
  readonly uploaded: number;
  readonly digestMismatches: number;
  readonly uploadFailures: number;
}

export async function trafficOf(daemon: BenchDaemon, signal: AbortSignal): Promise<DaemonTraffic> {
  const samples = await scrape(daemon.ports.metrics, signal);
  const of = (key: string) => samples.get(key) ?? 0;
  return {
    backToSource: of('dragonfly_client_download_traffic{type="back_to_source"}'),
    remotePeer: of('dragonfly_client_download_traffic{type="remote_peer"}'),
    localPeer: of('dragonfly_client_download_traffic{type="local_peer"}'),
    uploaded: of('dragonfly_client_upload_traffic'),
    digestMismatches: of('dragonfly_client_piece_digest_mismatch_total'),
    uploadFailures: of('dragonfly_client_upload_piece_failure_total'),
  };
}

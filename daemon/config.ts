/**
 * dfdaemon.yaml: Dragonfly's camelCase keys and defaults (`dragonfly-client-config/src/dfdaemon.rs`),
 * resolved by api's schema-driven resolver, so an unknown key or a bad value fails at start with its
 * path. Deviations, on purpose:
 * - `scheduler.addrs` is a static list: there is no manager to hand out schedulers yet.
 * - `scheduler.scheduleTimeout` bounds one wait for the scheduler's answer (register, reschedule),
 *   as in the Go dfdaemon, not the whole stream as in the Rust client (3 h): a hung scheduler must
 *   not hold a download that the origin could finish.
 * - `storage.server.tcpPort` serves pieces over plain HTTP/1.1, not Vortex TLV (DESIGN.md).
 */
import { readFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { ConfigError, field, resolveConfig, type Resolved } from '../api/index.ts';
import { LOG_LEVELS } from './log.ts';

const port = (value: number, doc?: string) => field.int(value, { min: 0, max: 65535, doc: doc ?? '0 picks a free port' });
const percent = (value: number) => field.int(value, { min: 1, max: 100 });

export const DEFAULT_SOCKET_PATH = '/var/run/dragonfly/dfdaemon.sock';
export const DEFAULT_STORAGE_DIR = '/var/lib/dragonfly';

export const DFDAEMON_CONFIG_SCHEMA = {
  host: field.object({
    idc: field.string(''),
    location: field.string('', { doc: '`|`-separated, e.g. country|province|city' }),
    hostname: field.optionalString({ doc: 'default: the machine hostname' }),
    ip: field.optionalString({ doc: 'advertised address; default: the first non-internal IPv4' }),
  }),
  server: field.object({
    pluginDir: field.optionalString({ doc: 'accepted for compatibility; plugins are not loaded' }),
  }),
  download: field.object({
    server: field.object({
      socketPath: field.string(DEFAULT_SOCKET_PATH, { doc: 'unix socket of the DfdaemonDownload gRPC service (dfget)' }),
    }),
    concurrentPieceCount: field.int(8, { min: 1, max: 1024 }),
    pieceTimeout: field.duration('360s'),
    bandwidthLimit: field.rate('50GB/s', 'all downloads together'),
    collectedPieceTimeout: field.duration('10s', 'how long to wait for a parent to announce pieces before rescheduling'),
  }),
  upload: field.object({
    server: field.object({
      ip: field.string('0.0.0.0'),
      port: port(4000, 'DfdaemonUpload gRPC (peers and the scheduler); 0 picks a free port'),
    }),
    disableShared: field.bool(false, 'serve nothing to other peers (a "leech")'),
    bandwidthLimit: field.rate('50GB/s', 'all uploads together; also the announced max_tx_bandwidth'),
    concurrentUploadLimit: field.int(50, { min: 1, max: 100_000, doc: 'pieces served at once; more get 429' }),
  }),
  scheduler: field.object({
    addrs: field.list(['127.0.0.1:8002'], 'static scheduler list (no manager); a task goes to one by hash of its id'),
    announceInterval: field.duration('300s'),
    scheduleTimeout: field.duration('30s'),
    maxScheduleCount: field.int(5, { min: 1, max: 1000 }),
    enableBackToSource: field.bool(true),
  }),
  seedPeer: field.object({
    enable: field.bool(false),
    type: field.string('super', { allowed: ['super', 'strong', 'weak'] }),
  }),
  storage: field.object({
    dir: field.string(DEFAULT_STORAGE_DIR),
    keep: field.bool(false, 'keep the stored tasks across restarts (false wipes them at start)'),
    server: field.object({
      ip: field.string('0.0.0.0'),
      tcpPort: port(4005, 'piece server (HTTP/1.1); 0 picks a free port'),
    }),
  }),
  gc: field.object({
    interval: field.duration('900s'),
    policy: field.object({
      taskTTL: field.duration('720h'),
      diskHighThresholdPercent: percent(80),
      diskLowThresholdPercent: percent(60),
    }),
  }),
  proxy: field.object({
    server: field.object({ port: port(4001, 'reserved: answers 501 until the proxy exists') }),
  }),
  metrics: field.object({
    server: field.object({ ip: field.string('0.0.0.0'), port: port(4002) }),
  }),
  health: field.object({
    server: field.object({ ip: field.string('0.0.0.0'), port: port(4003) }),
  }),
  log: field.object({
    level: field.string('info', { allowed: LOG_LEVELS }),
  }),
};

type Raw = Resolved<typeof DFDAEMON_CONFIG_SCHEMA>;

/** The resolved config with host.hostname and host.ip filled from the machine. */
export type DfdaemonConfig = Raw & { readonly host: Raw['host'] & { readonly hostname: string; readonly ip: string } };

const ADDR = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

function defaultIp(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return '127.0.0.1';
}

/** Defaults filled, units converted, unknown keys and bad values rejected naming the key path. */
export function resolveDfdaemonConfig(raw: unknown): DfdaemonConfig {
  const config = resolveConfig(DFDAEMON_CONFIG_SCHEMA, raw);
  config.scheduler.addrs.forEach((addr, i) => {
    if (!ADDR.test(addr) || Number(addr.slice(addr.lastIndexOf(':') + 1)) > 65535) {
      throw new ConfigError(`scheduler.addrs[${i}]`, `"${addr}" is not host:port`);
    }
  });
  if (config.scheduler.announceInterval <= 0) throw new ConfigError('scheduler.announceInterval', 'must be longer than 0');
  if (config.scheduler.scheduleTimeout <= 0) throw new ConfigError('scheduler.scheduleTimeout', 'must be longer than 0');
  if (config.download.pieceTimeout <= 0) throw new ConfigError('download.pieceTimeout', 'must be longer than 0');
  if (config.gc.interval <= 0) throw new ConfigError('gc.interval', 'must be longer than 0');
  const { diskHighThresholdPercent: high, diskLowThresholdPercent: low } = config.gc.policy;
  if (low >= high) throw new ConfigError('gc.policy.diskLowThresholdPercent', `must be below diskHighThresholdPercent (${high}), got ${low}`);
  if (!config.download.server.socketPath) throw new ConfigError('download.server.socketPath', 'must not be empty');
  if (!config.storage.dir) throw new ConfigError('storage.dir', 'must not be empty');
  const host = Object.freeze({ ...config.host, hostname: config.host.hostname ?? hostname(), ip: config.host.ip ?? defaultIp() });
  if (/\s/.test(host.hostname) || !host.hostname) throw new ConfigError('host.hostname', `"${host.hostname}" is not a hostname`);
  return Object.freeze({ ...config, host });
}

/** dfdaemon.yaml text to a resolved config; YAML syntax errors name the line. */
export function parseDfdaemonConfig(text: string): DfdaemonConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError('', `not valid YAML: ${(error as Error).message}`);
  }
  return resolveDfdaemonConfig(raw);
}

export async function loadDfdaemonConfig(path: string): Promise<DfdaemonConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError('', `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return parseDfdaemonConfig(text);
}

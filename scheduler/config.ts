/**
 * scheduler.yaml: Dragonfly's keys and defaults (`scheduler/config/constants.go`), resolved by api's
 * schema-driven resolver: unknown keys and bad values fail with their path.
 * Mutual TLS as the Go scheduler names it: `server.tls` for its gRPC server, `seedPeer.tls` for its
 * calls to the daemons' DfdaemonUpload (seed triggers, preheat, task deletion); each
 * `{caCert, cert, key}` PEM paths, all three or none (api/tls.ts).
 */
import { parse as parseYaml } from 'yaml';
import { checkTlsPaths, ConfigError, field, resolveConfig, tlsFields, type Resolved } from '../api/index.ts';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;

export const SCHEDULER_CONFIG_SCHEMA = {
  server: field.object({
    listenIP: field.string('0.0.0.0', { doc: 'address the gRPC server binds' }),
    port: field.int(8002, { min: 0, max: 65535, doc: '0 picks a free port' }),
    advertiseIP: field.optionalString({ doc: 'address announced to others; defaults to listenIP' }),
    advertisePort: field.int(8002, { min: 0, max: 65535, doc: 'registered with the manager; with port 0 the bound port is registered instead' }),
    host: field.optionalString({ doc: 'hostname registered with the manager; default: the machine hostname' }),
    tls: field.object(tlsFields('the scheduler gRPC server (daemons and the manager must present a certificate)')),
  }),
  scheduler: field.object({
    algorithm: field.string('default', { allowed: ['default'] }),
    backToSourceCount: field.int(200, { min: 0, max: 1_000_000, doc: 'peers of one task allowed to download from the origin' }),
    retryBackToSourceLimit: field.int(4, { min: 0, max: 1000 }),
    retryLimit: field.int(5, { min: 1, max: 1000 }),
    retryInterval: field.duration('500ms'),
    filterParentLimit: field.int(15, { min: 1, max: 1000 }),
    candidateParentLimit: field.int(3, { min: 1, max: 20 }),
    stripes: field.int(0, { min: 0, max: 16, doc: 'k >= 2: each task is spread over a striped parent forest of k stripes (piece n in stripe n mod k); 0 or 1: the DAG only' }),
    gc: field.object({
      pieceDownloadTimeout: field.duration('30m'),
      peerGCInterval: field.duration('10s'),
      peerTTL: field.duration('24h'),
      taskGCInterval: field.duration('30m'),
      hostGCInterval: field.duration('5m'),
      hostTTL: field.duration('1h'),
    }),
  }),
  manager: field.object({
    addr: field.string('', { doc: 'manager gRPC host:port; empty (and no addrs): no manager, the static config only' }),
    addrs: field.list([], 'more manager replicas (host:port), tried in turn after addr when the current one fails'),
    schedulerClusterID: field.int(0, { min: 0, max: Number.MAX_SAFE_INTEGER, doc: 'the cluster to join; 0 or an unknown id: the default cluster' }),
    keepAlive: field.object({
      interval: field.duration('5s', 'KeepAlive message interval on the one stream to the manager'),
    }),
  }),
  dynconfig: field.object({
    refreshInterval: field.duration('10s', "how often the cluster's config is fetched from the manager"),
    cacheDir: field.string('/var/cache/dragonfly/scheduler', { doc: "where the last cluster config is kept, used at start when the manager is down" }),
  }),
  seedPeer: field.object({
    enable: field.bool(true, 'trigger seed peers to download a task first'),
    tls: field.object(tlsFields("calls to the daemons' DfdaemonUpload gRPC (seed triggers, preheat, task deletion)")),
  }),
  metrics: field.object({
    enable: field.bool(true, 'serve /metrics and /healthy'),
    addr: field.string(':8000', { pattern: /^[^\s]*:\d{1,5}$/, doc: 'host:port; ":8000" listens on every address' }),
  }),
  log: field.object({
    level: field.string('info', { allowed: LOG_LEVELS }),
  }),
};

export type SchedulerConfig = Resolved<typeof SCHEDULER_CONFIG_SCHEMA>;

const GC_INTERVAL_KEYS = ['peerGCInterval', 'taskGCInterval', 'hostGCInterval'] as const;

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

/** Every manager address, `manager.addr` first, without repeats; empty: no manager. */
export function managerAddrsOf(config: SchedulerConfig): string[] {
  return [...new Set([config.manager.addr, ...config.manager.addrs].filter((addr) => addr !== ''))];
}

/** Defaults filled, units converted, unknown keys and bad values rejected with their path. */
export function resolveSchedulerConfig(raw: unknown): SchedulerConfig {
  const config = resolveConfig(SCHEDULER_CONFIG_SCHEMA, raw);
  for (const key of GC_INTERVAL_KEYS) {
    // A zero interval would spin the GC timer.
    if (config.scheduler.gc[key] <= 0) throw new ConfigError(`scheduler.gc.${key}`, 'must be longer than 0');
  }
  if (config.scheduler.retryInterval <= 0) throw new ConfigError('scheduler.retryInterval', 'must be longer than 0');
  if (config.manager.addr !== '' && !HOST_PORT.test(config.manager.addr)) {
    throw new ConfigError('manager.addr', `"${config.manager.addr}" is not host:port`);
  }
  config.manager.addrs.forEach((addr, i) => {
    if (!HOST_PORT.test(addr)) throw new ConfigError(`manager.addrs[${i}]`, `"${addr}" is not host:port`);
  });
  if (config.manager.keepAlive.interval <= 0) throw new ConfigError('manager.keepAlive.interval', 'must be longer than 0');
  if (config.dynconfig.refreshInterval <= 0) throw new ConfigError('dynconfig.refreshInterval', 'must be longer than 0');
  checkTlsPaths('server.tls', config.server.tls);
  checkTlsPaths('seedPeer.tls', config.seedPeer.tls);
  return config;
}

/** scheduler.yaml text to a resolved config; YAML syntax errors name the line. */
export function parseSchedulerConfig(text: string): SchedulerConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError('', `not valid YAML: ${(error as Error).message}`);
  }
  return resolveSchedulerConfig(raw);
}

/** Splits `host:port` / `:port` / `[::1]:port`; an empty host means every address. */
export function splitHostPort(addr: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  if (!match) throw new ConfigError('metrics.addr', `"${addr}" is not host:port`);
  const port = Number(match[3]);
  if (port > 65535) throw new ConfigError('metrics.addr', `port ${port} is out of range`);
  return { host: match[1] ?? match[2] ?? '', port };
}

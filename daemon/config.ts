/**
 * dfdaemon.yaml: Dragonfly's camelCase keys and defaults (`dragonfly-client-config/src/dfdaemon.rs`),
 * resolved by api's schema-driven resolver, so an unknown key or a bad value fails at start with its
 * path. Deviations, on purpose:
 * - `scheduler.addrs` is the static list used without `manager.addrs`; with a manager the list
 *   comes from its ListSchedulers (refreshed every `dynconfig.refreshInterval`, cached on disk).
 * - `scheduler.scheduleTimeout` bounds one wait for the scheduler's answer (register, reschedule),
 *   as in the Go dfdaemon, not the whole stream as in the Rust client (3 h): a hung scheduler must
 *   not hold a download that the origin could finish.
 * - `storage.server.tcpPort` serves pieces over plain HTTP/1.1, not Vortex TLV (DESIGN.md).
 * - Mutual TLS (`upload.server`, `upload.client`, `scheduler` `.{caCert,cert,key}` as Dragonfly's
 *   Rust client names them; `storage.server.{caCert,cert,key}` is ours, for the HTTP piece server):
 *   a peer is admitted when its certificate chains to caCert; its name or address is not checked.
 * - `storage.server.advertisePort` is ours: Dragonfly advertises only an ip (`host.ip`), which is not
 *   enough behind a port mapping.
 */
import { readFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { checkTlsPaths, ConfigError, field, resolveConfig, tlsFields, type Resolved, type TlsPaths } from '../api/index.ts';
import { LOG_LEVELS } from './log.ts';
import { parseCidr } from './proxy/client-filter.ts';

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
    schedulerClusterID: field.int(0, { min: 0, max: Number.MAX_SAFE_INTEGER, doc: 'pin this host to a cluster of the manager; 0: the cluster whose scopes match best' }),
  }),
  manager: field.object({
    addrs: field.list([], 'manager gRPC host:port list; with one, the scheduler list comes from the manager and scheduler.addrs is not used'),
  }),
  dynconfig: field.object({
    refreshInterval: field.duration('10s', 'how often the scheduler list and cluster config are fetched from the manager'),
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
    retryWindow: field.duration('30s', 'an origin that fails a piece with 5xx, resets or timeouts is retried (backoff up to 5 s) until the first failure is this old, so a short outage mid-download is waited out; 0: three retries only. The first request of a download is not held: its caller can go elsewhere at once'),
    bandwidthLimit: field.rate('50GB/s', 'all downloads together'),
    collectedPieceTimeout: field.duration('10s', 'how long to wait for a parent to announce pieces before rescheduling'),
    relay: field.bool(false, 'fetch pieces parents are still receiving (cut-through relay), each checked against the digest the parent sends once it verified the piece'),
    keepAlive: field.bool(true, 'pieces from origins and parents go over kept-alive, pipelined connections moved socket -> crc32 -> file by the native addon, on slow and fast links alike (needs the addon; false: a connection per piece on fast links, undici on slow ones)'),
  }),
  upload: field.object({
    server: field.object({
      ip: field.string('0.0.0.0'),
      port: port(4000, 'DfdaemonUpload gRPC (peers and the scheduler); 0 picks a free port'),
      ...tlsFields('the DfdaemonUpload gRPC server (peers and the scheduler must present a certificate)'),
    }),
    client: field.object(tlsFields('calls to other daemons: their DfdaemonUpload gRPC (SyncPieces) and piece servers')),
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
    ...tlsFields('calls to the schedulers'),
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
      advertisePort: port(0, 'piece server port announced to the scheduler and peers, when a NAT or port mapping puts it elsewhere; 0: tcpPort as bound'),
      ...tlsFields('the piece server (children must present a certificate; HTTPS)'),
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
    server: field.object({
      ip: field.string('127.0.0.1', { doc: 'loopback by default: an exposed proxy also needs allowedClients' }),
      port: port(4001, 'registry mirror and HTTP proxy; 0 picks a free port'),
      allowedClients: field.list(['127.0.0.0/8', '::1/128'], 'client address ranges (CIDR) the proxy serves; others get 403'),
      caCert: field.optionalString({ doc: 'PEM CA certificate: with caKey, CONNECT tunnels are intercepted and served by the same rules' }),
      caKey: field.optionalString({ doc: 'PEM key of caCert' }),
    }),
    rules: field.records(
      {
        regex: field.string('', { doc: 'matched against the URL without query and fragment' }),
        useTLS: field.bool(false, 'fetch the matched URL over https'),
        redirect: field.optionalString({ doc: 'replace the URL host with this one' }),
        filteredQueryParams: field.list([], 'query params left out of the task id (default: the common signing params)'),
      },
      [{ regex: 'blobs/sha256.*' }],
      'GET requests whose URL matches go through P2P; the rest pass straight through',
    ),
    registryMirror: field.object({
      addr: field.string('https://index.docker.io', { doc: 'upstream for mirror requests that name none (no X-Dragonfly-Registry header, no ?ns=)' }),
    }),
    disableBackToSource: field.bool(false, 'blobs come only from peers; never from the upstream directly'),
    authCacheTTL: field.duration('60s', 'how long an upstream\'s yes to a client\'s credentials for a blob is reused'),
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

function checkProxy(proxy: Raw['proxy']): void {
  proxy.server.allowedClients.forEach((cidr, i) => {
    if (!parseCidr(cidr)) throw new ConfigError(`proxy.server.allowedClients[${i}]`, `"${cidr}" is not an address range like 10.0.0.0/8 or ::1/128`);
  });
  if ((proxy.server.caCert === undefined) !== (proxy.server.caKey === undefined)) {
    throw new ConfigError(proxy.server.caCert === undefined ? 'proxy.server.caCert' : 'proxy.server.caKey', 'caCert and caKey go together');
  }
  proxy.rules.forEach((rule, i) => {
    if (!rule.regex) throw new ConfigError(`proxy.rules[${i}].regex`, 'is required');
    try {
      new RegExp(rule.regex);
    } catch (error) {
      throw new ConfigError(`proxy.rules[${i}].regex`, `not a regular expression: ${(error as Error).message}`);
    }
  });
  let mirror: URL | undefined;
  try {
    mirror = new URL(proxy.registryMirror.addr);
  } catch {
    mirror = undefined;
  }
  if (!mirror || !/^https?:$/.test(mirror.protocol) || (mirror.pathname !== '/' && mirror.pathname !== '')) {
    throw new ConfigError('proxy.registryMirror.addr', `"${proxy.registryMirror.addr}" is not a registry URL like https://index.docker.io`);
  }
}

/** The TLS sections of a config by key path (api/tls.ts); each is on when caCert, cert and key are set. */
export function tlsSections(config: Raw): ReadonlyArray<readonly [TlsSectionPath, TlsPaths]> {
  return [
    ['upload.server', config.upload.server],
    ['upload.client', config.upload.client],
    ['storage.server', config.storage.server],
    ['scheduler', config.scheduler],
  ];
}

export type TlsSectionPath = 'upload.server' | 'upload.client' | 'storage.server' | 'scheduler';

/** Defaults filled, units converted, unknown keys and bad values rejected naming the key path. */
export function resolveDfdaemonConfig(raw: unknown): DfdaemonConfig {
  const config = resolveConfig(DFDAEMON_CONFIG_SCHEMA, raw);
  config.scheduler.addrs.forEach((addr, i) => {
    if (!ADDR.test(addr) || Number(addr.slice(addr.lastIndexOf(':') + 1)) > 65535) {
      throw new ConfigError(`scheduler.addrs[${i}]`, `"${addr}" is not host:port`);
    }
  });
  config.manager.addrs.forEach((addr, i) => {
    if (!ADDR.test(addr) || Number(addr.slice(addr.lastIndexOf(':') + 1)) > 65535) {
      throw new ConfigError(`manager.addrs[${i}]`, `"${addr}" is not host:port`);
    }
  });
  if (config.dynconfig.refreshInterval <= 0) throw new ConfigError('dynconfig.refreshInterval', 'must be longer than 0');
  if (config.scheduler.announceInterval <= 0) throw new ConfigError('scheduler.announceInterval', 'must be longer than 0');
  if (config.scheduler.scheduleTimeout <= 0) throw new ConfigError('scheduler.scheduleTimeout', 'must be longer than 0');
  if (config.download.pieceTimeout <= 0) throw new ConfigError('download.pieceTimeout', 'must be longer than 0');
  if (config.gc.interval <= 0) throw new ConfigError('gc.interval', 'must be longer than 0');
  const { diskHighThresholdPercent: high, diskLowThresholdPercent: low } = config.gc.policy;
  if (low >= high) throw new ConfigError('gc.policy.diskLowThresholdPercent', `must be below diskHighThresholdPercent (${high}), got ${low}`);
  if (!config.download.server.socketPath) throw new ConfigError('download.server.socketPath', 'must not be empty');
  if (!config.storage.dir) throw new ConfigError('storage.dir', 'must not be empty');
  checkProxy(config.proxy);
  for (const [path, section] of tlsSections(config)) checkTlsPaths(path, section);
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

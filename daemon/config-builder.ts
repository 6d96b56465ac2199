/**
 * The one writer of dfdaemon.yaml for daemons that a harness starts on this machine (`npm start`,
 * the tests' and benches' clusters): a small typed input to the config tree, then to YAML text
 * checked by the daemon's own schema (config.ts), so a wrong key or value fails here, naming its
 * path, instead of in a child process. Pure: no files, no processes.
 */
import { stringify } from 'yaml';
import { resolveDfdaemonConfig, type DfdaemonConfig } from './config.ts';
import type { LogLevel } from './log.ts';

/** A dfdaemon.yaml tree (or part of one): Dragonfly's camelCase keys, human units as strings. */
export type DfdaemonConfigTree = { [key: string]: unknown };

export interface DfdaemonPortsInput {
  readonly upload?: number;
  readonly pieces?: number;
  readonly proxy?: number;
  readonly metrics?: number;
  readonly health?: number;
}

export interface DfdaemonConfigInput {
  /** host.hostname: the host id is `<ip>-<hostname>` (`-seed` for a seed peer). */
  readonly hostname: string;
  /** host.ip, the announced address; the upload gRPC and piece servers listen on it. */
  readonly ip: string;
  /** storage.dir */
  readonly storageDir: string;
  /** download.server.socketPath, for dfget. */
  readonly socketPath: string;
  /** scheduler.addrs, `host:port` each; not used when managerAddrs is given. */
  readonly schedulerAddrs: readonly string[];
  /** manager.addrs: the schedulers then come from the manager's ListSchedulers. */
  readonly managerAddrs?: readonly string[];
  /** seedPeer.enable; default false. */
  readonly seed?: boolean;
  /** Default 0 each: a free port, told by the `dfdaemon ready` log line. */
  readonly ports?: DfdaemonPortsInput;
  /** log.level; default info. */
  readonly logLevel?: LogLevel;
  /**
   * One identity for every mutual-TLS link of the daemon: written to upload.server, upload.client,
   * storage.server and scheduler (`caCert`, `cert`, `key` PEM paths). Default: TLS off.
   */
  readonly tls?: { readonly caCert: string; readonly cert: string; readonly key: string };
  /** Merged over the rest, key by key (lists and scalars replace). */
  readonly overrides?: DfdaemonConfigTree;
}

const isTree = (value: unknown): value is DfdaemonConfigTree => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `extra` over `base`, objects merged key by key, everything else replaced; neither is changed. */
export function mergeConfigTree(base: DfdaemonConfigTree, extra: DfdaemonConfigTree): DfdaemonConfigTree {
  const out: DfdaemonConfigTree = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isTree(value) && isTree(current) ? mergeConfigTree(current, value) : value;
  }
  return out;
}

/**
 * The config tree for `input`, not yet checked (a test may build a bad one on purpose). Metrics and
 * health listen on loopback: a harness reads them from this machine.
 */
export function dfdaemonConfigTree(input: DfdaemonConfigInput): DfdaemonConfigTree {
  const ports = input.ports ?? {};
  const tls = input.tls ? { caCert: input.tls.caCert, cert: input.tls.cert, key: input.tls.key } : {};
  const base: DfdaemonConfigTree = {
    host: { hostname: input.hostname, ip: input.ip },
    download: { server: { socketPath: input.socketPath } },
    upload: { server: { ip: input.ip, port: ports.upload ?? 0, ...tls }, ...(input.tls && { client: { ...tls } }) },
    scheduler: { addrs: [...input.schedulerAddrs], ...tls },
    ...(input.managerAddrs && input.managerAddrs.length > 0 && { manager: { addrs: [...input.managerAddrs] } }),
    seedPeer: { enable: input.seed ?? false },
    storage: { dir: input.storageDir, server: { ip: input.ip, tcpPort: ports.pieces ?? 0, ...tls } },
    proxy: { server: { port: ports.proxy ?? 0 } },
    metrics: { server: { ip: '127.0.0.1', port: ports.metrics ?? 0 } },
    health: { server: { ip: '127.0.0.1', port: ports.health ?? 0 } },
    log: { level: input.logLevel ?? 'info' },
  };
  return input.overrides ? mergeConfigTree(base, input.overrides) : base;
}

/** The YAML of a tree after the daemon's schema accepted it; a ConfigError names the bad key. */
export function dfdaemonConfigYaml(tree: DfdaemonConfigTree): string {
  resolveDfdaemonConfig(tree);
  return stringify(tree);
}

/** dfdaemon.yaml for `input`, checked: its text and the config the daemon will resolve from it. */
export function buildDfdaemonConfig(input: DfdaemonConfigInput): { readonly yaml: string; readonly config: DfdaemonConfig } {
  const tree = dfdaemonConfigTree(input);
  const config = resolveDfdaemonConfig(tree);
  return { yaml: stringify(tree), config };
}

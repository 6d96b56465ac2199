/**
 * Checking manager.v2 requests and encoding rows as messages. A request field that is wrong fails
 * with INVALID_ARGUMENT naming the field; stored JSON that no longer parses is sent as `{}` rather
 * than failing every daemon's refresh.
 */
import { InvalidArgumentError, type managerv2 } from '../../api/index.ts';
import { checkScopes, parseIp, type ClusterScopes } from '../scopes.ts';
import type { Application, Host, Scheduler, SchedulerCluster } from '../store/schema.ts';

const MAX_NAME = 255;

export function requireHostname(value: string | undefined, field = 'hostname'): string {
  if (!value) throw new InvalidArgumentError(`${field}: is required`);
  if (value.length > MAX_NAME || /\s/.test(value)) throw new InvalidArgumentError(`${field}: ${JSON.stringify(value.slice(0, 64))} is not a hostname`);
  return value;
}

export function requireIp(value: string | undefined, field = 'ip'): string {
  if (!value) throw new InvalidArgumentError(`${field}: is required`);
  if (!parseIp(value)) throw new InvalidArgumentError(`${field}: ${JSON.stringify(value.slice(0, 64))} is not an IPv4 or IPv6 address`);
  return value;
}

export function requirePort(value: number | undefined, field = 'port'): number {
  if (value === undefined || !Number.isInteger(value) || value < 1 || value > 65535) throw new InvalidArgumentError(`${field}: must be 1-65535, got ${value}`);
  return value;
}

/** Free text kept short: an IDC, a location, a feature. */
export function optionalText(value: string | undefined, field: string): string {
  const text = value ?? '';
  if (text.length > MAX_NAME) throw new InvalidArgumentError(`${field}: longer than ${MAX_NAME} characters`);
  return text;
}

/** A uint64 id as a JS number; proto-loader gives numbers (longs: Number). */
export function optionalId(value: number | undefined, field: string): number {
  const id = value ?? 0;
  if (!Number.isSafeInteger(id) || id < 0) throw new InvalidArgumentError(`${field}: ${id} is not an id`);
  return id;
}

function jsonText(text: string): string {
  try {
    JSON.parse(text);
    return text;
  } catch {
    return '{}';
  }
}

/** Stored scopes as the matcher takes them; a row that fails the check matches nothing. */
export function scopesOf(cluster: SchedulerCluster): ClusterScopes {
  try {
    return checkScopes(JSON.parse(cluster.scopes));
  } catch {
    return {};
  }
}

function parsedList(text: string): string[] {
  try {
    const value = JSON.parse(text) as unknown;
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}

export function clusterMessage(cluster: SchedulerCluster): managerv2.SchedulerCluster {
  return {
    id: cluster.id,
    name: cluster.name,
    bio: cluster.bio ?? '',
    config: jsonText(cluster.config),
    clientConfig: jsonText(cluster.client_config),
    seedClientConfig: jsonText(cluster.seed_client_config),
    scopes: jsonText(cluster.scopes),
    isDefault: cluster.is_default === 1,
  };
}

export function seedPeerMessage(host: Host): managerv2.SeedPeer {
  return {
    id: host.id,
    hostname: host.hostname,
    type: 'super',
    ip: host.ip,
    port: host.port,
    downloadPort: host.download_port,
    state: host.state,
    idc: host.idc ?? '',
    location: host.location ?? '',
    seedPeerClusterId: host.scheduler_cluster_id,
  };
}

export function schedulerMessage(row: Scheduler, extra: { cluster?: SchedulerCluster; seedPeers?: readonly Host[] } = {}): managerv2.Scheduler {
  return {
    id: row.id,
    hostname: row.hostname,
    ip: row.ip,
    port: row.port,
    state: row.state,
    idc: row.idc ?? '',
    location: row.location ?? '',
    schedulerClusterId: row.scheduler_cluster_id,
    features: parsedList(row.features),
    ...(extra.cluster && { schedulerCluster: clusterMessage(extra.cluster) }),
    seedPeers: (extra.seedPeers ?? []).map(seedPeerMessage),
  };
}

const PRIORITY_MAX = 6;

/** A stored priority (a number 0-6, or a `LEVELn` name) as the enum name; anything else is LEVEL0. */
function priorityName(value: unknown): string {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= PRIORITY_MAX) return `LEVEL${value}`;
  if (typeof value === 'string' && /^LEVEL[0-6]$/.test(value)) return value;
  return 'LEVEL0';
}

export function applicationMessage(row: Application): managerv2.Application {
  let priority: { value?: unknown; urls?: unknown } = {};
  try {
    priority = (JSON.parse(row.priority) ?? {}) as typeof priority;
  } catch {
    priority = {};
  }
  const urls = Array.isArray(priority.urls) ? (priority.urls as Array<{ regex?: unknown; value?: unknown }>) : [];
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    bio: row.bio ?? '',
    priority: {
      value: priorityName(priority.value) as managerv2.ApplicationPriority['value'],
      urls: urls
        .filter((url) => typeof url?.regex === 'string')
        .map((url) => ({ regex: url.regex as string, value: priorityName(url.value) as managerv2.URLPriority['value'] })),
    },
  };
}

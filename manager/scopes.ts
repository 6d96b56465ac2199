/**
 * Which scheduler cluster a host belongs to: Dragonfly's searcher scores each cluster's scopes
 * against the host (CIDR 0.3, hostname regex 0.3, IDC 0.25, location prefix 0.14, default cluster
 * 0.01). Unlike Dragonfly, which returns every cluster sorted by score and lets the client take the
 * first healthy one (a host then lands in an unrelated cluster, Dragonfly #4202 and #3020), only
 * the single best cluster is returned, a cluster that matches nothing is never returned unless it
 * is the default one, and a host pinned to a cluster id gets that cluster or none.
 *
 * Pure: the manager checks scopes once when a cluster is stored (`checkScopes`) and the matching
 * never throws, even on scopes that were stored before a check existed.
 */
import { InvalidArgumentError } from '../api/index.ts';

export interface ClusterScopes {
  /** IDCs of the cluster, `|`-separated: a host in any of them matches. */
  readonly idc?: string | undefined;
  /** Location levels, `|`-separated from the widest (`country|province|city|zone|rack`). */
  readonly location?: string | undefined;
  /** IPv4 or IPv6 prefixes (`10.0.0.0/8`, `2001:db8::/32`). */
  readonly cidrs?: readonly string[] | undefined;
  /** Regular expressions, unanchored as Dragonfly's (Go `regexp.MatchString`). */
  readonly hostnames?: readonly string[] | undefined;
}

export interface ScopeHost {
  readonly hostname: string;
  readonly ip: string;
  readonly idc?: string | undefined;
  readonly location?: string | undefined;
}

export interface ScopedCluster {
  readonly id: number;
  readonly isDefault?: boolean | undefined;
  readonly scopes?: ClusterScopes | undefined;
}

/** Dragonfly's searcher weights; they sum to 1. */
export const SCOPE_WEIGHTS = Object.freeze({ cidr: 0.3, hostname: 0.3, idc: 0.25, location: 0.14, isDefault: 0.01 });

/** Location levels that count; each matching leading level is worth 1/5 of the location weight. */
export const MAX_LOCATION_LEVELS = 5;

// Scores are summed in integer points (1 = 1/5000) so that two clusters matching on different
// rules with the same total compare equal and fall to the id tie-break, instead of differing in
// the last bit of a float sum.
const POINTS_PER_UNIT = 5000;
const POINTS = Object.freeze({
  cidr: Math.round(SCOPE_WEIGHTS.cidr * POINTS_PER_UNIT),
  hostname: Math.round(SCOPE_WEIGHTS.hostname * POINTS_PER_UNIT),
  idc: Math.round(SCOPE_WEIGHTS.idc * POINTS_PER_UNIT),
  locationLevel: Math.round((SCOPE_WEIGHTS.location * POINTS_PER_UNIT) / MAX_LOCATION_LEVELS),
  isDefault: Math.round(SCOPE_WEIGHTS.isDefault * POINTS_PER_UNIT),
});

const SEPARATOR = '|';

interface Ip {
  readonly family: 4 | 6;
  readonly value: bigint;
}

interface Prefix extends Ip {
  readonly bits: number;
}

/** Dotted quad, four decimal octets without leading zeros (Go's netip rejects those too). */
function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  let head = text;
  let tail = '';
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let v4Groups: number[] = [];
  if (v4) {
    const value = parseIpv4(v4[2]!);
    if (value === undefined) return undefined;
    head = v4[1]!.endsWith('::') ? v4[1]! : v4[1]!.slice(0, -1);
    v4Groups = [Number(value >> 16n), Number(value & 0xffffn)];
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  [head, tail] = halves.length === 2 ? [halves[0]!, halves[1]!] : [head, ''];
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const group of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
      out.push(Number.parseInt(group, 16));
    }
    return out;
  };
  const left = groups(head);
  const right = groups(tail);
  if (!left || !right) return undefined;
  const given = [...left, ...right, ...v4Groups].length;
  if (halves.length === 2 ? given > 7 : given !== 8) return undefined;
  const all = [...left, ...Array<number>(8 - given).fill(0), ...right, ...v4Groups];
  return all.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

/**
 * An address; an IPv4-mapped IPv6 address counts as its IPv4 address (Go's `Unmap`). A zoned
 * address (`fe80::1%eth0`) is refused: Go's `Prefix.Contains` never matches one either.
 */
export function parseIp(text: string): Ip | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIpv6(text);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === 0xffffn) return { family: 4, value: v6 & 0xffffffffn };
  return { family: 6, value: v6 };
}

/** `addr/bits`; host bits may be set (`10.1.2.3/8` is `10.0.0.0/8`), as Go's ParsePrefix allows. */
export function parsePrefix(text: string): Prefix | undefined {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return undefined;
  const bitsText = text.slice(slash + 1);
  const addrText = text.slice(0, slash);
  if (!/^(0|[1-9]\d{0,2})$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  const v4 = parseIpv4(addrText);
  if (v4 !== undefined) return bits <= 32 ? { family: 4, value: v4, bits } : undefined;
  const v6 = parseIpv6(addrText);
  return v6 !== undefined && bits <= 128 ? { family: 6, value: v6, bits } : undefined;
}

function contains(prefix: Prefix, ip: Ip): boolean {
  if (prefix.family !== ip.family) return false;
  const width = BigInt(prefix.family === 4 ? 32 : 128);
  const shift = width - BigInt(prefix.bits);
  return prefix.value >> shift === ip.value >> shift;
}

/**
 * A hostname pattern as a RegExp. Dragonfly's patterns are Go RE2; a leading `(?i)` (RE2's
 * whole-pattern flag, which JavaScript lacks) becomes the `i` flag, the rest is the same syntax
 * for the patterns hostnames need.
 */
function compileHostname(pattern: string): RegExp {
  return pattern.startsWith('(?i)') ? new RegExp(pattern.slice(4), 'i') : new RegExp(pattern);
}

interface Compiled {
  /** The whole idc string, then its elements: Dragonfly compares both. */
  readonly idcs: readonly string[];
  readonly location: string;
  readonly prefixes: readonly Prefix[];
  readonly hostnames: readonly RegExp[];
}

// Scopes change only when a cluster is stored; ListSchedulers runs for every host, so parse once
// per scopes object.
const compiledCache = new WeakMap<ClusterScopes, Compiled>();

/** Elements that do not parse are skipped here, as Dragonfly does; `checkScopes` rejects them on write. */
function compile(scopes: ClusterScopes): Compiled {
  let compiled = compiledCache.get(scopes);
  if (compiled) return compiled;
  const hostnames: RegExp[] = [];
  for (const pattern of Array.isArray(scopes.hostnames) ? scopes.hostnames : []) {
    if (typeof pattern !== 'string') continue;
    try {
      hostnames.push(compileHostname(pattern));
    } catch {
      // A bad pattern matches nothing; it can only be here if stored before checkScopes existed.
    }
  }
  const prefixes: Prefix[] = [];
  for (const cidr of Array.isArray(scopes.cidrs) ? scopes.cidrs : []) {
    const prefix = typeof cidr === 'string' ? parsePrefix(cidr) : undefined;
    if (prefix) prefixes.push(prefix);
  }
  const idc = typeof scopes.idc === 'string' ? scopes.idc : '';
  compiled = {
    idcs: idc === '' ? [] : [idc.toLowerCase(), ...idc.toLowerCase().split(SEPARATOR)],
    location: typeof scopes.location === 'string' ? scopes.location.toLowerCase() : '',
    prefixes,
    hostnames,
  };
  compiledCache.set(scopes, compiled);
  return compiled;
}

/** Leading location levels in common, at most 5; the same whole string counts all 5 (Dragonfly's rule). */
function locationLevels(host: string, cluster: string): number {
  if (host === '' || cluster === '') return 0;
  if (host === cluster) return MAX_LOCATION_LEVELS;
  const a = host.split(SEPARATOR);
  const b = cluster.split(SEPARATOR);
  const n = Math.min(a.length, b.length, MAX_LOCATION_LEVELS);
  let level = 0;
  while (level < n && a[level] === b[level]) level++;
  return level;
}

function points(host: ScopeHost, cluster: ScopedCluster): number {
  const scopes = compile(cluster.scopes ?? {});
  let total = 0;
  const ip = parseIp(host.ip);
  if (ip && scopes.prefixes.some((prefix) => contains(prefix, ip))) total += POINTS.cidr;
  if (host.hostname !== '' && scopes.hostnames.some((regex) => regex.test(host.hostname))) total += POINTS.hostname;
  const idc = (host.idc ?? '').toLowerCase();
  if (idc !== '' && scopes.idcs.includes(idc)) total += POINTS.idc;
  total += POINTS.locationLevel * locationLevels((host.location ?? '').toLowerCase(), scopes.location);
  if (cluster.isDefault === true) total += POINTS.isDefault;
  return total;
}

/** How well a cluster's scopes match a host, 0 to 1. */
export function scoreCluster(host: ScopeHost, cluster: ScopedCluster): number {
  return points(host, cluster) / POINTS_PER_UNIT;
}

/**
 * The one cluster a host belongs to: the highest score, ties to the lower id; `undefined` when no
 * cluster matches at all and none is the default. A pinned host (`pinnedClusterId`, the host's
 * `schedulerClusterID`) gets that cluster whatever the scores, or none when it is not in the list;
 * 0 means not pinned, since ids start at 1 and 0 is what an unset proto3 or YAML field carries.
 * The caller passes only clusters that have an active scheduler.
 */
export function bestCluster<C extends ScopedCluster>(
  host: ScopeHost,
  clusters: readonly C[],
  options: { readonly pinnedClusterId?: number | undefined } = {},
): C | undefined {
  const pinned = options.pinnedClusterId;
  if (pinned !== undefined && pinned !== 0) return clusters.find((cluster) => cluster.id === pinned);
  let best: C | undefined;
  let bestPoints = 0;
  for (const cluster of clusters) {
    const p = points(host, cluster);
    if (p > bestPoints || (p === bestPoints && p > 0 && best !== undefined && cluster.id < best.id)) {
      best = cluster;
      bestPoints = p;
    }
  }
  return best;
}

const SCOPE_KEYS = Object.freeze(['idc', 'location', 'cidrs', 'hostnames']);

function stringList(value: unknown, path: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new InvalidArgumentError(`${path}: must be a list of strings`);
  return value.map((item, i) => {
    if (typeof item !== 'string') throw new InvalidArgumentError(`${path}[${i}]: must be a string`);
    return item;
  });
}

function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InvalidArgumentError(`${path}: must be a string`);
  return value;
}

/**
 * Validates scopes when a cluster is stored (REST input or a database row), naming the bad element
 * (`scopes.cidrs[1]`), and returns them frozen. Unknown keys are refused so a typo (`cidr`) does
 * not silently match nothing.
 */
export function checkScopes(input: unknown, path = 'scopes'): ClusterScopes {
  if (input === undefined || input === null) return Object.freeze({});
  if (typeof input !== 'object' || Array.isArray(input)) throw new InvalidArgumentError(`${path}: must be an object`);
  const record = input as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!SCOPE_KEYS.includes(key)) throw new InvalidArgumentError(`${path}.${key}: unknown key; allowed: ${SCOPE_KEYS.join(', ')}`);
  }
  const cidrs = stringList(record.cidrs, `${path}.cidrs`);
  cidrs.forEach((cidr, i) => {
    if (!parsePrefix(cidr)) throw new InvalidArgumentError(`${path}.cidrs[${i}]: ${JSON.stringify(cidr)} is not an IPv4 or IPv6 CIDR`);
  });
  const hostnames = stringList(record.hostnames, `${path}.hostnames`);
  hostnames.forEach((pattern, i) => {
    try {
      compileHostname(pattern);
    } catch (error) {
      throw new InvalidArgumentError(`${path}.hostnames[${i}]: ${JSON.stringify(pattern)} is not a regular expression`, { cause: error });
    }
  });
  const idc = optionalString(record.idc, `${path}.idc`);
  const location = optionalString(record.location, `${path}.location`);
  return Object.freeze({
    ...(idc !== undefined && { idc }),
    ...(location !== undefined && { location }),
    ...(cidrs.length > 0 && { cidrs: Object.freeze(cidrs) }),
    ...(hostnames.length > 0 && { hostnames: Object.freeze(hostnames) }),
  });
}

/**
 * Simulated hosts: one network namespace per host, each with a veth into a bridge that lives in a
 * namespace of its own (the "switch"), and a tc token bucket in both directions of every link: the
 * host's egress on its eth0, its ingress on the switch-side veth. Nothing touches the root
 * namespace, so the only addresses used are the ones created here.
 *
 * Every namespace of a run shares one name prefix (`dfb<pid % 1000>` plus a letter when that is
 * taken), so a run can always find, and remove, exactly what it made.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const SUBNET = '10.77.0';
/** Host i gets SUBNET.(FIRST_HOST_OCTET + i). */
const FIRST_HOST_OCTET = 10;
export const MAX_HOSTS = 240;
const COMMAND_TIMEOUT_MS = 10_000;

export class NetnsError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NetnsError';
    this.code = code;
  }
}

export interface HostSpec {
  /** Short role name for tables: `origin`, `seed`, `peer-1`... */
  readonly name: string;
  /** Link rate in bits per second, applied in both directions. */
  readonly rateBps: number;
}

export interface SimHost {
  readonly name: string;
  /** The namespace, e.g. `dfb123-h2`. */
  readonly netns: string;
  readonly ip: string;
  readonly rateBps: number;
}

export interface Topology {
  readonly prefix: string;
  readonly switchNetns: string;
  readonly hosts: readonly SimHost[];
  /** Removes every namespace of the run (idempotent). Kill the processes inside first. */
  teardown(): Promise<void>;
  /** The same, synchronously: for process 'exit' handlers. */
  teardownSync(): void;
}

/** Why this process cannot build namespaces, or undefined when it can. */
export function rootProblem(): string | undefined {
  if (typeof process.getuid !== 'function') return 'network namespaces need Linux';
  if (process.getuid() !== 0) return `network namespaces need root (running as uid ${process.getuid()}); run with sudo`;
  return undefined;
}

/** Namespace names now present (`ip netns list`). */
export function listNetns(): string[] {
  const text = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
  // Lines look like `name` or `name (id: 3)`.
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/** A prefix no namespace on this machine uses yet: `dfb<pid % 1000>`, then `a`..`z` appended. */
export function pickPrefix(pid = process.pid, existing: readonly string[] = listNetns()): string {
  const base = `dfb${pid % 1000}`;
  for (const suffix of ['', ...'abcdefghijklmnopqrstuvwxyz']) {
    const prefix = `${base}${suffix}-`;
    if (!existing.some((name) => name.startsWith(prefix))) return prefix;
  }
  throw new NetnsError('DF_ERR_NETNS_PREFIX', `every namespace prefix ${base}[a-z]- is taken; remove stale ones with 'ip netns del'`);
}

/** tc's burst must hold at least one timer tick of traffic; 256 KiB is plenty up to ~1 Gbit/s. */
function burstBytes(rateBps: number): number {
  return Math.max(256 * 1024, Math.ceil(rateBps / 8 / 100));
}

function tbf(rateBps: number): string[] {
  return ['root', 'tbf', 'rate', `${rateBps}bit`, 'burst', String(burstBytes(rateBps)), 'latency', '100ms'];
}

async function sh(command: string, args: readonly string[]): Promise<void> {
  try {
    await run(command, [...args], { timeout: COMMAND_TIMEOUT_MS });
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new NetnsError('DF_ERR_NETNS_SETUP', `${command} ${args.join(' ')} failed: ${stderr || (error as Error).message}`, { cause: error });
  }
}

function deleteAll(names: readonly string[]): void {
  for (const name of names) {
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: COMMAND_TIMEOUT_MS });
    } catch {
      // Already gone (or never made): teardown is idempotent.
    }
  }
}

/**
 * Builds the switch and one namespace per host. On any failure, whatever was made is removed
 * before the error is thrown.
 */
export async function buildTopology(prefix: string, specs: readonly HostSpec[]): Promise<Topology> {
  if (specs.length === 0 || specs.length > MAX_HOSTS) throw new NetnsError('DF_ERR_NETNS_SETUP', `hosts must number 1 to ${MAX_HOSTS}, got ${specs.length}`);
  const switchNetns = `${prefix}sw`;
  const hosts: SimHost[] = specs.map((spec, i) => ({ name: spec.name, netns: `${prefix}h${i}`, ip: `${SUBNET}.${FIRST_HOST_OCTET + i}`, rateBps: spec.rateBps }));
  const made: string[] = [];
  let removed = false;
  const teardownSync = () => {
    if (removed) return;
    removed = true;
    // Hosts first: deleting a host namespace deletes its veth pair, then the switch goes.
    deleteAll([...made].reverse());
  };
  const topology: Topology = { prefix, switchNetns, hosts, teardownSync, teardown: async () => teardownSync() };
  try {
    await sh('ip', ['netns', 'add', switchNetns]);
    made.push(switchNetns);
    await sh('ip', ['-n', switchNetns, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh('ip', ['-n', switchNetns, 'link', 'set', 'br0', 'up']);
    await sh('ip', ['-n', switchNetns, 'link', 'set', 'lo', 'up']);
    // Hosts in small parallel batches: each is a dozen short commands.
    const BATCH = 8;
    for (let at = 0; at < hosts.length; at += BATCH) {
      await Promise.all(hosts.slice(at, at + BATCH).map((host, j) => addHost(switchNetns, host, at + j, made)));
    }
    return topology;
  } catch (error) {
    teardownSync();
    throw error;
  }
}

async function addHost(switchNetns: string, host: SimHost, index: number, made: string[]): Promise<void> {
  const veth = `v${index}`;
  await sh('ip', ['netns', 'add', host.netns]);
  made.push(host.netns);
  await sh('ip', ['link', 'add', 'eth0', 'netns', host.netns, 'type', 'veth', 'peer', 'name', veth, 'netns', switchNetns]);
  await sh('ip', ['-n', switchNetns, 'link', 'set', veth, 'master', 'br0']);
  await sh('ip', ['-n', switchNetns, 'link', 'set', veth, 'up']);
  await sh('ip', ['-n', host.netns, 'link', 'set', 'lo', 'up']);
  await sh('ip', ['-n', host.netns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0']);
  await sh('ip', ['-n', host.netns, 'link', 'set', 'eth0', 'up']);
  await sh('tc', ['-n', host.netns, 'qdisc', 'add', 'dev', 'eth0', ...tbf(host.rateBps)]);
  await sh('tc', ['-n', switchNetns, 'qdisc', 'add', 'dev', veth, ...tbf(host.rateBps)]);
}

export interface LinkCounters {
  /** Bytes the host sent on its link (IP packets with their headers). */
  readonly txBytes: number;
  /** Bytes the host received on its link. */
  readonly rxBytes: number;
}

/**
 * Every host's byte counters, in host order, read in one go from the switch side of the links
 * (`ip -s -j link` in the switch namespace): what the switch received on a host's veth is what
 * the host sent, and the other way round.
 */
export async function countersOfAll(topology: Pick<Topology, 'switchNetns' | 'hosts'>): Promise<LinkCounters[]> {
  const { stdout } = await run('ip', ['-n', topology.switchNetns, '-s', '-j', 'link', 'show'], { timeout: COMMAND_TIMEOUT_MS, maxBuffer: 16 << 20 });
  const links = JSON.parse(stdout) as Array<{ ifname?: string; stats64?: { tx?: { bytes?: number }; rx?: { bytes?: number } } }>;
  const byName = new Map(links.map((link) => [link.ifname, link.stats64]));
  return topology.hosts.map((host, i) => {
    const stats = byName.get(`v${i}`);
    const sent = stats?.rx?.bytes;
    const received = stats?.tx?.bytes;
    if (typeof sent !== 'number' || typeof received !== 'number') throw new NetnsError('DF_ERR_NETNS_COUNTERS', `no byte counters for ${host.netns}'s link (v${i} in ${topology.switchNetns})`);
    return { txBytes: sent, rxBytes: received };
  });
}

/**
 * The swarm bench's p2p cluster (nginx origin, dfscheduler and seed dfdaemon on the seed host, a
 * dfdaemon per peer; bench/swarm/p2p.ts's configs), started piece by piece so that each piece can
 * be broken on cue: a daemon or the scheduler SIGKILLed and started again on the same config and
 * storage, a daemon SIGSTOPped and SIGCONTed, a fault proxy (proxy.ts) in front of the origin or of
 * one peer's piece server, one peer's storage dir on a small tmpfs. Every process runs inside its
 * host's namespace and is stopped by PID; the tmpfs is unmounted by stop() or the bench's cleanup.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import { dfdaemonConfigYaml, mergeConfigTree, type DfdaemonConfigTree } from '../../daemon/index.ts';
import { dfgetEntry } from '../cluster/dfget.ts';
import { ServerProcess } from '../cluster/process.ts';
import { onCleanup } from '../lib/cleanup.ts';
import { findExecutable, killGroup, serverEnv, type MeasuredRun } from '../lib/spawn.ts';
import { launcherFor, runInHost } from '../swarm/hosts.ts';
import type { SimHost } from '../swarm/netns.ts';
import { ORIGIN_PORT, startOrigin, type NetnsOrigin } from '../swarm/origin.ts';
import { daemonConfig, DFDAEMON_BIN, READY_TIMEOUT_MS, startScheduler, type Daemon } from '../swarm/p2p.ts';
import type { SwarmContext } from '../swarm/system.ts';
import type { ProxyFault } from './proxy.ts';

const PROXY_SCRIPT = join(import.meta.dirname, 'proxy.ts');
/** Where a corrupt peer's real piece server listens; the advertised 4005 is its proxy's. */
const HIDDEN_PIECE_PORT = 4006;
const ADVERTISED_PIECE_PORT = 4005;

export interface ClusterPlan {
  /** This peer's piece server is fronted by a byte-flipping proxy (passing bytes unchanged until `proxyOn`). */
  readonly corruptPeer?: number | undefined;
  /** The origin is fronted by a proxy with this fault (off until `proxyOn`). */
  readonly originFault?: ProxyFault | undefined;
  /** This peer's storage dir is a tmpfs of `bytes`. */
  readonly smallDisk?: { readonly peer: number; readonly bytes: number } | undefined;
  /** Merged into every daemon's config (the seed's too). */
  readonly everyDaemon?: DfdaemonConfigTree | undefined;
}

/** A daemon whose process may be replaced (restarted on the same config and storage). */
export interface DaemonHandle extends Daemon {
  proc: ServerProcess;
  hostId: string;
  readonly configPath: string;
  /** Process generations: 1, then 2 after a restart... */
  starts: number;
}

export interface FaultCluster {
  readonly url: string;
  readonly origin: NetnsOrigin;
  readonly scheduler: () => ServerProcess;
  readonly seed: DaemonHandle;
  /** In peer order. */
  readonly peers: readonly DaemonHandle[];
  /** The fault proxy, when the plan has one. */
  readonly proxy: ServerProcess | undefined;
  /** Where each peer's output goes: one directory for all, nothing else in it. */
  readonly outputDir: string;
  outputPath(index: number): string;
  /** One dfget run on peer `index` through its daemon. */
  runDfget(index: number, signal: AbortSignal): Promise<MeasuredRun>;
  /** SIGKILL by PID (the process group), awaited until it is gone. */
  kill(proc: ServerProcess): Promise<void>;
  /** SIGSTOP / SIGCONT a daemon's process group. */
  pause(daemon: DaemonHandle): void;
  resume(daemon: DaemonHandle): void;
  restartDaemon(daemon: DaemonHandle): Promise<void>;
  restartScheduler(): Promise<void>;
  proxyOn(): void;
  proxyOff(): void;
  /** Stops everything (daemons, scheduler, proxy, origin), unmounts the tmpfs. */
  stop(): Promise<void>;
}

async function waitReady(ctx: SwarmContext, handle: DaemonHandle): Promise<void> {
  const proc = new ServerProcess(handle.starts === 0 ? handle.name : `${handle.name} (restart ${handle.starts})`, DFDAEMON_BIN, ['--config', handle.configPath], serverEnv(), launcherFor(handle.host));
  handle.proc = proc;
  handle.starts++;
  try {
    const ready = await proc.waitForLine((line) => line.msg === 'dfdaemon ready', READY_TIMEOUT_MS, ctx.signal);
    handle.hostId = String(ready['hostId']);
  } catch (error) {
    await proc.stop();
    throw error;
  }
}

/** The swarm's dfdaemon.yaml for `host`, with `extra` merged over it (checked by the daemon's schema). */
async function startDaemon(ctx: SwarmContext, host: SimHost, seed: boolean, extra: DfdaemonConfigTree | undefined): Promise<DaemonHandle> {
  const dir = join(ctx.workDir, host.name);
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'dfdaemon.yaml');
  const yaml = daemonConfig(ctx, dir, host, seed, undefined);
  writeFileSync(configPath, extra ? dfdaemonConfigYaml(mergeConfigTree(parse(yaml) as DfdaemonConfigTree, extra)) : yaml);
  const handle = { name: host.name, host, seed, socketPath: join(dir, 'dfdaemon.sock'), configPath, proc: undefined as unknown as ServerProcess, hostId: '', starts: 0 };
  await waitReady(ctx, handle);
  return handle;
}

function mountTmpfs(dir: string, bytes: number): () => Promise<void> {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil(bytes / 4096) * 4096},mode=0755`, 'tmpfs', dir], { timeout: 10_000 });
  return onCleanup(`tmpfs ${dir}`, () => {
    if (!isMountPoint(dir)) return;
    execFileSync('umount', [dir], { timeout: 10_000 });
  });
}

/** Mount points at or under `dir` (from /proc/mounts). */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => (line.split(' ')[1] ?? '').replace(/\\040/g, ' '))
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
}

function isMountPoint(dir: string): boolean {
  return mountsUnder(dir).includes(dir);
}

function startProxy(ctx: SwarmContext, host: SimHost, fault: ProxyFault, listen: string, upstream: string): Promise<ServerProcess> {
  const proc = new ServerProcess(`${fault} proxy on ${host.name}`, PROXY_SCRIPT, ['--listen', listen, '--upstream', upstream, '--fault', fault], serverEnv(), launcherFor(host));
  return proc.waitForLine((line) => line.msg === 'fault proxy listening', READY_TIMEOUT_MS, ctx.signal).then(
    () => proc,
    async (error: unknown) => {
      await proc.stop();
      throw error;
    },
  );
}

export async function startCluster(ctx: SwarmContext, plan: ClusterPlan): Promise<FaultCluster> {
  const stops: Array<() => Promise<void>> = [];
  const paused = new Set<DaemonHandle>();
  const stop = async () => {
    for (const d of paused) killGroup(d.proc.child, 'SIGCONT');
    paused.clear();
    for (const undo of stops.splice(0).reverse()) await undo();
  };
  try {
    const outputDir = join(ctx.workDir, 'out');
    mkdirSync(outputDir, { recursive: true });
    if (plan.smallDisk) stops.push(mountTmpfs(join(ctx.workDir, ctx.peers[plan.smallDisk.peer]!.name, 'storage'), plan.smallDisk.bytes));
    // Behind an origin proxy, nginx answers on the origin host's loopback and the proxy on its address.
    const nginxHost = plan.originFault ? { ...ctx.origin, ip: '127.0.0.1' } : ctx.origin;
    const origin = await startOrigin(findExecutable('nginx')!, nginxHost, ctx.file, join(ctx.workDir, 'nginx'), ctx.signal);
    stops.push(origin.stop);
    let proxy: ServerProcess | undefined;
    if (plan.originFault) {
      proxy = await startProxy(ctx, ctx.origin, plan.originFault, `${ctx.origin.ip}:${ORIGIN_PORT}`, `127.0.0.1:${ORIGIN_PORT}`);
    } else if (plan.corruptPeer !== undefined) {
      const host = ctx.peers[plan.corruptPeer]!;
      proxy = await startProxy(ctx, host, 'corrupt', `${host.ip}:${ADVERTISED_PIECE_PORT}`, `${host.ip}:${HIDDEN_PIECE_PORT}`);
    }
    if (proxy) stops.push(() => proxy.stop());
    let scheduler = await startScheduler(ctx, join(ctx.workDir, 'scheduler'), undefined);
    const schedulers = [scheduler];
    stops.push(async () => void (await Promise.all(schedulers.map((s) => s.stop()))));
    const daemons: DaemonHandle[] = [];
    // Every generation of every daemon, stopped together.
    stops.push(async () => void (await Promise.all(daemons.map((d) => d.proc.stop()))));
    const corrupt: DfdaemonConfigTree = { storage: { server: { tcpPort: HIDDEN_PIECE_PORT, advertisePort: ADVERTISED_PIECE_PORT } } };
    const extraFor = (peer: number | undefined): DfdaemonConfigTree | undefined =>
      peer !== undefined && peer === plan.corruptPeer ? mergeConfigTree(plan.everyDaemon ?? {}, corrupt) : plan.everyDaemon;
    const hosts = [ctx.seed, ...ctx.peers];
    const settled = await Promise.allSettled(hosts.map((host, i) => startDaemon(ctx, host, i === 0, extraFor(i === 0 ? undefined : i - 1)).then((d) => (daemons.push(d), d))));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    const ordered = hosts.map((host) => daemons.find((d) => d.host === host)!);
    const waitAnnounced = (ids: readonly string[]) =>
      scheduler.waitForLine(() => {
        const announced = new Set(scheduler.lines.filter((line) => line.msg === 'host announced').map((line) => String(line['hostId'])));
        return ids.every((id) => announced.has(id));
      }, READY_TIMEOUT_MS, ctx.signal);
    await waitAnnounced(ordered.map((d) => d.hostId));
    const dfget = dfgetEntry();
    const env: NodeJS.ProcessEnv = { ...serverEnv(), XDG_CACHE_HOME: join(ctx.workDir, 'dfget-cache') };
    const url = `http://${ctx.origin.ip}:${ORIGIN_PORT}/${ctx.file.name}`;
    const outputPath = (index: number) => join(outputDir, `${ctx.peers[index]!.name}.bin`);
    return {
      url,
      origin,
      scheduler: () => scheduler,
      seed: ordered[0]!,
      peers: ordered.slice(1),
      proxy,
      outputDir,
      outputPath,
      runDfget(index, signal) {
        const daemon = ordered[index + 1]!;
        return runInHost(daemon.host, process.execPath, [dfget, url, '-O', outputPath(index), '--endpoint', daemon.socketPath, '--no-progress'], { env, timeoutMs: ctx.timeoutMs, signal });
      },
      async kill(proc) {
        killGroup(proc.child, 'SIGKILL');
        for (let i = 0; i < 100 && proc.running; i++) await sleep(20);
        await proc.stop();
      },
      pause(daemon) {
        killGroup(daemon.proc.child, 'SIGSTOP');
        paused.add(daemon);
      },
      resume(daemon) {
        killGroup(daemon.proc.child, 'SIGCONT');
        paused.delete(daemon);
      },
      async restartDaemon(daemon) {
        await waitReady(ctx, daemon);
      },
      async restartScheduler() {
        scheduler = await startScheduler(ctx, join(ctx.workDir, 'scheduler'), undefined);
        schedulers.push(scheduler);
      },
      proxyOn: () => proxy && killGroup(proxy.child, 'SIGUSR1'),
      proxyOff: () => proxy && killGroup(proxy.child, 'SIGUSR2'),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

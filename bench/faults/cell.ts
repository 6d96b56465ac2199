/**
 * One cell of the matrix: the cluster started with the fault's plan, every peer's dfget at once,
 * the fault injected when the peers' links have received `at` of what they need (polled from the
 * switch's counters like bench/swarm/disrupt.ts), then every output checked (sha256), the fault's
 * own checks, and what the cell left behind once its cluster stopped: processes in the run's
 * namespaces, mounts under its work dir, files at the output paths that are not the file.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { sha256Of } from '../lib/files.ts';
import { KILL_POLL_MS, receivedFraction } from '../swarm/disrupt.ts';
import { countersOfAll, type LinkCounters } from '../swarm/netns.ts';
import { daemonDetails } from '../swarm/p2p.ts';
import type { SwarmContext } from '../swarm/system.ts';
import { mountsUnder, startCluster } from './cluster.ts';
import type { Expectation, FaultCheck, FaultEnv, FaultOptions, FaultSpec } from './faults.ts';

const run = promisify(execFile);

export interface PeerResult {
  readonly name: string;
  /** `survivor`, or what the fault expected of it. */
  readonly role: 'survivor' | Expectation;
  readonly seconds: number | null;
  readonly error: string | null;
  /** What is at its output path: `file` (byte-identical), `none`, `corrupt` (complete size, wrong bytes), `partial`. */
  readonly output: 'file' | 'none' | 'corrupt' | 'partial';
  /** Whether it did what its role asks. */
  readonly ok: boolean;
}

export interface CellResult {
  readonly fault: string;
  readonly at: number;
  readonly peers: readonly PeerResult[];
  readonly survivors: { readonly done: number; readonly total: number };
  /** Survivors' completion, seconds (Infinity when one did not finish). */
  readonly maxSeconds: number;
  readonly originEgressBytes: number;
  readonly events: readonly { readonly seconds: number; readonly what: string }[];
  readonly checks: readonly FaultCheck[];
  readonly leftBehind: readonly string[];
  readonly daemons: readonly Record<string, unknown>[];
  readonly wallSeconds: number;
}

/** What is at `path`, against the file's size and sha256. */
async function outputState(path: string, sizeBytes: number, sha256: string): Promise<PeerResult['output']> {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return 'none';
  }
  if (size !== sizeBytes) return 'partial';
  return (await sha256Of(path, sizeBytes)) === sha256 ? 'file' : 'corrupt';
}

/** Processes still inside any of the run's host namespaces (`ip netns pids`). */
async function processesIn(ctx: SwarmContext): Promise<string[]> {
  const found: string[] = [];
  for (const host of ctx.topology.hosts) {
    const { stdout } = await run('ip', ['netns', 'pids', host.netns], { timeout: 10_000 });
    const pids = stdout.split('\n').map((s) => s.trim()).filter(Boolean);
    if (pids.length > 0) found.push(`processes ${pids.join(' ')} in ${host.netns} (${host.name})`);
  }
  return found;
}

function okFor(role: PeerResult['role'], seconds: number | null, output: PeerResult['output']): boolean {
  switch (role) {
    case 'survivor':
    case 'finishes':
      return seconds !== null && output === 'file';
    case 'fails-clean':
      return seconds === null && output === 'none';
    case 'killed':
    case 'abandoned':
      return output === 'none' || output === 'file';
  }
}

export async function runCell(spec: FaultSpec | undefined, ctx: SwarmContext, options: FaultOptions): Promise<CellResult> {
  const at = spec ? (options.atFraction ?? spec.defaultAt) : 0;
  const memo: Record<string, unknown> = {};
  const plan = spec?.plan?.(ctx, at, memo) ?? {};
  mkdirSync(ctx.workDir, { recursive: true, mode: 0o755 });
  const events: Array<{ seconds: number; what: string }> = [];
  const leftBehind: string[] = [];
  let started = performance.now();
  try {
    const cluster = await startCluster(ctx, plan);
    let env: FaultEnv | undefined;
    let outcomes: Array<{ seconds: number | null; error: string | null }>;
    let checks: FaultCheck[] = [];
    let daemons: Record<string, unknown>[] = [];
    let before: LinkCounters[];
    let after: LinkCounters[];
    try {
      before = await countersOfAll(ctx.topology);
      let triggerCounters: LinkCounters[] | undefined;
      const dfgets = ctx.peers.map(() => new AbortController());
      env = {
        ctx,
        cluster,
        options,
        victims: new Map(spec?.victimsAtLaunch?.(memo) ?? []),
        retries: new Map(),
        abortPeer: (i) => dfgets[i]!.abort(new Error('stopped by the fault')),
        event: (what) => {
          const seconds = (performance.now() - started) / 1000;
          events.push({ seconds, what });
          ctx.log(`${spec?.name}: ${seconds.toFixed(2)} s: ${what}`);
        },
        before,
        atTrigger: () => triggerCounters,
        memo,
        followUps: [],
      };
      const faultEnv = env;
      const launchedAtMs = Date.now();
      started = performance.now();
      ctx.log(`${spec?.name ?? 'undisturbed'}: ${ctx.peers.length} peers start now`);
      let stopped = false;
      const peerHosts = ctx.peers.map((peer) => ctx.topology.hosts.findIndex((h) => h.netns === peer.netns));
      const trigger = (async () => {
        if (!spec?.inject) return;
        while (at > 0 && !stopped) {
          await sleep(KILL_POLL_MS);
          try {
            triggerCounters = await countersOfAll(ctx.topology);
          } catch {
            continue; // unreadable this once; the next poll reads them again
          }
          if (receivedFraction(before, triggerCounters, peerHosts, ctx.file.sizeBytes) >= at) break;
        }
        if (stopped) return faultEnv.event(`the peers were done before they were ${(at * 100).toFixed(0)}% along: no fault injected`);
        await spec.inject(faultEnv);
      })();
      const runPeer = async (i: number): Promise<{ seconds: number | null; error: string | null }> => {
        for (;;) {
          let error: string;
          try {
            const result = await cluster.runDfget(i, AbortSignal.any([ctx.signal, dfgets[i]!.signal]));
            if (result.exitCode === 0 && !/no dfdaemon answers/.test(result.stderr)) return { seconds: (performance.now() - started) / 1000, error: null };
            error = result.exitCode === 0 ? 'dfget could not reach its dfdaemon and downloaded by itself' : `dfget exited with ${result.exitCode ?? result.signal}: ${result.stderr.trim().slice(-300)}`;
          } catch (e) {
            if (ctx.signal.aborted) throw e;
            error = (e as Error).message.slice(-300);
          }
          const retry = faultEnv.retries.get(i);
          if (!retry) return { seconds: null, error };
          faultEnv.retries.delete(i);
          faultEnv.event(`${ctx.peers[i]!.name}'s first dfget failed (${error.slice(0, 120)})`);
          await retry;
        }
      };
      const runs = ctx.peers.map((_, i) => runPeer(i));
      // A parent stalled for good: its own dfget is stopped once everyone else is done.
      void Promise.all(runs.map((r, i) => (faultEnv.victims.get(i) === 'abandoned' ? undefined : r))).then(() => {
        for (const [i, role] of faultEnv.victims) if (role === 'abandoned') faultEnv.abortPeer(i);
      });
      try {
        outcomes = await Promise.all(runs);
      } finally {
        stopped = true;
        await trigger;
        await Promise.allSettled(faultEnv.followUps);
      }
      after = await countersOfAll(ctx.topology);
      checks = (await spec?.check?.(faultEnv)) ?? [];
      daemons = await Promise.all([cluster.seed, ...cluster.peers].map((d) => daemonDetails(d, launchedAtMs)));
    } finally {
      await cluster.stop();
      if (env) await spec?.revert?.(env);
    }
    const wallSeconds = (performance.now() - started) / 1000;
    leftBehind.push(...(await processesIn(ctx)));
    for (const point of mountsUnder(ctx.workDir)) leftBehind.push(`mount ${point}`);
    const expected = new Set(ctx.peers.map((_, i) => cluster.outputPath(i)));
    for (const name of readdirSync(cluster.outputDir)) {
      if (!expected.has(`${cluster.outputDir}/${name}`)) leftBehind.push(`file ${name} in the output dir`);
    }
    const peers: PeerResult[] = [];
    for (const [i, peer] of ctx.peers.entries()) {
      const role = env.victims.get(i) ?? 'survivor';
      const { seconds, error } = outcomes[i]!;
      const output = await outputState(cluster.outputPath(i), ctx.file.sizeBytes, ctx.file.sha256);
      if (output === 'partial' || output === 'corrupt') leftBehind.push(`${output} file at ${peer.name}'s output path`);
      peers.push({ name: peer.name, role, seconds, error, output, ok: okFor(role, seconds, output) });
    }
    const survivors = peers.filter((p) => p.role === 'survivor');
    const done = survivors.filter((p) => p.ok).length;
    const origin = ctx.topology.hosts.findIndex((h) => h.netns === ctx.origin.netns);
    return {
      fault: spec?.name ?? 'undisturbed',
      at,
      peers,
      survivors: { done, total: survivors.length },
      maxSeconds: survivors.length === 0 ? Number.NaN : done < survivors.length ? Number.POSITIVE_INFINITY : Math.max(...survivors.map((p) => p.seconds!)),
      originEgressBytes: after[origin]!.txBytes - before[origin]!.txBytes,
      events,
      checks,
      leftBehind,
      daemons,
      wallSeconds,
    };
  } finally {
    rmSync(ctx.workDir, { recursive: true, force: true });
  }
}

/**
 * One bench process's hosts and file: N+2 namespaces (origin, seed host, N peers) with a unique
 * prefix, a random file the origin serves, and the teardown of both, registered with the bench's
 * cleanup (run on success, failure, deadline and Ctrl-C) and, as a last resort, on process exit.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pieceLengthOf } from '../../api/index.ts';
import { makeTempDir, onCleanup } from '../lib/cleanup.ts';
import { writeRandomFile } from '../lib/files.ts';
import { findExecutable } from '../lib/spawn.ts';
import { DEFAULT_KILL_AT } from './args.ts';
import { killPlanFor } from './disrupt.ts';
import { floorsOf, type Floors } from './floors.ts';
import { buildTopology, pickPrefix, type Topology } from './netns.ts';
import { workDirFor } from './measure.ts';
import type { P2pKnobs, SwarmContext, SwarmFile, SwarmSystem, SystemName } from './system.ts';

export const FILE_NAME = 'data.bin';

export interface SessionOptions {
  readonly peers: number;
  readonly sizeBytes: number;
  readonly rateBps: number;
  readonly originRateBps: number;
  readonly timeoutMs: number | undefined;
  /** The last `slowPeers` peers get `slowRateBps` instead of `rateBps`. */
  readonly slowPeers?: number;
  readonly slowRateBps?: number | undefined;
  /** Random peers SIGKILLed in every system's run, when the peers are `killAt` along. */
  readonly killPeers?: number;
  readonly killAt?: number;
}

export interface SwarmSession {
  readonly topology: Topology;
  readonly file: SwarmFile;
  /** The (fast) peers' link floor, max(size / peer rate, size / origin rate): no peer is done sooner. */
  readonly floorSeconds: number;
  /** Floors of the fast peers and, when there are any, of the slow ones. */
  readonly floors: { readonly fast: Floors; readonly slow: Floors | undefined };
  readonly timeoutMs: number;
  /** `undisturbed`: no peer is killed in this run (the baseline of a run that kills). */
  contextFor(system: SystemName, run: number, knobs: P2pKnobs, options?: { readonly undisturbed?: boolean }): SwarmContext;
  close(): Promise<void>;
}

/** A peer's link floor: max(size / its rate, size / the origin's rate), in seconds. */
export function floorSecondsOf(sizeBytes: number, rateBps: number, originRateBps = rateBps): number {
  return floorsOf(sizeBytes, rateBps, originRateBps).linkSeconds;
}

/** Long enough for a single origin to serve every peer one after the other, with margin. */
export function defaultTimeoutMs(peers: number, floorSeconds: number): number {
  return Math.ceil((60 + 1.5 * peers * floorSeconds) * 1000);
}

/** Executables a system needs that are missing here, as "binary (apt package)". */
export function missingTools(system: SwarmSystem): string[] {
  return system.needs.filter((need) => !findExecutable(need.binary)).map((need) => `${need.binary} (apt-get install -y ${need.apt})`);
}

/** Peer `index` (0-based)'s link rate: the last `slowPeers` peers are the slow ones. */
export function peerRateBps(options: Pick<SessionOptions, 'peers' | 'rateBps' | 'slowPeers' | 'slowRateBps'>, index: number): number {
  const slow = options.slowPeers ?? 0;
  return options.slowRateBps !== undefined && index >= options.peers - slow ? options.slowRateBps : options.rateBps;
}

export async function openSession(options: SessionOptions, signal: AbortSignal, log: (message: string) => void): Promise<SwarmSession> {
  for (const tool of ['ip', 'tc']) {
    if (!findExecutable(tool)) throw new Error(`${tool} not found: apt-get install -y iproute2`);
  }
  const prefix = pickPrefix();
  // The run's prefix on a line of its own, so a caller (the test suite) can check the teardown.
  log(`namespace prefix ${prefix}`);
  const specs = [
    { name: 'origin', rateBps: options.originRateBps },
    { name: 'seed', rateBps: options.rateBps },
    ...Array.from({ length: options.peers }, (_, i) => ({ name: `peer-${i + 1}`, rateBps: peerRateBps(options, i) })),
  ];
  const startedMs = performance.now();
  const topology = await buildTopology(prefix, specs);
  // process.on('exit') runs synchronous code only: it is the fallback when cleanup never ran.
  const onExit = () => topology.teardownSync();
  process.on('exit', onExit);
  const removeTopology = onCleanup(`namespaces ${prefix}*`, async () => {
    await topology.teardown();
    process.off('exit', onExit);
  });
  log(`${specs.length} hosts up in ${((performance.now() - startedMs) / 1000).toFixed(1)} s (${prefix}h0..h${specs.length - 1}, switch ${topology.switchNetns})`);
  const dir = makeTempDir('swarm');
  try {
    // nginx's workers and opentracker run as nobody: the file's directories must be traversable.
    chmodSync(dir.path, 0o755);
    const www = join(dir.path, 'www');
    mkdirSync(www, { mode: 0o755 });
    log(`work dir ${dir.path}`);
    log(`writing a ${(options.sizeBytes / 2 ** 20).toFixed(0)} MiB random file`);
    const path = join(www, FILE_NAME);
    const sha256 = writeRandomFile(path, options.sizeBytes, signal);
    const file: SwarmFile = { dir: www, name: FILE_NAME, path, sizeBytes: options.sizeBytes, sha256 };
    const fast = floorsOf(options.sizeBytes, options.rateBps, options.originRateBps);
    const slow = options.slowRateBps !== undefined && (options.slowPeers ?? 0) > 0 ? floorsOf(options.sizeBytes, options.slowRateBps, options.originRateBps) : undefined;
    const floorSeconds = fast.linkSeconds;
    const timeoutMs = options.timeoutMs ?? defaultTimeoutMs(options.peers, Math.max(floorSeconds, slow?.linkSeconds ?? 0));
    const [origin, seed, ...peers] = topology.hosts as [Topology['hosts'][number], Topology['hosts'][number], ...Topology['hosts'][number][]];
    return {
      topology,
      file,
      floorSeconds,
      floors: { fast, slow },
      timeoutMs,
      contextFor: (system, run, knobs, contextOptions) => ({
        topology,
        origin,
        seed,
        peers,
        file,
        pieceLengthBytes: knobs.pieceLengthBytes ?? pieceLengthOf(options.sizeBytes),
        p2p: knobs,
        workDir: workDirFor(dir.path, system, run),
        timeoutMs,
        // Fresh victims for every run: no system is always spared the same peer.
        kill: contextOptions?.undisturbed ? undefined : killPlanFor(options.peers, options.killPeers ?? 0, options.killAt ?? DEFAULT_KILL_AT),
        signal,
        log,
      }),
      close: async () => {
        await dir.remove();
        await removeTopology();
      },
    };
  } catch (error) {
    await dir.remove();
    await removeTopology();
    throw error;
  }
}

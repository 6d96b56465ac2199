/**
 * What every system runner (p2p, http, bittorrent) gets and gives back. A runner prepares its
 * servers on the simulated hosts, then launches one client per peer at the same instant and
 * resolves when every client is done or the system's hard timeout is up; the harness
 * (measure.ts) reads the link counters and CPU around the launch, checks the outputs and stops
 * the servers.
 */
import type { CpuLedger } from './cpu.ts';
import type { SimHost, Topology } from './netns.ts';

export const SYSTEMS = ['p2p', 'http', 'bittorrent'] as const;
export type SystemName = (typeof SYSTEMS)[number];

export interface SwarmFile {
  /** The directory the origin serves; the file is `<dir>/<name>`. */
  readonly dir: string;
  readonly name: string;
  readonly path: string;
  readonly sizeBytes: number;
  readonly sha256: string;
}

/** Knobs of the p2p system (the tune sweep varies them). */
export interface P2pKnobs {
  /** dfget --piece-length; undefined: the formula's choice. */
  readonly pieceLengthBytes: number | undefined;
  /** The daemons' download.concurrentPieceCount; undefined: the daemon's default. */
  readonly concurrentPieceCount: number | undefined;
  /** The daemons' download.relay: fetch pieces parents are still receiving (cut-through). */
  readonly relay: boolean;
  /** The daemons' download.keepAlive: kept-alive native receive from origin and parents; undefined: their default. */
  readonly keepAlive: boolean | undefined;
  /** The scheduler's scheduler.stripes (a striped parent forest); undefined: its default. */
  readonly stripes: number | undefined;
  /** Mutual TLS on every link (pki.ts); undefined: off. */
  readonly mtls?: boolean | undefined;
}

export interface SwarmContext {
  readonly topology: Topology;
  readonly origin: SimHost;
  /** The seed peer and scheduler host (BitTorrent puts its tracker here). */
  readonly seed: SimHost;
  readonly peers: readonly SimHost[];
  readonly file: SwarmFile;
  /** The piece length every system uses where it can (the formula's choice unless given). */
  readonly pieceLengthBytes: number;
  readonly p2p: P2pKnobs;
  /** A fresh directory for this system's run, removed after it. */
  readonly workDir: string;
  /** Hard bound of the launch: clients still running then are killed and count as failed. */
  readonly timeoutMs: number;
  /** Peers to kill mid-run, and when; undefined: an undisturbed run. */
  readonly kill: KillPlan | undefined;
  readonly signal: AbortSignal;
  log(message: string): void;
}

export interface KillPlan {
  /** Indexes into `peers`, chosen at random before the launch. */
  readonly victims: readonly number[];
  /** The fraction of the peers' bytes received at which they are killed. */
  readonly atFraction: number;
}

export interface PeerOutcome {
  readonly name: string;
  /** Where its copy of the file is. */
  readonly outputPath: string;
  /** Seconds from the common start until the client had the whole file; undefined if it failed. */
  readonly seconds: number | undefined;
  readonly error: string | undefined;
}

export interface PreparedSystem {
  /** Baselines the CPU of the servers already running. */
  track(ledger: CpuLedger): void;
  /** Starts every peer's client at once; resolves when all are done, failed or timed out. */
  launch(ledger: CpuLedger, signal: AbortSignal): Promise<PeerOutcome[]>;
  /**
   * SIGKILLs peer `index`'s process by PID (its daemon and client for p2p; its client otherwise),
   * booking their CPU in `ledger` first. Its launch outcome then says it failed.
   */
  killPeer(index: number, ledger: CpuLedger): void;
  /** System-specific figures read after the launch, before stop (e.g. the daemons' metrics). */
  details?(): Promise<Record<string, unknown>>;
  /** Stops every process this system started (by PID). */
  stop(): Promise<void>;
}

export interface SwarmSystem {
  readonly name: SystemName;
  /** Executables it needs, with the Debian package that has them. */
  readonly needs: readonly { readonly binary: string; readonly apt: string }[];
  /** The CPU ledger's kind of the process that moves a peer's bytes (for CPU per GiB moved). */
  readonly peerKind: string;
  prepare(ctx: SwarmContext): Promise<PreparedSystem>;
}

/** Seconds since `startedMs` (performance.now()). */
export function since(startedMs: number): number {
  return (performance.now() - startedMs) / 1000;
}

/** `npm run bench:swarm -- [flags]` and `npm run bench:tune -- [flags]`: parsed once into frozen objects. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, parseDuration, parseRate, parseSize } from '../../api/index.ts';
import { MAX_HOSTS, rootProblem } from './netns.ts';
import { SYSTEMS, type SystemName } from './system.ts';

export class UsageError extends Error {
  readonly code = 'DF_ERR_BENCH_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * The start of every bench that builds namespaces (swarm, tune, faults): the parsed arguments, or
 * the exit code when there is nothing to run: 0 after --help (the usage on stdout), 2 for a bad
 * flag (the error and the usage on stderr) or without root.
 */
export function argsOrExit<T extends { readonly help: boolean }>(bench: string, argv: readonly string[], parse: (argv: readonly string[]) => T, usage: string): T | number {
  let args: T;
  try {
    args = parse(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${bench}: ${error.message}\n\n${usage}`);
    return 2;
  }
  if (args.help) {
    console.log(usage);
    return 0;
  }
  const problem = rootProblem();
  if (problem) {
    console.error(`${bench}: ${problem}`);
    return 2;
  }
  return args;
}

export interface SwarmArgs {
  readonly peers: number;
  readonly sizeBytes: number;
  /** Every link's rate, bits per second, both directions. */
  readonly rateBps: number;
  readonly rateText: string;
  /** The origin host's link rate. */
  readonly originRateBps: number;
  /** dfget --piece-length (and the torrent's); undefined: the formula's choice. */
  readonly pieceLengthBytes: number | undefined;
  /** The daemons' download.concurrentPieceCount; undefined: the daemon's default. */
  readonly concurrentPieceCount: number | undefined;
  /** The daemons' download.relay (cut-through: pieces fetched while their parent still receives them). */
  readonly relay: boolean;
  /** The daemons' download.keepAlive (kept-alive native receive); undefined: their default (on). */
  readonly keepAlive: boolean | undefined;
  /** The scheduler's scheduler.stripes; undefined: its default. */
  readonly stripes: number | undefined;
  /** Mutual TLS on every link of the p2p system (a CA and a certificate per host, made per run). */
  readonly mtls: boolean;
  readonly systems: readonly SystemName[];
  readonly runs: number;
  readonly outDir: string;
  /** Hard bound of one system's launch; undefined: derived from peers and floor. */
  readonly timeoutMs: number | undefined;
  /** How many peers (the last ones) get the slower link. */
  readonly slowPeers: number;
  /** Their link rate, both directions; undefined when there are none. */
  readonly slowRateBps: number | undefined;
  /** How many random peers are SIGKILLed mid-run. */
  readonly killPeers: number;
  /** When: the fraction of all peers' bytes received (see disrupt.ts). */
  readonly killAt: number;
  readonly help: boolean;
}

export const SWARM_USAGE = `Usage: npm run bench:swarm -- [--peers 16] [--size 256MiB] [--rate 100mbit] [--origin-rate RATE]
         [--piece-length SIZE] [--concurrency N] [--relay] [--no-keep-alive] [--stripes K] [--mtls] [--systems p2p,http,bittorrent] [--runs 1] [--timeout DURATION]
         [--out DIR] [--slow-peers K --slow-rate RATE] [--kill-peers N] [--kill-at FRACTION]

Builds N+2 simulated hosts (origin, seed peer + scheduler host, N peers) as network namespaces on a
bridge with tc rate limits both ways, runs each system on them one after the other with the same
file, and reports each peer's completion time, the origin's egress bytes, every peer's upload bytes
and whether every output is right. Needs root.

  --peers N            peer hosts (default 16)
  --size SIZE          file size (default 256MiB)
  --rate RATE          every link's rate, both directions (default 100mbit)
  --origin-rate RATE   the origin host's link rate (default: --rate)
  --piece-length SIZE  piece length for dfget and the torrent, 4MiB to 64MiB (default: dfget's formula)
  --concurrency N      the daemons' download.concurrentPieceCount (default: the daemon's, 8)
  --relay              the daemons relay pieces they are still receiving (download.relay: true)
  --no-keep-alive      the daemons take a connection per piece (download.keepAlive: false; default on)
  --stripes K          the scheduler places peers in K stripe trees (scheduler.stripes; 0: its DAG)
  --mtls               mutual TLS on every p2p link: a CA and a certificate per host made with openssl,
                       in every daemon's upload.server/upload.client/storage.server/scheduler and the
                       scheduler's server.tls/seedPeer.tls (pieces then move through TLS in JS)
  --systems LIST       which systems, comma-separated (default p2p,http,bittorrent)
  --runs K             repetitions of each system on the same hosts (default 1)
  --timeout DURATION   hard bound per system run (default: 60s + 1.5 x peers x floor)
  --out DIR            where results.json and chart.svg go (default bench/results/swarm-<time>)
  --slow-peers K       the last K peers get a slower link, both ways (default 0); their completion
                       is reported apart, against their own floor
  --slow-rate RATE     the slow peers' link rate (required with --slow-peers)
  --kill-peers N       SIGKILL N random peers' daemons (p2p) or clients (http, bittorrent) mid-run;
                       the survivors are measured, the killed reported as such (default 0)
  --kill-at FRACTION   when the peers have received this fraction of all they need, by their links'
                       byte counters (default 0.4)
`;

export const TUNE_USAGE = `Usage: npm run bench:tune -- [--peers 16] [--size 256MiB] [--rate 100mbit] [--origin-rate RATE]
         [--piece-lengths 4MiB,8MiB,16MiB,32MiB] [--concurrency-list 4,8,16] [--relay] [--no-keep-alive] [--stripes K] [--mtls] [--runs 1] [--out DIR]

Runs the p2p system on one topology for every piece length (plus the formula's choice) and every
concurrency, and prints the best settings with their figures. Needs root.
`;

/** `--name`'s value as an integer in [min, max], or a UsageError naming the flag. */
export function integer(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${text}`);
  return value;
}

/** `--name`'s value through `parse` (a size, a rate, a duration), or a UsageError naming the flag. */
export function unit<T>(name: string, text: string, parse: (text: string) => T): T {
  try {
    return parse(text);
  } catch (error) {
    throw new UsageError(`--${name}: ${(error as Error).message}`);
  }
}

export function pieceLengthArg(name: string, text: string): number {
  const bytes = unit(name, text, parseSize);
  if (bytes < MIN_PIECE_LENGTH || bytes > MAX_PIECE_LENGTH) throw new UsageError(`--${name} must be from 4MiB to 64MiB, got ${text}`);
  return bytes;
}

/** Kill when the peers are 40% along: the case. */
export const DEFAULT_KILL_AT = 0.4;

const COMMON_OPTIONS = {
  peers: { type: 'string', default: '16' },
  size: { type: 'string', default: '256MiB' },
  rate: { type: 'string', default: '100mbit' },
  'origin-rate': { type: 'string' },
  runs: { type: 'string', default: '1' },
  out: { type: 'string' },
  timeout: { type: 'string' },
  relay: { type: 'boolean', default: false },
  'keep-alive': { type: 'boolean' },
  stripes: { type: 'string' },
  mtls: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function common(values: Record<string, string | boolean | undefined>, cwd: string, outName: string) {
  const sizeBytes = unit('size', String(values['size']), parseSize);
  // Below 4 MiB a daemon goes straight to the origin (Dragonfly's rule): no swarm to measure.
  if (sizeBytes <= 4 << 20) throw new UsageError(`--size must be more than 4MiB, got ${values['size']}`);
  const rateText = String(values['rate']);
  const rateBps = unit('rate', rateText, parseRate);
  if (rateBps < 1e6) throw new UsageError(`--rate must be at least 1mbit, got ${rateText}`);
  const originRateBps = values['origin-rate'] === undefined ? rateBps : unit('origin-rate', String(values['origin-rate']), parseRate);
  if (originRateBps < 1e6) throw new UsageError(`--origin-rate must be at least 1mbit, got ${values['origin-rate']}`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return {
    peers: integer('peers', String(values['peers']), 1, MAX_HOSTS - 2),
    sizeBytes,
    rateBps,
    rateText,
    originRateBps,
    runs: integer('runs', String(values['runs']), 1, 20),
    outDir: values['out'] ? resolve(cwd, String(values['out'])) : resolve(import.meta.dirname, '..', 'results', `${outName}-${stamp}`),
    timeoutMs: values['timeout'] === undefined ? undefined : unit('timeout', String(values['timeout']), parseDuration),
    relay: values['relay'] === true,
    keepAlive: typeof values['keep-alive'] === 'boolean' ? values['keep-alive'] : undefined,
    stripes: values['stripes'] === undefined ? undefined : integer('stripes', String(values['stripes']), 0, 16),
    mtls: values['mtls'] === true,
    help: values['help'] === true,
  };
}

export function parseSwarmArgs(argv: readonly string[], cwd = process.cwd()): SwarmArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowNegative: true,
      options: {
        ...COMMON_OPTIONS,
        'piece-length': { type: 'string' },
        concurrency: { type: 'string' },
        systems: { type: 'string', default: SYSTEMS.join(',') },
        'slow-peers': { type: 'string' },
        'slow-rate': { type: 'string' },
        'kill-peers': { type: 'string' },
        'kill-at': { type: 'string' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const systems = values.systems.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of systems) if (!(SYSTEMS as readonly string[]).includes(s)) throw new UsageError(`--systems: unknown system "${s}"; known: ${SYSTEMS.join(', ')}`);
  if (systems.length === 0) throw new UsageError('--systems must name at least one system');
  const base = common(values, cwd, 'swarm');
  return Object.freeze({
    ...base,
    pieceLengthBytes: values['piece-length'] === undefined ? undefined : pieceLengthArg('piece-length', values['piece-length']),
    concurrentPieceCount: values.concurrency === undefined ? undefined : integer('concurrency', values.concurrency, 1, 1024),
    systems: [...new Set(systems)] as SystemName[],
    ...disruption(values, base.peers, base.rateBps),
  });
}

function disruption(values: Record<string, string | boolean | undefined>, peers: number, rateBps: number) {
  const slowPeers = values['slow-peers'] === undefined ? 0 : integer('slow-peers', String(values['slow-peers']), 0, peers);
  const slowRateText = values['slow-rate'];
  if (slowPeers > 0 && slowRateText === undefined) throw new UsageError('--slow-peers needs --slow-rate');
  if (slowPeers === 0 && slowRateText !== undefined) throw new UsageError('--slow-rate needs --slow-peers K with K > 0');
  const slowRateBps = slowRateText === undefined ? undefined : unit('slow-rate', String(slowRateText), parseRate);
  if (slowRateBps !== undefined && slowRateBps < 1e6) throw new UsageError(`--slow-rate must be at least 1mbit, got ${slowRateText}`);
  if (slowRateBps !== undefined && slowRateBps >= rateBps) throw new UsageError(`--slow-rate must be below --rate, got ${slowRateText}`);
  // At least one survivor, or there is nothing to measure.
  const killPeers = values['kill-peers'] === undefined ? 0 : integer('kill-peers', String(values['kill-peers']), 0, peers - 1);
  const killAt = values['kill-at'] === undefined ? DEFAULT_KILL_AT : Number(values['kill-at']);
  if (!(killAt > 0 && killAt < 1)) throw new UsageError(`--kill-at must be a fraction between 0 and 1, got ${values['kill-at']}`);
  if (killPeers === 0 && values['kill-at'] !== undefined) throw new UsageError('--kill-at needs --kill-peers N with N > 0');
  return { slowPeers, slowRateBps, killPeers, killAt };
}

export interface TuneArgs extends Omit<SwarmArgs, 'pieceLengthBytes' | 'concurrentPieceCount' | 'systems' | 'slowPeers' | 'slowRateBps' | 'killPeers' | 'killAt'> {
  readonly pieceLengths: readonly number[];
  readonly concurrencies: readonly number[];
}

export function parseTuneArgs(argv: readonly string[], cwd = process.cwd()): TuneArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowNegative: true,
      options: { ...COMMON_OPTIONS, 'piece-lengths': { type: 'string', default: '4MiB,8MiB,16MiB,32MiB' }, 'concurrency-list': { type: 'string', default: '4,8,16' } },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const list = (text: string) => text.split(',').map((s) => s.trim()).filter(Boolean);
  const pieceLengths = list(values['piece-lengths']).map((text) => pieceLengthArg('piece-lengths', text));
  const concurrencies = list(values['concurrency-list']).map((text) => integer('concurrency-list', text, 1, 1024));
  if (pieceLengths.length === 0 || concurrencies.length === 0) throw new UsageError('--piece-lengths and --concurrency-list must not be empty');
  return Object.freeze({ ...common(values, cwd, 'tune'), pieceLengths, concurrencies });
}

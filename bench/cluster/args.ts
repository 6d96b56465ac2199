/** `npm run bench:cluster -- [flags]`: parsed once into a frozen object. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../../api/index.ts';

export type ClusterPart = 'swarm' | 'serve';

export interface ClusterArgs {
  /** File size of the swarm part. */
  readonly sizeBytes: number;
  readonly peers: number;
  /** Swarm repetitions, each on a fresh cluster. */
  readonly runs: number;
  /** File size of the piece-server part. */
  readonly serveSizeBytes: number;
  /** Timed transfers per server in the piece-server part. */
  readonly serveRuns: number;
  readonly only: ClusterPart | undefined;
  readonly outDir: string;
  readonly help: boolean;
}

export const CLUSTER_USAGE = `Usage: npm run bench:cluster -- [--size 512MiB] [--peers 8] [--runs 1]
                                 [--serve-size 1GiB] [--serve-runs 3] [--only swarm|serve] [--out DIR]

  --size SIZE        file the swarm downloads (default 512MiB)
  --peers N          dfdaemons besides the seed, each running one dfget at once (default 8)
  --runs N           swarm repetitions, each on a fresh scheduler + daemons (default 1)
  --serve-size SIZE  file served by nginx and by a dfdaemon's piece server (default 1GiB)
  --serve-runs N     timed transfers per server, in rotation (default 3)
  --only PART        run only the swarm or the piece-server (serve) part
  --out DIR          where the JSON results go (default bench/results)
`;

function integer(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${text}`);
  return value;
}

export function parseClusterArgs(argv: readonly string[], cwd = process.cwd()): ClusterArgs {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      size: { type: 'string', default: '512MiB' },
      peers: { type: 'string', default: '8' },
      runs: { type: 'string', default: '1' },
      'serve-size': { type: 'string', default: '1GiB' },
      'serve-runs': { type: 'string', default: '3' },
      only: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const sizeBytes = parseSize(values.size);
  const serveSizeBytes = parseSize(values['serve-size']);
  // Below 4 MiB a daemon goes straight to the origin (Dragonfly's rule): no swarm to measure.
  if (sizeBytes <= 4 << 20) throw new Error(`--size must be more than 4MiB, got ${values.size}`);
  if (serveSizeBytes < 4 << 20) throw new Error(`--serve-size must be at least 4MiB, got ${values['serve-size']}`);
  if (values.only !== undefined && values.only !== 'swarm' && values.only !== 'serve') {
    throw new Error(`--only must be swarm or serve, got ${values.only}`);
  }
  return Object.freeze({
    sizeBytes,
    peers: integer('peers', values.peers, 1, 64),
    runs: integer('runs', values.runs, 1, 10),
    serveSizeBytes,
    serveRuns: integer('serve-runs', values['serve-runs'], 1, 20),
    only: values.only,
    outDir: values.out ? resolve(cwd, values.out) : resolve(import.meta.dirname, '..', 'results'),
    help: values.help,
  });
}

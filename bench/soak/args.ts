/** `npm run bench:soak -- [flags]`: parsed once into a frozen object. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../api/index.ts';

export interface SoakArgs {
  readonly durationMs: number;
  /** Samples before this are left out of the growth slopes. */
  readonly warmupMs: number;
  readonly sampleIntervalMs: number;
  readonly seed: number;
  readonly outDir: string;
  readonly help: boolean;
}

export const SOAK_USAGE = `Usage: npm run bench:soak -- [--duration 20m] [--warmup D] [--sample-interval 5s] [--seed 1] [--out DIR]

  --duration D         how long the load runs (default 20m; 1m to 24h); the bench ends within
                       the duration plus 6 minutes (set-up, draining, shutdown)
  --warmup D           samples before this are left out of the growth figures
                       (default: a quarter of the duration, at most 5m)
  --sample-interval D  how often RSS, fds, store bytes and /metrics are sampled (default 5s)
  --seed N             seed of the load's random choices (files, copies, kill delays; default 1)
  --out DIR            where soak-<time>/results.json and chart.svg go (default bench/results)
`;

const MIN_DURATION_MS = 60_000;
const MAX_DURATION_MS = 24 * 3_600_000;

export function parseSoakArgs(argv: readonly string[], cwd = process.cwd()): SoakArgs {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      duration: { type: 'string', default: '20m' },
      warmup: { type: 'string' },
      'sample-interval': { type: 'string', default: '5s' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const duration = (name: string, text: string) => {
    try {
      return parseDuration(text);
    } catch (error) {
      throw new Error(`--${name}: ${(error as Error).message}`, { cause: error });
    }
  };
  const durationMs = duration('duration', values.duration);
  if (durationMs < MIN_DURATION_MS || durationMs > MAX_DURATION_MS) throw new Error(`--duration must be from 1m to 24h, got ${values.duration}`);
  const warmupMs = values.warmup === undefined ? Math.min(5 * 60_000, durationMs / 4) : duration('warmup', values.warmup);
  if (warmupMs < 0 || warmupMs > durationMs / 2) throw new Error(`--warmup must be at most half the duration, got ${values.warmup}`);
  const sampleIntervalMs = duration('sample-interval', values['sample-interval']);
  if (sampleIntervalMs < 1_000 || sampleIntervalMs > durationMs / 10) {
    throw new Error(`--sample-interval must be from 1s to a tenth of the duration, got ${values['sample-interval']}`);
  }
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) throw new Error(`--seed must be an integer from 0 to 4294967295, got ${values.seed}`);
  return Object.freeze({
    durationMs,
    warmupMs,
    sampleIntervalMs,
    seed,
    outDir: values.out ? resolve(cwd, values.out) : resolve(import.meta.dirname, '..', 'results'),
    help: values.help,
  });
}

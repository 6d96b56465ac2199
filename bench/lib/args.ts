/** `npm run bench -- [flags]`: parsed once into a frozen object. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSize } from '../../api/index.ts';

export interface BenchArgs {
  readonly sizeBytes: number;
  readonly runs: number;
  readonly only: 'micro' | 'macro' | undefined;
  readonly outDir: string;
  readonly help: boolean;
}

export const BENCH_USAGE = `Usage: npm run bench -- [--size 1GiB] [--runs 3] [--only micro|macro] [--out DIR]

  --size SIZE     file size for pool hashing and downloads (default 1GiB)
  --runs N        timed repetitions per tool or variant; the median is reported (default 3)
  --only PART     run only the micro (digests, pool hashing) or macro (downloads) part
  --out DIR       where the JSON results go (default bench/results)
`;

export function parseBenchArgs(argv: readonly string[], cwd = process.cwd()): BenchArgs {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      size: { type: 'string', default: '1GiB' },
      runs: { type: 'string', default: '3' },
      only: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const sizeBytes = parseSize(values.size);
  if (sizeBytes < 1 << 20) throw new Error(`--size must be at least 1MiB, got ${values.size}`);
  const runs = Number(values.runs);
  if (!Number.isSafeInteger(runs) || runs < 1 || runs > 20) throw new Error(`--runs must be an integer from 1 to 20, got ${values.runs}`);
  if (values.only !== undefined && values.only !== 'micro' && values.only !== 'macro') {
    throw new Error(`--only must be micro or macro, got ${values.only}`);
  }
  return Object.freeze({
    sizeBytes,
    runs,
    only: values.only,
    outDir: values.out ? resolve(cwd, values.out) : resolve(import.meta.dirname, '..', 'results'),
    help: values.help,
  });
}

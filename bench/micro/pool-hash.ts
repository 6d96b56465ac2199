/**
 * Hashing a whole file from page cache: the engine's IoPool (2 threads) vs one thread of
 * node:crypto streaming. Target: the pool verifying pieces in parallel >= 1.6x the stream.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { IoPool } from '../../engine/index.ts';
import { makeTempDir } from '../lib/cleanup.ts';
import { writeRandomFile } from '../lib/files.ts';
import { fixed, GB, median } from '../lib/format.ts';
import { checkTarget, type Report } from '../lib/report.ts';

const POOL_THREADS = 2;
const PIECE_BYTES = 4 << 20;
const POOL_TARGET = 1.6;

interface Variant {
  readonly name: string;
  /** True when run() resolves the whole file's digest, which must match the one taken at write. */
  readonly wholeFile: boolean;
  /** Resolves the digests it computed, one per range. */
  readonly run: () => Promise<string[]>;
}

function ranges(size: number, count: number): { offset: number; length: number }[] {
  const length = Math.ceil(size / count);
  const result = [];
  for (let offset = 0; offset < size; offset += length) result.push({ offset, length: Math.min(length, size - offset) });
  return result;
}

async function streamSha256(path: string, signal: AbortSignal): Promise<string[]> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash, { signal });
  return [hash.digest('hex')];
}

function variants(pool: IoPool, path: string, size: number, signal: AbortSignal): Variant[] {
  const inParallel = (parts: { offset: number; length: number }[], algorithm: 'sha256' | 'crc32') => () =>
    Promise.all(parts.map((r) => pool.hashRange(path, r.offset, r.length, algorithm, signal)));
  const pieces = ranges(size, Math.ceil(size / PIECE_BYTES));
  return [
    { name: 'node:crypto stream, 1 thread (baseline)', wholeFile: true, run: () => streamSha256(path, signal) },
    { name: `IoPool.hashRange sha256, ${pieces.length} x 4 MiB pieces`, wholeFile: false, run: inParallel(pieces, 'sha256') },
    { name: `IoPool.hashRange sha256, ${POOL_THREADS} halves`, wholeFile: false, run: inParallel(ranges(size, POOL_THREADS), 'sha256') },
    { name: `IoPool.hashRange crc32, ${pieces.length} x 4 MiB pieces`, wholeFile: false, run: inParallel(pieces, 'crc32') },
    {
      name: 'IoPool.hashStream sha256 (whole file, 1 worker)',
      wholeFile: true,
      run: async () => {
        const stream = pool.hashStream(path, 'sha256');
        for (const piece of pieces) stream.push(piece.offset, piece.length);
        return [await stream.finish()];
      },
    },
  ];
}

export async function benchPoolHash(size: number, runs: number, signal: AbortSignal): Promise<Report> {
  const dir = makeTempDir('pool');
  const pool = new IoPool({ threads: POOL_THREADS });
  try {
    const path = join(dir.path, 'data.bin');
    const sha256 = writeRandomFile(path, size, signal);
    const all = variants(pool, path, size, signal);
    const seconds = new Map<string, number[]>(all.map((v) => [v.name, []]));
    // Untimed round first: starts both workers and checks every variant hashes the same bytes.
    for (const variant of all) {
      const digests = await variant.run();
      if (variant.wholeFile && digests[0] !== sha256) throw new Error(`${variant.name}: digest ${digests[0]} != ${sha256}`);
    }
    for (let run = 0; run < runs; run++) {
      for (const variant of all) {
        signal.throwIfAborted();
        const started = performance.now();
        await variant.run();
        seconds.get(variant.name)!.push((performance.now() - started) / 1000);
      }
    }
    const results = all.map((variant) => {
      const s = median(seconds.get(variant.name)!);
      return { name: variant.name, medianSeconds: s, gbPerSecond: size / s / GB, seconds: seconds.get(variant.name)! };
    });
    const baseline = results[0]!.gbPerSecond;
    const [, pieces, halves] = results;
    return {
      title: `micro: hashing a ${fixed(size / GB)} GB file from page cache (IoPool threads: ${pool.threads}/${POOL_THREADS})`,
      tables: [
        {
          caption: '',
          header: ['variant', 'median s', 'GB/s', 'x baseline'],
          rows: results.map((r) => [r.name, fixed(r.medianSeconds, 3), fixed(r.gbPerSecond), fixed(r.gbPerSecond / baseline)]),
        },
      ],
      targets: [
        checkTarget('IoPool sha256 4 MiB pieces / 1-thread stream', pieces!.gbPerSecond / baseline, '>=', POOL_TARGET),
        checkTarget('IoPool sha256 2 halves / 1-thread stream', halves!.gbPerSecond / baseline, '>=', POOL_TARGET),
      ],
      notes: [`median of ${runs} timed runs after one untimed round; the file stays in page cache`],
      data: { sizeBytes: size, runs, poolThreads: POOL_THREADS, results },
    };
  } finally {
    await pool.close();
    await dir.remove();
  }
}

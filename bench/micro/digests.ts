/**
 * Every digest path the engine may take, on in-memory random buffers: crc32 (addon native, addon
 * fallback, node:zlib, hash-wasm) and sha256/sha512 (addon hasher, node:crypto, hash-wasm).
 * Target: addon crc32 >= 1.5x zlib.crc32 on the 64 MiB buffer.
 */
import { createHash } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { createCRC32, createSHA256, createSHA512, type IHasher } from 'hash-wasm';
import { Bench } from 'tinybench';
import { loadAddon, nativeLoadError, type Addon, type HashAlgorithm } from '../../addon/index.ts';
import { randomBuffer } from '../lib/files.ts';
import { fixed, GB } from '../lib/format.ts';
import { checkTarget, printReport, type Report } from '../lib/report.ts';

export const DIGEST_BUFFER_SIZES = [64 << 20, 4 << 20] as const;
const CRC32_TARGET = 1.5;

interface DigestPath {
  readonly algorithm: 'crc32' | HashAlgorithm;
  readonly path: string;
  readonly run: (data: Buffer) => string | number;
}

interface DigestResult {
  readonly algorithm: string;
  readonly path: string;
  readonly sizeBytes: number;
  readonly medianMs: number;
  readonly gbPerSecond: number;
  readonly samples: number;
}

function wasm(hasher: IHasher): (data: Buffer) => string {
  return (data) => hasher.init().update(data).digest();
}

function addonHash(addon: Addon, algorithm: HashAlgorithm): (data: Buffer) => string {
  return (data) => {
    const hasher = addon.createHasher(algorithm);
    hasher.update(data);
    return hasher.digestHex();
  };
}

async function digestPaths(native: Addon, fallback: Addon): Promise<DigestPath[]> {
  const [wasmCrc, wasmSha256, wasmSha512] = await Promise.all([createCRC32(), createSHA256(), createSHA512()]);
  const paths: DigestPath[] = [
    { algorithm: 'crc32', path: `addon (${native.kind})`, run: (data) => native.crc32(data) },
    { algorithm: 'crc32', path: 'addon fallback', run: (data) => fallback.crc32(data) },
    { algorithm: 'crc32', path: 'node:zlib', run: (data) => zlibCrc32(data) },
    { algorithm: 'crc32', path: 'hash-wasm', run: (data) => Number.parseInt(wasm(wasmCrc)(data), 16) },
  ];
  for (const [algorithm, wasmHasher] of [['sha256', wasmSha256], ['sha512', wasmSha512]] as const) {
    paths.push(
      { algorithm, path: `addon (${native.kind})`, run: addonHash(native, algorithm) },
      { algorithm, path: 'node:crypto', run: (data) => createHash(algorithm).update(data).digest('hex') },
      { algorithm, path: 'hash-wasm', run: wasm(wasmHasher) },
    );
  }
  return paths;
}

/** Every path of one algorithm must agree before its speed means anything. */
function checkAgreement(paths: readonly DigestPath[], data: Buffer): void {
  for (const algorithm of new Set(paths.map((p) => p.algorithm))) {
    const group = paths.filter((p) => p.algorithm === algorithm);
    const values = group.map((p) => String(p.run(data)));
    if (new Set(values).size !== 1) {
      throw new Error(`${algorithm} paths disagree: ${group.map((p, i) => `${p.path}=${values[i]}`).join(', ')}`);
    }
  }
}

export async function benchDigests(signal: AbortSignal): Promise<Report> {
  const native = loadAddon();
  const fallback = loadAddon({ forceFallback: true });
  const paths = await digestPaths(native, fallback);
  const results: DigestResult[] = [];
  for (const size of DIGEST_BUFFER_SIZES) {
    const data = randomBuffer(size);
    checkAgreement(paths, data.subarray(0, 1 << 20));
    const bench = new Bench({ time: 500, iterations: 5, warmupTime: 100, warmupIterations: 2, signal, throws: true });
    for (const path of paths) bench.add(`${path.algorithm} ${path.path}`, () => void path.run(data));
    await bench.run();
    signal.throwIfAborted();
    bench.tasks.forEach((task, index) => {
      const result = task.result;
      if (result.state !== 'completed') throw new Error(`digest bench ${task.name}: ${result.state}`);
      const medianMs = result.latency.p50;
      const path = paths[index]!;
      results.push({
        algorithm: path.algorithm,
        path: path.path,
        sizeBytes: size,
        medianMs,
        gbPerSecond: size / (medianMs / 1000) / GB,
        samples: result.latency.samplesCount,
      });
    });
  }
  const speed = (algorithm: string, path: string, size: number) =>
    results.find((r) => r.algorithm === algorithm && r.path === path && r.sizeBytes === size)?.gbPerSecond ?? Number.NaN;
  const nativePath = `addon (${native.kind})`;
  const ratio = (size: number) => speed('crc32', nativePath, size) / speed('crc32', 'node:zlib', size);
  const [large, small] = DIGEST_BUFFER_SIZES;
  const notes = [
    `crc32 ratio addon/zlib: ${fixed(ratio(large))}x on ${large >> 20} MiB, ${fixed(ratio(small))}x on ${small >> 20} MiB`,
    'GB/s = buffer bytes / median time per call; hash-wasm copies input into wasm memory (part of its cost).',
  ];
  if (native.kind !== 'native') notes.push(`native addon NOT loaded (${nativeLoadError()?.message ?? 'unknown'}): "addon" rows are the fallback`);
  const sizes = DIGEST_BUFFER_SIZES.map((size) => `GB/s ${size >> 20}MiB`);
  const rows = paths.map((path) => [path.algorithm, path.path, ...DIGEST_BUFFER_SIZES.map((size) => fixed(speed(path.algorithm, path.path, size)))]);
  return {
    title: 'micro: digests on in-memory buffers',
    tables: [{ caption: '', header: ['algorithm', 'path', ...sizes], rows }],
    targets: [checkTarget(`addon crc32 / zlib.crc32 (${large >> 20} MiB)`, native.kind === 'native' ? ratio(large) : Number.NaN, '>=', CRC32_TARGET)],
    notes,
    data: { addonKind: native.kind, results },
  };
}

if (import.meta.main) {
  printReport(await benchDigests(new AbortController().signal));
}

/**
 * `npm run bench:preheat`: a `single_seed_peer` image preheat through the manager against one
 * direct `skopeo copy` of the same image to a local dir, on loopback, in the same run. A private
 * docker-registry holds a 3-layer image of random bytes; the manager runs in this process (SQLite
 * in the temp dir), the dfscheduler registers with it over gRPC, one seed dfdaemon announces to the
 * scheduler. Timed: `skopeo copy` (median of --runs, before the preheat; the registry's files are in
 * page cache for both), and the preheat from the job's creation to its SUCCESS. Bounded in time;
 * every process started is stopped by PID and the temp dir removed, also on error and Ctrl-C.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { createLogger, parseSize } from '../../api/index.ts';
import { findJob, resolveManagerConfig, startManager, submitJob } from '../../manager/index.ts';
import { DFSCHEDULER_BIN, schedulerConfig, startDaemon } from '../cluster/cluster.ts';
import { ServerProcess } from '../cluster/process.ts';
import { makeTempDir, onCleanup } from '../lib/cleanup.ts';
import { fixed, loud, median } from '../lib/format.ts';
import { runBenchScript } from '../lib/main.ts';
import { attempt, checkTarget, printReport, skippedReport, type Report } from '../lib/report.ts';
import { findExecutable, runMeasured } from '../lib/spawn.ts';
import { buildImage, pushImage } from '../mirror/image.ts';
import { startRegistry } from '../mirror/registry.ts';

const DEADLINE_MS = 10 * 60_000;
const READY_TIMEOUT_MS = 20_000;
const JOB_TIMEOUT_MS = 5 * 60_000;
const TARGET_RATIO = 1.2;

interface PreheatBenchArgs {
  readonly layerBytes: readonly number[];
  readonly runs: number;
  readonly outDir: string;
  readonly help: boolean;
}

const USAGE = `Usage: npm run bench:preheat -- [--layers 100MiB,70MiB,40MiB] [--runs 3] [--out DIR]

  --layers LIST   sizes of the image's layers of random bytes (default 100MiB,70MiB,40MiB)
  --runs N        skopeo copies timed, the median is compared (default 3); one preheat
  --out DIR       where the JSON results go (default bench/results)
`;

function parse(argv: readonly string[]): PreheatBenchArgs {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      layers: { type: 'string', default: '100MiB,70MiB,40MiB' },
      runs: { type: 'string', default: '3' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const layerBytes = values.layers.split(',').map((text) => parseSize(text.trim()));
  if (layerBytes.length === 0 || layerBytes.length > 16 || layerBytes.some((size) => size <= 0)) throw new Error('--layers must list 1 to 16 positive sizes');
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error('--runs must be an integer from 1 to 20');
  return { layerBytes, runs, outDir: resolve(values.out ?? join(import.meta.dirname, '..', 'results')), help: values.help };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, signal: AbortSignal, everyMs = 20): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    signal.throwIfAborted();
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000}s`);
    await new Promise((done) => setTimeout(done, everyMs));
  }
}

async function benchPreheat(args: PreheatBenchArgs, signal: AbortSignal): Promise<Report> {
  const title = 'image preheat (single_seed_peer) vs skopeo copy';
  const registryBin = findExecutable('docker-registry');
  const skopeo = findExecutable('skopeo');
  if (!registryBin || !skopeo) return skippedReport(title, 'needs docker-registry and skopeo (Debian packages docker-registry, skopeo)');
  const dir = makeTempDir('preheat').path;

  const registry = await startRegistry(registryBin, join(dir, 'registry'), signal);
  mkdirSync(join(dir, 'image'));
  const image = { ...buildImage(join(dir, 'image'), args.layerBytes, signal), name: 'bench/preheat' };
  await pushImage(registry.url, image, signal);
  const imageBytes = image.layers.reduce((sum, layer) => sum + layer.size, 0);

  const config = resolveManagerConfig({
    server: { rest: { listenIP: '127.0.0.1', port: 0 }, grpc: { listenIP: '127.0.0.1', port: 0 }, dataDir: join(dir, 'manager') },
    auth: { rootPassword: 'bench-preheat-root' },
    log: { level: 'warn' },
  });
  mkdirSync(config.server.dataDir);
  const manager = await startManager(config, { log: createLogger('warn') });
  onCleanup('dfmanager (in process)', () => manager.close());

  mkdirSync(join(dir, 'scheduler'));
  const schedulerYaml = join(dir, 'scheduler', 'scheduler.yaml');
  writeFileSync(
    schedulerYaml,
    stringify({
      ...schedulerConfig(),
      server: { listenIP: '127.0.0.1', port: 0, host: 'bench-scheduler' },
      manager: { addr: `127.0.0.1:${manager.grpcPort}`, keepAlive: { interval: '1s' } },
      dynconfig: { refreshInterval: '5s', cacheDir: join(dir, 'scheduler', 'cache') },
    }),
  );
  const scheduler = new ServerProcess('dfscheduler', DFSCHEDULER_BIN, ['--config', schedulerYaml], { ...process.env, NODE_OPTIONS: '' });
  const started = await scheduler.waitForLine((line) => line.msg === 'scheduler started', READY_TIMEOUT_MS, signal);
  const schedulerPort = Number(String(started['grpc']).split(':').pop());
  const seed = await startDaemon(dir, 'seed', true, schedulerPort, signal);
  await scheduler.waitForLine((line) => line.msg === 'host announced' && line['hostId'] === seed.hostId, READY_TIMEOUT_MS, signal);
  const db = manager.context.store.db;
  await until('the scheduler active in the manager', async () => (await db.selectFrom('schedulers').select('state').executeTakeFirst())?.state === 'active', READY_TIMEOUT_MS, signal);

  const source = `docker://${registry.url.slice('http://'.length)}/${image.name}:${image.tag}`;
  const skopeoSeconds: number[] = [];
  for (let run = 1; run <= args.runs; run++) {
    const out = join(dir, `skopeo-${run}`);
    const copy = await runMeasured(skopeo, ['--insecure-policy', 'copy', '--src-tls-verify=false', '--quiet', source, `dir:${out}`], { signal, timeoutMs: JOB_TIMEOUT_MS });
    if (copy.exitCode !== 0) throw new Error(`skopeo copy exited ${copy.exitCode}: ${copy.stderr.trim().slice(-500)}`);
    skopeoSeconds.push(copy.wallSeconds);
    rmSync(out, { recursive: true, force: true });
  }

  const t0 = performance.now();
  const job = await submitJob(manager.context, { type: 'preheat', args: { type: 'image', url: `${registry.url}/v2/${image.name}/manifests/${image.tag}`, scope: 'single_seed_peer' } }, null);
  let state = 'PENDING';
  await until('the preheat job to end', async () => (state = (await findJob(db, job.id))!.state) !== 'PENDING', JOB_TIMEOUT_MS, signal, 10);
  const preheatSeconds = (performance.now() - t0) / 1000;
  if (state !== 'SUCCESS') throw new Error(`the preheat ended ${state}: ${(await findJob(db, job.id))!.result}`);

  const skopeoMedian = median(skopeoSeconds);
  const ratio = preheatSeconds / skopeoMedian;
  const mbps = (seconds: number) => fixed(imageBytes / seconds / 1e6, 0);
  return {
    title,
    tables: [
      {
        caption: `${image.layers.length} layers, ${fixed(imageBytes / 2 ** 20, 0)} MiB of random bytes, registry on 127.0.0.1`,
        header: ['what', 'seconds', 'MB/s', 'x skopeo'],
        rows: [
          [`skopeo copy to dir: (median of ${args.runs})`, fixed(skopeoMedian), mbps(skopeoMedian), '1.00'],
          ['preheat: job created -> SUCCESS', fixed(preheatSeconds), mbps(preheatSeconds), fixed(ratio)],
        ],
      },
    ],
    notes: [`skopeo runs: ${skopeoSeconds.map((s) => fixed(s)).join(', ')} s`],
    targets: [checkTarget('preheat time / skopeo copy time', ratio, '<=', TARGET_RATIO)],
    data: { layerBytes: args.layerBytes, imageBytes, skopeoSeconds, preheatSeconds, ratio },
  };
}

async function main(args: PreheatBenchArgs, signal: AbortSignal): Promise<number> {
  const startedAt = new Date();
  const loadBefore = loadavg()[0]!;
  console.log(`bench:preheat: ${startedAt.toISOString()}, ${availableParallelism()} cpus (${cpus()[0]?.model ?? '?'}), node ${process.version}, load ${fixed(loadBefore)}`);
  if (loadBefore > availableParallelism() / 2) console.log(loud(`machine already busy (1-min load ${fixed(loadBefore)}): figures will be noisy`));
  const report = await attempt('image preheat', () => benchPreheat(args, signal), signal);
  printReport(report);
  console.log(`\nbench:preheat: load average ${fixed(loadBefore)} before, ${fixed(loadavg()[0]!)} after`);
  mkdirSync(args.outDir, { recursive: true });
  const file = join(args.outDir, `preheat-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ startedAt: startedAt.toISOString(), args, report }, null, 2)}\n`);
  console.log(`bench:preheat: results written to ${file}`);
  return report.skipped ? 1 : 0;
}

await runBenchScript({ name: 'bench:preheat', usage: USAGE, deadlineMs: DEADLINE_MS, parse, main });

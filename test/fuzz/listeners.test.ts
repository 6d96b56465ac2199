/**
 * Bad input by the thousand: every listener of every component gets DF_FUZZ_RUNS (default 1,000)
 * malformed requests from a seeded generator (test/support/fuzz), and each must be answered with a
 * 4xx (or a 5xx the proxy marks as the upstream's fault), or a gRPC status other than INTERNAL and
 * UNKNOWN, within the timeout; the process still answers afterwards, and a normal download through
 * the daemon is byte-identical. A failure prints the seed: DF_FUZZ_SEED=<seed> replays it.
 * With DF_FUZZ_REPORT=<file>, each listener's counts are appended to it as JSON lines (bench:fuzz).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'vitest';
import { createLogger } from '../../api/index.ts';
import { resolveManagerConfig, ROOT_USER, startManager } from '../../manager/index.ts';
import { dfgetThrough, startDaemon, startScheduler } from '../support/daemon.ts';
import { Origin, content } from '../support/origin.ts';
import { closedPort, tempDir } from '../support/temp.ts';
import { buildImage, onPath, pushImage, startRegistry, TOOL } from '../support/registry/index.ts';
import { fuzzRuns, fuzzSeed } from '../support/fuzz/rng.ts';
import { failureText, formatReports, runFuzz, type FuzzListener, type FuzzReport } from '../support/fuzz/run.ts';
import { httpListener, mirrorRequest, pieceServerRequest, proxyRequest, restRequest } from '../support/fuzz/http-targets.ts';
import { grpcGenerator, grpcListener } from '../support/fuzz/grpc-targets.ts';
import { daemonSamples, managerSamples, schedulerSamples } from '../support/fuzz/samples.ts';
import { grpc, sendRawHttp } from '../support/fuzz/send.ts';

const RUNS = fuzzRuns(1_000);
const SEED = fuzzSeed();
const CONCURRENCY = 8;
const ANSWER_TIMEOUT_MS = 10_000;
/** Generous: 2-core CI machines run other test files beside this one. */
const TEST_TIMEOUT_MS = 120_000 + RUNS * 60;
const HUGE_BYTES = 3 * 1024 * 1024;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function fuzz<I>(listener: FuzzListener<I>, stillAnswers: () => Promise<boolean>): Promise<FuzzReport> {
  const report = await runFuzz(listener, { runs: RUNS, seed: SEED, concurrency: CONCURRENCY });
  report.crashes = (await stillAnswers().catch(() => false)) ? 0 : 1;
  if (process.env.DF_FUZZ_REPORT) await appendFile(process.env.DF_FUZZ_REPORT, `${JSON.stringify(report)}\n`);
  return report;
}

function check(reports: readonly FuzzReport[]): void {
  process.stderr.write(`fuzz seed ${SEED}, ${RUNS} inputs per listener\n${formatReports(reports)}\n`);
  const failures = reports.map((report) => failureText(report, RUNS)).filter((text): text is string => text !== undefined);
  assert.equal(failures.length, 0, `fuzz seed ${SEED}:\n${failures.join('\n')}`);
}

async function httpOk(port: number, path: string): Promise<boolean> {
  const answer = await sendRawHttp(port, Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`), { timeoutMs: 5_000, halfClose: false });
  return answer.status === 200;
}

function grpcAnswers(address: string, path: string, request: Buffer, okCodes: readonly grpc.status[]): Promise<boolean> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<boolean>((resolve) => {
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, request, { deadline: Date.now() + 5_000 }, (error) => resolve(okCodes.includes(error ? error.code : grpc.status.OK)));
  }).finally(() => client.close());
}

/** A registry with a small image when the tools are installed; else a closed port as the mirror's upstream. */
async function mirrorUpstream(t: TestContext, dir: string, closed: number): Promise<{ url: string; host: string; name: string; digests: string[] }> {
  const fallback = { url: `http://127.0.0.1:${closed}`, host: `127.0.0.1:${closed}`, name: 'test/img', digests: [`sha256:${'ab'.repeat(32)}`] };
  if (![TOOL.registry, TOOL.umoci, TOOL.skopeo].every((tool) => onPath(tool.bin))) {
    process.stderr.write('fuzz: docker-registry/umoci/skopeo missing; the mirror is fuzzed against a closed upstream\n');
    return fallback;
  }
  const registry = await startRegistry(t, { dir: join(dir, 'registry') });
  const image = await buildImage(join(dir, 'image'), { layers: [300 * 1024, 90 * 1024] });
  await pushImage(image, registry, 'test/img:1');
  return { url: registry.url, host: registry.host, name: 'test/img', digests: [...image.layers.map((l) => l.digest), image.manifestDigest] };
}

test('daemon: piece server, proxy, registry mirror, upload and download gRPC answer bad input with 4xx / non-INTERNAL codes; a download afterwards is byte-identical', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dir = await tempDir(t, 'df-fuzz-daemon-');
  const closed = await closedPort();
  const body = content(1_500_000, 7);
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());
  origin.setFile('/file.bin', body).setFile('/p2p/small.bin', content(200_000, 8)).setFile('/plain.txt', Buffer.from('plain\n'));
  const upstream = await mirrorUpstream(t, dir, closed);
  const scheduler = await startScheduler(t, join(dir, 'scheduler'));
  const daemon = await startDaemon(t, dir, {
    name: 'fuzzed',
    schedulerPort: scheduler.port,
    config: { proxy: { rules: [{ regex: '/p2p/.*' }], registryMirror: { addr: upstream.url } } },
  });
  const cacheHome = join(dir, 'dfget-cache');
  const first = await dfgetThrough(daemon, [origin.url('/file.bin'), '-O', join(dir, 'first.bin'), '--no-progress'], { cacheHome });
  assert.equal(first.code, 0, first.stderr);
  const taskIds = (await readdir(join(daemon.storageDir, 'content', 'tasks'), { recursive: true })).map((p) => p.split('/').pop()!).filter((name) => /^[0-9a-f]{64}$/.test(name));
  assert.ok(taskIds.length > 0, 'the warm-up download left a task to serve pieces of');

  const outputDir = join(dir, 'outputs');
  const alive = async () => daemon.proc.running && (await httpOk(daemon.ports.health, '/healthy'));
  const upload = grpcListener('daemon upload gRPC', `127.0.0.1:${daemon.ports.upload}`, grpcGenerator({
    services: ['dfdaemon.v2.DfdaemonUpload'],
    samples: daemonSamples({ originUrl: origin.url('/p2p/small.bin'), taskIds, outputDir }),
    hugeBytes: HUGE_BYTES,
  }), { timeoutMs: ANSWER_TIMEOUT_MS });
  const download = grpcListener('daemon download gRPC (unix socket)', `unix:${daemon.socketPath}`, grpcGenerator({
    services: ['dfdaemon.v2.DfdaemonDownload'],
    samples: daemonSamples({ originUrl: origin.url('/p2p/small.bin'), taskIds, outputDir }),
    // dfget's socket writes where it is told: a mutated output path must stay in this test's directory.
    allowed: (decoded) => outputsInside(decoded, outputDir),
    hugeBytes: HUGE_BYTES,
  }), { timeoutMs: ANSWER_TIMEOUT_MS });
  t.onTestFinished(() => {
    upload.close();
    download.close();
  });

  const reports: FuzzReport[] = [];
  const pieceTarget = { port: daemon.ports.pieces, taskIds };
  reports.push(await fuzz(httpListener('daemon piece server', daemon.ports.pieces, (rng) => pieceServerRequest(rng, pieceTarget), { upstreamFaultsAllowed: false, timeoutMs: ANSWER_TIMEOUT_MS }), alive));
  const proxyTarget = { port: daemon.ports.proxy, originPort: origin.port, originPaths: ['/file.bin', '/p2p/small.bin', '/plain.txt', '/missing'], closedPort: closed };
  reports.push(await fuzz(httpListener('daemon proxy', daemon.ports.proxy, (rng) => proxyRequest(rng, proxyTarget), { upstreamFaultsAllowed: true, timeoutMs: ANSWER_TIMEOUT_MS }), alive));
  const mirrorTarget = { port: daemon.ports.proxy, registry: upstream.host, closedPort: closed, name: upstream.name, digests: upstream.digests };
  reports.push(await fuzz(httpListener('daemon registry mirror', daemon.ports.proxy, (rng) => mirrorRequest(rng, mirrorTarget), { upstreamFaultsAllowed: true, timeoutMs: ANSWER_TIMEOUT_MS }), alive));
  reports.push(await fuzz(upload, alive));
  reports.push(await fuzz(download, alive));
  check(reports);

  // Still a working peer: a fresh download through it, and one through its proxy, byte for byte.
  const after = await dfgetThrough(daemon, [origin.url('/file.bin'), '-O', join(dir, 'after.bin'), '--no-progress'], { cacheHome: join(dir, 'dfget-cache-2') });
  assert.equal(after.code, 0, after.stderr);
  assert.equal(sha256(await readFile(join(dir, 'after.bin'))), sha256(body));
  assert.ok(await httpOk(daemon.ports.proxy, origin.url('/p2p/small.bin')), 'a proxied GET still answers 200');
});

test('scheduler gRPC answers bad input with non-INTERNAL codes and keeps answering', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dir = await tempDir(t, 'df-fuzz-scheduler-');
  const scheduler = await startScheduler(t, dir);
  const address = `127.0.0.1:${scheduler.port}`;
  const listener = grpcListener('scheduler gRPC', address, grpcGenerator({ services: ['scheduler.v2.Scheduler'], samples: schedulerSamples({ closedPort: await closedPort() }), hugeBytes: HUGE_BYTES }), { timeoutMs: ANSWER_TIMEOUT_MS });
  t.onTestFinished(() => listener.close());
  const alive = async () => scheduler.proc.running && (await grpcAnswers(address, '/scheduler.v2.Scheduler/ListHosts', Buffer.alloc(0), [grpc.status.OK]));
  check([await fuzz(listener, alive)]);
});

test('manager REST and gRPC answer bad input with 4xx / non-INTERNAL codes and keep answering', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const dir = await tempDir(t, 'df-fuzz-manager-');
  const config = resolveManagerConfig({
    server: { rest: { listenIP: '127.0.0.1', port: 0 }, grpc: { listenIP: '127.0.0.1', port: 0 }, dataDir: join(dir, 'manager') },
    auth: { rootPassword: 'fuzz-root-password' },
  });
  const manager = await startManager(config, { log: createLogger('error', () => {}) });
  t.onTestFinished(() => manager.close());
  const signin = await fetch(`http://127.0.0.1:${manager.restPort}/api/v1/users/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: ROOT_USER, password: 'fuzz-root-password' }),
    signal: AbortSignal.timeout(10_000),
  });
  const { token } = (await signin.json()) as { token: string };
  const address = `127.0.0.1:${manager.grpcPort}`;
  const rpc = grpcListener('manager gRPC', address, grpcGenerator({ services: ['manager.v2.Manager'], samples: managerSamples(), hugeBytes: HUGE_BYTES }), { timeoutMs: ANSWER_TIMEOUT_MS });
  t.onTestFinished(() => rpc.close());
  const alive = async () =>
    (await httpOk(manager.restPort, '/healthy')) && (await grpcAnswers(address, '/manager.v2.Manager/ListSchedulers', Buffer.from([0x12, 0x01, 0x68, 0x1a, 0x09, ...Buffer.from('127.0.0.1')]), [grpc.status.OK]));
  const restTarget = { port: manager.restPort, token };
  const reports = [
    await fuzz(httpListener('manager REST', manager.restPort, (rng) => restRequest(rng, restTarget), { upstreamFaultsAllowed: false, timeoutMs: ANSWER_TIMEOUT_MS }), alive),
    await fuzz(rpc, alive),
  ];
  check(reports);
});

/** Every output path in a decoded DownloadTaskRequest is absent or inside `dir`. */
function outputsInside(decoded: object, dir: string): boolean {
  const found: string[] = [];
  const walk = (value: unknown) => {
    if (!value || typeof value !== 'object') return;
    for (const [key, v] of Object.entries(value)) {
      if (key === 'outputPath' && typeof v === 'string' && v !== '') found.push(v);
      else walk(v);
    }
  };
  walk(decoded);
  return found.every((path) => path.startsWith(`${dir}/`) && !path.includes('..'));
}

/**
 * The system under test: nginx on the origin host; dfscheduler and a seed dfdaemon on the seed
 * host; one dfdaemon per peer host; then `dfget URL -O OUT --endpoint SOCK` on every peer at once.
 * Each daemon's config advertises its namespace address (`host.ip`) and listens on it, with
 * Dragonfly's default ports (every namespace has its own port space); metrics and health stay on
 * the namespace's loopback, read with curl from inside it. The proxy is not used (port 0).
 * With `--mtls` (ctx.p2p.mtls) every daemon link and the scheduler run mutual TLS with a CA and a
 * certificate per host made for the run (pki.ts).
 */
import { parseMetricsText } from '../../api/index.ts';
import { buildDfdaemonConfig, type DfdaemonConfigTree } from '../../daemon/index.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { ServerProcess } from '../cluster/process.ts';
import { dfgetEntry } from '../cluster/dfget.ts';
import { findExecutable, killGroup, serverEnv } from '../lib/spawn.ts';
import type { CpuLedger } from './cpu.ts';
import { execInHost, launcherFor, runInHost } from './hosts.ts';
import type { SimHost } from './netns.ts';
import { startOrigin } from './origin.ts';
import { createSwarmPki, type TlsIdentity } from './pki.ts';
import { since, type PeerOutcome, type SwarmContext, type SwarmSystem } from './system.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const DFDAEMON_BIN = join(REPO_ROOT, 'daemon', 'bin', 'dfdaemon.ts');
const DFSCHEDULER_BIN = join(REPO_ROOT, 'scheduler', 'bin', 'dfscheduler.ts');

const SCHEDULER_PORT = 8002;
const METRICS_PORT = 4002;
const READY_TIMEOUT_MS = 90_000;
/** Log events kept per daemon in results.json. */
const MAX_EVENTS = 60;

interface Daemon {
  readonly name: string;
  readonly host: SimHost;
  readonly seed: boolean;
  readonly socketPath: string;
  readonly proc: ServerProcess;
  readonly hostId: string;
}

function daemonConfig(ctx: SwarmContext, dir: string, host: SimHost, seed: boolean, tls: TlsIdentity | undefined): string {
  const download: DfdaemonConfigTree = {};
  if (ctx.p2p.concurrentPieceCount !== undefined) download['concurrentPieceCount'] = ctx.p2p.concurrentPieceCount;
  if (ctx.p2p.relay) download['relay'] = true;
  if (ctx.p2p.keepAlive !== undefined) download['keepAlive'] = ctx.p2p.keepAlive;
  return buildDfdaemonConfig({
    hostname: host.name,
    ip: host.ip,
    storageDir: join(dir, 'storage'),
    socketPath: join(dir, 'dfdaemon.sock'),
    // Dragonfly's announce interval (300 s): an announce replaces the scheduler's projected load of
    // a host by what it measured, and a host whose children have not started yet measures nothing,
    // so frequent announces during a burst of registrations hand one idle parent to several children.
    schedulerAddrs: [`${ctx.seed.ip}:${SCHEDULER_PORT}`],
    seed,
    ...(tls && { tls }),
    ports: { upload: 4000, pieces: 4005, metrics: METRICS_PORT, health: 4003 },
    overrides: {
      download,
      // What an operator sets on such links: the scheduler weighs parents by it (announced max_tx).
      upload: { bandwidthLimit: `${host.rateBps}bps` },
    },
  }).yaml;
}

async function startScheduler(ctx: SwarmContext, dir: string, tls: TlsIdentity | undefined): Promise<ServerProcess> {
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'scheduler.yaml');
  writeFileSync(
    configPath,
    stringify({
      server: { listenIP: ctx.seed.ip, port: SCHEDULER_PORT, advertisePort: SCHEDULER_PORT, ...(tls && { tls }) },
      // The scheduler calls the seed's DfdaemonUpload (DownloadTask): with the seed host's identity.
      ...(tls && { seedPeer: { tls } }),
      ...(ctx.p2p.stripes !== undefined && { scheduler: { stripes: ctx.p2p.stripes } }),
      metrics: { addr: '127.0.0.1:8000' },
      log: { level: 'info' },
    }),
  );
  const proc = new ServerProcess('dfscheduler', DFSCHEDULER_BIN, ['--config', configPath], serverEnv(), launcherFor(ctx.seed));
  await proc.waitForLine((line) => line.msg === 'scheduler started', READY_TIMEOUT_MS, ctx.signal).catch(async (error: unknown) => {
    await proc.stop();
    throw error;
  });
  return proc;
}

async function startDaemon(ctx: SwarmContext, host: SimHost, seed: boolean, tls: TlsIdentity | undefined): Promise<Daemon> {
  const dir = join(ctx.workDir, host.name);
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'dfdaemon.yaml');
  writeFileSync(configPath, daemonConfig(ctx, dir, host, seed, tls));
  const proc = new ServerProcess(host.name, DFDAEMON_BIN, ['--config', configPath], serverEnv(), launcherFor(host));
  try {
    const ready = await proc.waitForLine((line) => line.msg === 'dfdaemon ready', READY_TIMEOUT_MS, ctx.signal);
    return { name: host.name, host, seed, socketPath: join(dir, 'dfdaemon.sock'), proc, hostId: String(ready['hostId']) };
  } catch (error) {
    await proc.stop();
    throw error;
  }
}

/** The samples of the daemon's Prometheus page, read with curl inside its namespace. */
async function metricsOf(daemon: Daemon): Promise<Map<string, number>> {
  const text = await execInHost(daemon.host, 'curl', ['-s', '--fail', '--max-time', '5', `http://127.0.0.1:${METRICS_PORT}/metrics`]);
  return parseMetricsText(text);
}

/** Seconds from the launch to the daemon's log line `msg` (its `time` field), if it logged one. */
function logSeconds(daemon: Daemon, msg: string, launchedAtMs: number): number | undefined {
  const line = daemon.proc.lines.find((l) => l.msg === msg);
  const at = line ? Date.parse(String(line['time'])) : Number.NaN;
  return Number.isFinite(at) ? (at - launchedAtMs) / 1000 : undefined;
}

async function daemonDetails(daemon: Daemon, launchedAtMs: number): Promise<Record<string, unknown>> {
  let samples = new Map<string, number>();
  let metricsError: string | undefined;
  try {
    samples = await metricsOf(daemon);
  } catch (error) {
    metricsError = (error as Error).message;
  }
  const of = (key: string) => samples.get(key) ?? 0;
  const rounds = daemon.proc.lines.filter((line) => line.msg === 'scheduler: candidate parents');
  return {
    name: daemon.name,
    seed: daemon.seed,
    startedSeconds: logSeconds(daemon, 'download started', launchedAtMs),
    finishedSeconds: logSeconds(daemon, 'download finished', launchedAtMs),
    fromOriginBytes: of('dragonfly_client_download_traffic{type="back_to_source"}'),
    fromParentsBytes: of('dragonfly_client_download_traffic{type="remote_peer"}'),
    uploadedBytes: of('dragonfly_client_upload_traffic'),
    digestMismatches: of('dragonfly_client_piece_digest_mismatch_total'),
    scheduleRounds: rounds.length,
    firstParents: rounds[0]?.['parents'] ?? [],
    backToSource: daemon.proc.lines.some((line) => line.msg === 'scheduler: back to source'),
    warnings: daemon.proc.problems().length,
    // What decided where its pieces came from (plans, stripe switches, quiet parents) and what went wrong, in order,
    // with seconds from the launch: the first place to look when a peer finished late.
    events: daemon.proc.lines
      .filter((line) => /^(scheduler: |stripe |parents )/.test(String(line.msg)) || line.level === 'warn' || line.level === 'error')
      .slice(0, MAX_EVENTS)
      .map(({ time, level: _level, taskId: _taskId, ...rest }) => ({ seconds: (Date.parse(String(time)) - launchedAtMs) / 1000, ...rest })),
    metricsError,
  };
}

/** How many peers got only the seed as parent in their first scheduling round (a star, not a swarm). */
export function seedOnlyFirstRounds(details: readonly Record<string, unknown>[]): number {
  return details.filter((d) => {
    const parents = d['firstParents'];
    return !d['seed'] && Array.isArray(parents) && parents.length > 0 && parents.every((id) => String(id).endsWith('-seed'));
  }).length;
}

export const p2pSystem: SwarmSystem = {
  name: 'p2p',
  needs: [
    { binary: 'nginx', apt: 'nginx-light' },
    { binary: 'curl', apt: 'curl' },
  ],
  peerKind: 'dfdaemon',
  async prepare(ctx) {
    const stops: Array<() => Promise<void>> = [];
    const stop = async () => {
      // Daemons first (they leave the scheduler while it still runs), then the scheduler, then nginx.
      for (const group of stops.splice(0).reverse()) await group();
    };
    try {
      const origin = await startOrigin(findExecutable('nginx')!, ctx.origin, ctx.file, join(ctx.workDir, 'nginx'), ctx.signal);
      stops.push(origin.stop);
      ctx.log(`p2p: starting dfscheduler, a seed dfdaemon and ${ctx.peers.length} dfdaemons`);
      const hosts = [ctx.seed, ...ctx.peers];
      const pki = ctx.p2p.mtls ? await createSwarmPki(join(ctx.workDir, 'pki'), hosts.map((host) => ({ name: host.name, ip: host.ip }))) : undefined;
      if (pki) ctx.log(`p2p: mutual TLS on every link, a CA and ${pki.size} host certificates in ${join(ctx.workDir, 'pki')}`);
      const scheduler = await startScheduler(ctx, join(ctx.workDir, 'scheduler'), pki?.get(ctx.seed.name));
      stops.push(() => scheduler.stop());
      const daemons: Daemon[] = [];
      stops.push(async () => void (await Promise.all(daemons.map((d) => d.proc.stop()))));
      const settled = await Promise.allSettled(hosts.map((host) => startDaemon(ctx, host, host === ctx.seed, pki?.get(host.name)).then((d) => (daemons.push(d), d))));
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      const hostIds = daemons.map((d) => d.hostId);
      await scheduler.waitForLine(() => {
        const announced = new Set(scheduler.lines.filter((line) => line.msg === 'host announced').map((line) => String(line['hostId'])));
        return hostIds.every((id) => announced.has(id));
      }, READY_TIMEOUT_MS, ctx.signal);
      const byHost = new Map(daemons.map((d) => [d.host.netns, d]));
      const dfget = dfgetEntry();
      const env: NodeJS.ProcessEnv = { ...serverEnv(), XDG_CACHE_HOME: join(ctx.workDir, 'dfget-cache') };
      const pieceArgs = ctx.p2p.pieceLengthBytes === undefined ? [] : ['--piece-length', String(ctx.p2p.pieceLengthBytes)];
      let launchedAtMs = Date.now();
      // Aborting one of these SIGKILLs that peer's dfget (its process group, by PID).
      const kills = ctx.peers.map(() => new AbortController());
      return {
        track(ledger: CpuLedger) {
          origin.track(ledger);
          ledger.track('dfscheduler', scheduler.pid);
          for (const d of daemons) ledger.track(d.seed ? 'dfdaemon (seed)' : 'dfdaemon', d.proc.pid);
        },
        // The host dies: its daemon first (its children lose a parent mid-piece), then its dfget,
        // which would otherwise fall back to the origin by itself.
        killPeer(index, ledger) {
          const daemon = byHost.get(ctx.peers[index]!.netns)!;
          ledger.settleProcess(daemon.proc.pid);
          killGroup(daemon.proc.child, 'SIGKILL');
          kills[index]!.abort(new Error('killed by the harness'));
        },
        async launch(ledger, signal) {
          const started = performance.now();
          launchedAtMs = Date.now();
          return Promise.all(
            ctx.peers.map(async (peer, i): Promise<PeerOutcome> => {
              const daemon = byHost.get(peer.netns)!;
              const outputPath = join(ctx.workDir, `${peer.name}.bin`);
              try {
                const result = await runInHost(
                  peer,
                  process.execPath,
                  [dfget, origin.url, '-O', outputPath, '--endpoint', daemon.socketPath, '--no-progress', ...pieceArgs],
                  { env, timeoutMs: ctx.timeoutMs, signal: AbortSignal.any([signal, kills[i]!.signal]) },
                );
                ledger.add('dfget', result.cpuSeconds);
                const seconds = since(started);
                if (result.exitCode !== 0) return { name: peer.name, outputPath, seconds: undefined, error: `dfget exited with ${result.exitCode ?? result.signal}: ${result.stderr.trim().slice(-300)}` };
                // dfget falls back to downloading by itself when the daemon does not answer: not P2P.
                if (/no dfdaemon answers/.test(result.stderr)) return { name: peer.name, outputPath, seconds: undefined, error: 'dfget could not reach its dfdaemon and downloaded by itself' };
                return { name: peer.name, outputPath, seconds, error: undefined };
              } catch (error) {
                if (signal.aborted) throw error;
                return { name: peer.name, outputPath, seconds: undefined, error: (error as Error).message };
              }
            }),
          );
        },
        async details() {
          const perDaemon = await Promise.all(daemons.map((d) => daemonDetails(d, launchedAtMs)));
          const starts = perDaemon.map((d) => d['startedSeconds']).filter((s): s is number => typeof s === 'number');
          return {
            originPayloadBytes: origin.payloadBytes(),
            seedOnlyFirstRounds: seedOnlyFirstRounds(perDaemon),
            // When the daemons began: dfget's own start-up (a Node process per peer) comes first.
            downloadsStartedSeconds: starts.length ? { first: Math.min(...starts), last: Math.max(...starts) } : null,
            daemons: perDaemon,
          };
        },
        stop,
      };
    } catch (error) {
      await stop();
      throw error;
    }
  },
};

// The parts of the system above, for harnesses that start the same cluster piece by piece and
// then break it (bench/faults): one writer of each config, one way to read a daemon.
export { daemonConfig, daemonDetails, metricsOf, startScheduler, METRICS_PORT, READY_TIMEOUT_MS, DFDAEMON_BIN, type Daemon };

/**
 * Real dfdaemon and dfscheduler processes for tests: each daemon with its own config file, storage
 * dir, unix socket and ports (port 0, read back from its "ready" log line), and helpers to read
 * its /metrics and to run dfget through it.
 */
import { parseMetricsText } from '../../api/index.ts';
import { dfdaemonConfigTree, dfdaemonConfigYaml, mergeConfigTree, type DfdaemonConfigTree } from '../../daemon/index.ts';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'vitest';
import { stringify } from 'yaml';
import { dfget, type CliResult } from './cli.ts';
import { startProcess, type NodeProcess } from './process.ts';

export const DFDAEMON_BIN = join(import.meta.dirname, '..', '..', 'daemon', 'bin', 'dfdaemon.ts');
export const DFSCHEDULER_BIN = join(import.meta.dirname, '..', '..', 'scheduler', 'bin', 'dfscheduler.ts');

type Tree = DfdaemonConfigTree;

export interface DaemonPorts {
  readonly upload: number;
  readonly pieces: number;
  readonly proxy: number;
  readonly metrics: number;
  readonly health: number;
}

export interface DaemonHandle {
  readonly name: string;
  readonly dir: string;
  readonly configPath: string;
  readonly socketPath: string;
  readonly storageDir: string;
  proc: NodeProcess;
  ports: DaemonPorts;
  hostId: string;
}

export interface DaemonOptions {
  readonly name: string;
  /** Scheduler addresses; default none reachable. */
  readonly schedulerPort?: number | undefined;
  readonly seed?: boolean;
  /** storage.server.advertisePort: where children are sent for pieces (a proxy in front of the piece server). */
  readonly advertisePiecePort?: number | undefined;
  /** Extra config, merged over the test defaults. */
  readonly config?: Tree;
  readonly env?: NodeJS.ProcessEnv;
  /** Mutual TLS on every link of the daemon with this identity (config-builder's `tls`). */
  readonly tls?: { readonly caCert: string; readonly cert: string; readonly key: string } | undefined;
}

/**
 * Test defaults over the daemon's own builder: loopback only, every port 0, short announce
 * interval, stores kept across restarts. Not checked here: a test may write a bad file on purpose.
 */
export function daemonConfig(dir: string, options: DaemonOptions): Tree {
  const testDefaults: Tree = {
    download: { collectedPieceTimeout: '5s' },
    scheduler: { announceInterval: '2s', scheduleTimeout: '10s' },
    storage: { keep: true, ...(options.advertisePiecePort === undefined ? {} : { server: { advertisePort: options.advertisePiecePort } }) },
  };
  return dfdaemonConfigTree({
    hostname: options.name,
    ip: '127.0.0.1',
    storageDir: join(dir, 'storage'),
    socketPath: join(dir, 'dfdaemon.sock'),
    schedulerAddrs: [`127.0.0.1:${options.schedulerPort ?? 1}`],
    seed: options.seed ?? false,
    ...(options.tls && { tls: options.tls }),
    overrides: mergeConfigTree(testDefaults, options.config ?? {}),
  });
}

/** Writes the config and starts the daemon; resolves once it logged that it is ready. */
export async function startDaemon(t: TestContext, parentDir: string, options: DaemonOptions): Promise<DaemonHandle> {
  const dir = join(parentDir, options.name);
  await mkdir(dir, { recursive: true });
  const config = daemonConfig(dir, options);
  const configPath = join(dir, 'dfdaemon.yaml');
  await writeFile(configPath, dfdaemonConfigYaml(config));
  const handle: DaemonHandle = {
    name: options.name,
    dir,
    configPath,
    socketPath: (config.download as { server: { socketPath: string } }).server.socketPath,
    storageDir: (config.storage as { dir: string }).dir,
    proc: undefined as unknown as NodeProcess,
    ports: { upload: 0, pieces: 0, proxy: 0, metrics: 0, health: 0 },
    hostId: '',
  };
  await launch(t, handle, options.env);
  return handle;
}

async function launch(t: TestContext, handle: DaemonHandle, env?: NodeJS.ProcessEnv): Promise<void> {
  handle.proc = startProcess(t, handle.name, DFDAEMON_BIN, ['--config', handle.configPath], env);
  const ready = await handle.proc.waitForLine((line) => line.msg === 'dfdaemon ready');
  handle.ports = ready.ports as DaemonPorts;
  handle.hostId = ready.hostId as string;
}

/** Starts the daemon again with the same config (and store), after it stopped or was killed. */
export async function restartDaemon(t: TestContext, handle: DaemonHandle, env?: NodeJS.ProcessEnv): Promise<void> {
  await handle.proc.stop();
  await launch(t, handle, env);
}

export interface SchedulerHandle {
  readonly proc: NodeProcess;
  readonly port: number;
  readonly configPath: string;
}

/** A real dfscheduler on a free port; `extra` is merged into its scheduler.yaml. */
export async function startScheduler(t: TestContext, dir: string, extra: Tree = {}, port = 0): Promise<SchedulerHandle> {
  await mkdir(dir, { recursive: true });
  const config = mergeConfigTree(
    {
      server: { listenIP: '127.0.0.1', port },
      metrics: { addr: '127.0.0.1:0' },
      scheduler: { retryInterval: '200ms' },
      log: { level: 'info' },
    },
    extra,
  );
  const configPath = join(dir, 'scheduler.yaml');
  await writeFile(configPath, stringify(config));
  const proc = startProcess(t, 'dfscheduler', DFSCHEDULER_BIN, ['--config', configPath]);
  const started = await proc.waitForLine((line) => line.msg === 'scheduler started');
  const bound = Number(String(started.grpc).split(':').pop());
  return { proc, port: bound, configPath };
}

/** The samples of a Prometheus text page, by `name{labels}`. */
export async function scrape(port: number): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await response.text();
  return parseMetricsText(text);
}

/** Download traffic bytes of a daemon by type. */
export async function downloadTraffic(daemon: DaemonHandle): Promise<{ back_to_source: number; remote_peer: number; local_peer: number }> {
  const samples = await scrape(daemon.ports.metrics);
  const of = (type: string) => samples.get(`dragonfly_client_download_traffic{type="${type}"}`) ?? 0;
  return { back_to_source: of('back_to_source'), remote_peer: of('remote_peer'), local_peer: of('local_peer') };
}

/** dfget through a daemon's socket. */
export function dfgetThrough(daemon: DaemonHandle, args: readonly string[], options: { cacheHome: string; timeoutMs?: number }): Promise<CliResult> {
  return dfget([...args, '--endpoint', daemon.socketPath], { cacheHome: options.cacheHome, timeoutMs: options.timeoutMs ?? 60_000 });
}

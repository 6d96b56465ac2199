/**
 * A whole cluster of real processes for end-to-end tests: the fault-injecting origin (in the test
 * process), a dfscheduler, one seed dfdaemon and N dfdaemons, each with its own ports, storage and
 * socket, all stopped by PID when the test ends.
 */
import { join } from 'node:path';
import type { TestContext } from 'vitest';
import { CorruptPieceProxy } from './corrupt-piece-proxy.ts';
import { Origin } from './origin.ts';
import { startDaemon, startScheduler, type DaemonHandle, type DaemonOptions, type SchedulerHandle } from './daemon.ts';
import { tempDir, waitFor } from './temp.ts';
import { loadProtosForTests } from './grpc.ts';
import { createTestPki, type TlsIdentity } from './tls.ts';
import * as grpc from '@grpc/grpc-js';

export interface Cluster {
  readonly dir: string;
  readonly origin: Origin;
  readonly scheduler: SchedulerHandle;
  readonly seed: DaemonHandle | undefined;
  readonly peers: DaemonHandle[];
  /** The proxies in front of the daemons named in `corruptPieces`, by name. */
  readonly corruptProxies: ReadonlyMap<string, CorruptPieceProxy>;
  /** A fresh XDG_CACHE_HOME for dfget runs. */
  readonly cacheHome: string;
  /** With `mtls`: every identity by name (`scheduler`, `seed`, `peer-1`, ..., `client` for the test's own calls). */
  readonly tls: ReadonlyMap<string, TlsIdentity> | undefined;
}

export interface ClusterOptions {
  readonly peers: number;
  readonly seed?: boolean;
  /** Extra dfscheduler config, merged over the test defaults. */
  readonly schedulerConfig?: Parameters<typeof startScheduler>[2];
  /** Extra daemon config for every daemon. */
  readonly config?: DaemonOptions['config'];
  /** Per-daemon environment, by name (`seed`, `peer-1`, ...). */
  readonly env?: Readonly<Record<string, NodeJS.ProcessEnv>>;
  /** Daemons whose children get every piece with a flipped byte (through a CorruptPieceProxy), by name. */
  readonly corruptPieces?: readonly string[];
  /** Mutual TLS everywhere: one CA, a certificate per process (scheduler server.tls and seedPeer.tls, every daemon link). */
  readonly mtls?: boolean;
}

/** gRPC channel credentials of a test identity (mutual TLS, name not checked as the daemons do), or insecure. */
export async function testChannelCredentials(identity: TlsIdentity | undefined): Promise<grpc.ChannelCredentials> {
  if (!identity) return grpc.credentials.createInsecure();
  const { readFile } = await import('node:fs/promises');
  const [ca, key, cert] = await Promise.all([readFile(identity.caCert), readFile(identity.key), readFile(identity.cert)]);
  return grpc.credentials.createSsl(ca, key, cert, { checkServerIdentity: () => undefined });
}

/** The hosts the scheduler knows, by id (ListHosts). */
export async function schedulerHosts(port: number, identity?: TlsIdentity): Promise<string[]> {
  const { scheduler } = loadProtosForTests();
  const client = new scheduler.Scheduler(`127.0.0.1:${port}`, await testChannelCredentials(identity));
  try {
    return await new Promise<string[]>((resolve, reject) => {
      client.listHosts({}, { deadline: Date.now() + 3_000 }, (error, response) => (error ? reject(error) : resolve(response!.hosts.map((host) => host.id))));
    });
  } finally {
    client.close();
  }
}

export async function startCluster(t: TestContext, options: ClusterOptions): Promise<Cluster> {
  const dir = await tempDir(t, 'df-cluster-');
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());
  const names = ['scheduler', 'seed', 'client', ...Array.from({ length: options.peers }, (_, i) => `peer-${i + 1}`)];
  const tls = options.mtls ? (await createTestPki(join(dir, 'pki'), names)).identities : undefined;
  const schedulerTls = tls && { server: { tls: tls.get('scheduler') }, seedPeer: { tls: tls.get('scheduler') } };
  const scheduler = await startScheduler(t, join(dir, 'scheduler'), { ...schedulerTls, ...options.schedulerConfig });
  const common = { schedulerPort: scheduler.port, config: options.config };
  const corruptProxies = new Map<string, CorruptPieceProxy>();
  for (const name of options.corruptPieces ?? []) corruptProxies.set(name, await CorruptPieceProxy.start(t));
  const start = async (name: string, seed: boolean) => {
    const proxy = corruptProxies.get(name);
    const daemon = await startDaemon(t, dir, { ...common, name, seed, env: options.env?.[name], advertisePiecePort: proxy?.port, tls: tls?.get(name) });
    proxy?.forwardTo(daemon.ports.pieces);
    return daemon;
  };
  const seed = options.seed === false ? undefined : await start('seed', true);
  const peers = await Promise.all(Array.from({ length: options.peers }, (_, i) => start(`peer-${i + 1}`, false)));
  // Scheduling needs every host announced: a seed the scheduler does not know cannot be triggered.
  const ids = [...(seed ? [seed.hostId] : []), ...peers.map((peer) => peer.hostId)];
  await waitFor('every daemon announced to the scheduler', async () => {
    const known = new Set(await schedulerHosts(scheduler.port, tls?.get('client')).catch(() => [] as string[]));
    return ids.every((id) => known.has(id));
  }, 20_000);
  return { dir, origin, scheduler, seed, peers, corruptProxies, cacheHome: join(dir, 'dfget-cache'), tls };
}

/**
 * Composition root: builds the scheduler from a resolved config and starts it. One AbortController
 * (the caller's signal) stops it; `close` runs the ordered shutdown: stop GC, stop accepting and
 * finish gRPC calls, stop scheduling and seed calls, close seed channels, close the metrics server.
 */
import * as grpc from '@grpc/grpc-js';
import { hostname as machineHostname, networkInterfaces } from 'node:os';
import type { managerv2 } from '../api/index.ts';
import type { SchedulerConfig } from './config.ts';
import { managerAddrsOf, splitHostPort } from './config.ts';
import { ManagerLink } from './dynconfig.ts';
import { EventsReporter } from './events-reporter.ts';
import { GarbageCollector } from './gc.ts';
import { createLogger, type Logger, type LogLevel } from './log.ts';
import { createSchedulerMetrics, type SchedulerMetrics } from './metrics.ts';
import { startMetricsServer, type MetricsServer } from './metrics-server.ts';
import { Resources } from './resource/resources.ts';
import { Scheduling } from './scheduling/scheduler.ts';
import { startGrpcServer } from './service/grpc-server.ts';
import { HostService } from './service/host-service.ts';
import { PeerService } from './service/peer-service.ts';
import { loadProtos } from './service/protos.ts';
import { createGrpcSeedDownloader, type SeedDownloader } from './service/seed-peer.ts';
import { channelCredentials, loadSchedulerTls, serverCredentials } from './tls.ts';

/** How long calls in flight get to finish at shutdown before they are cut. */
export const SHUTDOWN_GRACE_MS = 5_000;

export interface RunningScheduler {
  /** The bound gRPC port (useful with `server.port: 0`). */
  readonly port: number;
  /** The bound metrics port, when metrics are enabled. */
  readonly metricsPort: number | undefined;
  readonly resources: Resources;
  readonly metrics: SchedulerMetrics;
  /** Ordered shutdown; safe to call more than once. */
  close(): Promise<void>;
  /** Resolves when the scheduler has closed (by `close` or the signal). */
  readonly closed: Promise<void>;
}

export interface StartOptions {
  readonly log?: Logger;
  readonly signal?: AbortSignal;
  /** Replaces the gRPC seed client (tests of the service layer). */
  readonly seeds?: SeedDownloader;
  readonly now?: () => number;
}

/** The address registered with the manager: advertiseIP, else listenIP unless it is a wildcard, else the first IPv4. */
function advertisedIp(config: SchedulerConfig): string {
  if (config.server.advertiseIP) return config.server.advertiseIP;
  if (config.server.listenIP !== '0.0.0.0' && config.server.listenIP !== '::') return config.server.listenIP;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return '127.0.0.1';
}

async function linkManager(config: SchedulerConfig, boundPort: number, scheduling: Scheduling, log: Logger, events: EventsReporter | undefined): Promise<ManagerLink> {
  // The manager.v2 service is in the same loaded proto root as the scheduler's own.
  const root = loadProtos().scheduler as unknown as managerv2.ProtoGrpcType;
  const managerClients = managerAddrsOf(config).map(
    (addr) =>
      new root.manager.v2.Manager(addr, grpc.credentials.createInsecure(), {
        // A manager that vanished without closing the connection is noticed by pings, not after hours.
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.keepalive_permit_without_calls': 1,
      }),
  );
  const staticLimits = scheduling.limits;
  const link = new ManagerLink({
    managerClients,
    self: {
      hostname: config.server.host ?? machineHostname(),
      ip: advertisedIp(config),
      port: config.server.port === 0 ? boundPort : config.server.advertisePort,
      idc: '',
      location: '',
      clusterId: config.manager.schedulerClusterID,
      features: ['schedule', 'preheat'],
    },
    keepAliveIntervalMs: config.manager.keepAlive.interval,
    refreshIntervalMs: config.dynconfig.refreshInterval,
    cacheDir: config.dynconfig.cacheDir,
    log: log.child({ component: 'dynconfig' }),
    events,
    onLimits: (limits, source) => {
      // A key the cluster config leaves out falls back to scheduler.yaml's value.
      const next = { ...staticLimits, ...limits };
      scheduling.setLimits(next);
      log.info('cluster config applied', { source, ...next });
    },
  });
  await link.start();
  return link;
}

export async function startScheduler(config: SchedulerConfig, options: StartOptions = {}): Promise<RunningScheduler> {
  // The schema allows only LOG_LEVELS here.
  const log = options.log ?? createLogger(config.log.level as LogLevel);
  const now = options.now ?? Date.now;
  // Before anything listens: a bad certificate path fails the start naming its key.
  const tls = await loadSchedulerTls(config);
  const protos = loadProtos();
  const resources = new Resources();
  const metrics = createSchedulerMetrics(resources);
  const s = config.scheduler;
  const scheduling = new Scheduling(
    {
      retryLimit: s.retryLimit,
      retryBackToSourceLimit: s.retryBackToSourceLimit,
      retryIntervalMs: s.retryInterval,
      filterParentLimit: s.filterParentLimit,
      candidateParentLimit: s.candidateParentLimit,
      stripes: s.stripes,
      now,
    },
    log.child({ component: 'scheduling' }),
  );
  // Only a scheduler with a manager reports its cluster's events.
  const events = managerAddrsOf(config).length > 0 ? new EventsReporter(resources, log.child({ component: 'events' }), now) : undefined;
  const daemonCredentials = channelCredentials(tls.seedPeer);
  const seeds = options.seeds ?? createGrpcSeedDownloader(protos.dfdaemon.dfdaemon.v2.DfdaemonUpload, daemonCredentials);
  const peers = new PeerService({
    resources,
    scheduling,
    metrics,
    log: log.child({ component: 'announce-peer' }),
    seeds,
    seedPeerEnabled: config.seedPeer.enable,
    backToSourceCount: s.backToSourceCount,
    now,
    events,
  });
  const hosts = new HostService({ resources, metrics, log: log.child({ component: 'hosts' }), peers, now });
  const gc = new GarbageCollector({
    resources,
    metrics,
    log: log.child({ component: 'gc' }),
    now,
    onPeerLeave: (peer) => peers.detach(peer),
    options: {
      pieceDownloadTimeoutMs: s.gc.pieceDownloadTimeout,
      peerGCIntervalMs: s.gc.peerGCInterval,
      peerTTLMs: s.gc.peerTTL,
      taskGCIntervalMs: s.gc.taskGCInterval,
      hostGCIntervalMs: s.gc.hostGCInterval,
      hostTTLMs: s.gc.hostTTL,
    },
  });

  let metricsServer: MetricsServer | undefined;
  if (config.metrics.enable) {
    const { host, port } = splitHostPort(config.metrics.addr);
    metricsServer = await startMetricsServer(host, port, metrics.registry);
  }
  let grpcServer;
  try {
    grpcServer = await startGrpcServer({
      protos,
      listenIP: config.server.listenIP,
      port: config.server.port,
      hosts,
      peers,
      log,
      credentials: { server: serverCredentials(tls.server), daemons: daemonCredentials },
    });
  } catch (error) {
    await metricsServer?.close();
    throw error;
  }
  let link: ManagerLink | undefined;
  if (managerAddrsOf(config).length > 0) {
    try {
      link = await linkManager(config, grpcServer.port, scheduling, log, events);
    } catch (error) {
      await grpcServer.close(0);
      await metricsServer?.close();
      throw error;
    }
  }
  gc.start();
  log.info('scheduler started', {
    grpc: `${config.server.listenIP}:${grpcServer.port}`,
    advertise: `${config.server.advertiseIP ?? config.server.listenIP}:${config.server.advertisePort}`,
    metrics: metricsServer ? config.metrics.addr.replace(/:\d+$/, `:${metricsServer.port}`) : 'disabled',
    seedPeer: config.seedPeer.enable,
    manager: managerAddrsOf(config).join(',') || 'none',
    mtls: [...(tls.server ? ['server.tls'] : []), ...(tls.seedPeer ? ['seedPeer.tls'] : [])],
  });

  let closing: Promise<void> | undefined;
  let markClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const close = (): Promise<void> => {
    closing ??= (async () => {
      log.info('scheduler stopping');
      // Leaving the manager first: daemons stop being sent here while calls in flight finish.
      await link?.close();
      gc.stop();
      // Scheduling loops end first so that streams waiting on them can be finished by the server.
      peers.close();
      await grpcServer.close(SHUTDOWN_GRACE_MS);
      seeds.close();
      await metricsServer?.close();
      log.info('scheduler stopped');
      markClosed();
    })();
    return closing;
  };
  if (options.signal) {
    if (options.signal.aborted) void close();
    else options.signal.addEventListener('abort', () => void close(), { once: true });
  }
  return { port: grpcServer.port, metricsPort: metricsServer?.port, resources, metrics, close, closed };
}

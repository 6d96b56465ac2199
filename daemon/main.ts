/**
 * dfdaemon's composition root: builds every part from the resolved config, starts them in order,
 * and on the one AbortSignal stops them in reverse: leave the schedulers, stop taking requests,
 * stop the downloads, stop serving pieces, close the engine.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ShuttingDownError, tolerantService } from '../api/index.ts';
import { createEngine, createPieceSender, nativeReceiveToFileKeepAlive, TokenBucket } from '../engine/index.ts';
import type { DfdaemonConfig } from './config.ts';
import { DaemonDynconfig } from './dynconfig.ts';
import { DaemonStartError } from './errors.ts';
import { StorageGc } from './gc.ts';
import { advertisedPiecePort, hostMessage, identityOf, type BoundPorts } from './host.ts';
import { listenError, serveHealth, serveMetrics, type HttpListener } from './http/servers.ts';
import type { Logger } from './log.ts';
import { createDaemonMetrics } from './metrics.ts';
import { P2pDownloads } from './p2p/strategy.ts';
import { PieceClient } from './p2p/piece-client.ts';
import { UploadClients } from './p2p/piece-collector.ts';
import { bindServer, grpc, loadProtos, SERVER_OPTIONS, serverCredentials, shutdownServer } from './rpc/grpc.ts';
import { downloadHandlers, uploadHandlers, type ServiceContext } from './rpc/services.ts';
import { prepareSocketPath } from './rpc/socket.ts';
import { warmUpCodecs } from './rpc/warm-up.ts';
import { Announcer } from './scheduler/announcer.ts';
import { SchedulerClients } from './scheduler/clients.ts';
import { TaskManager } from './tasks/task-manager.ts';
import { TaskService } from './tasks/task-service.ts';
import { loadDaemonTls } from './tls.ts';
import { PieceServer } from './upload/piece-server.ts';
import { startProxy } from './proxy/index.ts';

export interface DaemonOptions {
  readonly config: DfdaemonConfig;
  readonly log: Logger;
  /** Aborting it shuts the daemon down. */
  readonly signal: AbortSignal;
}

export interface RunningDaemon {
  readonly ports: BoundPorts;
  readonly hostId: string;
  /** Resolves when the daemon has stopped after the signal. */
  readonly stopped: Promise<void>;
}

const bytesPerSecond = (bitsPerSecond: number) => bitsPerSecond / 8;

/** One daemon per storage dir: a second would wipe or rewrite the first one's tasks. */
async function lockStorage(dir: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'dfdaemon.pid');
  const holder = Number(await readFile(path, 'utf8').catch(() => ''));
  if (holder && holder !== process.pid) {
    let alive = false;
    try {
      process.kill(holder, 0);
      alive = true;
    } catch (error) {
      alive = (error as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (alive) throw new DaemonStartError(`another dfdaemon (pid ${holder}) uses the storage dir ${dir} (storage.dir)`);
  }
  await writeFile(path, String(process.pid));
  return () => rm(path, { force: true });
}

export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const { config, log, signal } = options;
  const identity = identityOf(config);
  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) {
      await Promise.resolve()
        .then(step)
        .catch((error: unknown) => log.warn('shutdown step failed', { error }));
    }
  };
  try {
    // Before anything listens or locks: a bad certificate path fails the start naming its key.
    const tls = await loadDaemonTls(config);
    const unlock = await lockStorage(config.storage.dir);
    cleanups.push(unlock);
    const engine = createEngine({
      storageDir: config.storage.dir,
      concurrentPieceCount: config.download.concurrentPieceCount,
      pieceTimeoutMs: config.download.pieceTimeout,
      retryWindowMs: config.download.retryWindow,
      keepAlive: config.download.keepAlive,
    });
    cleanups.push(() => engine.close());
    if (!config.storage.keep) await engine.store.clear();
    const metrics = createDaemonMetrics();

    const pieceServer = new PieceServer({
      tasks: engine.tasks,
      sender: createPieceSender(),
      limiter: new TokenBucket({ bytesPerSecond: bytesPerSecond(config.upload.bandwidthLimit) }),
      concurrentUploadLimit: config.upload.concurrentUploadLimit,
      metrics,
      log,
      disableShared: config.upload.disableShared,
      tls: tls['storage.server'],
    });
    const piecesPort = await pieceServer.listen(config.storage.server.ip, config.storage.server.tcpPort).catch((error: unknown) => {
      throw listenError('piece server', 'storage.server.tcpPort', config.storage.server.ip, config.storage.server.tcpPort, error);
    });
    cleanups.push(() => pieceServer.close());

    // With a manager, the schedulers come from it (or its cached answer), not from scheduler.addrs.
    const schedulers = new SchedulerClients(config.manager.addrs.length > 0 ? [] : config.scheduler.addrs, tls.scheduler);
    cleanups.push(() => schedulers.close());
    let announcer: Announcer | undefined;
    // The manager's cluster config for requests that name no piece concurrency (dynconfig sets it).
    let clusterPieceDefaults: { concurrentPieceCount?: number | undefined } = {};
    if (config.manager.addrs.length > 0) {
      const dynconfig = new DaemonDynconfig({
        managerAddrs: config.manager.addrs,
        host: { hostname: identity.hostname, ip: identity.ip, idc: config.host.idc, location: config.host.location, schedulerClusterId: config.host.schedulerClusterID },
        refreshIntervalMs: config.dynconfig.refreshInterval,
        storageDir: config.storage.dir,
        schedulers,
        log,
        // A scheduler new to the list learns about this host before the first task reaches it.
        onSchedulersChanged: () => void announcer?.announce(),
        seed: identity.seed,
        onClientConfig: (client) => {
          pieceServer.setConcurrentUploadLimit(client.loadLimit ?? config.upload.concurrentUploadLimit);
          clusterPieceDefaults = { concurrentPieceCount: client.concurrentPieceCount };
        },
      });
      await dynconfig.start();
      cleanups.push(() => dynconfig.close());
    }
    const pieceClient = new PieceClient({
      timeoutMs: config.download.pieceTimeout,
      keepAlive: config.download.keepAlive && nativeReceiveToFileKeepAlive(),
      tls: tls['upload.client'],
    });
    cleanups.push(() => pieceClient.close());
    const downloadLimiter = new TokenBucket({ bytesPerSecond: bytesPerSecond(config.download.bandwidthLimit) });
    const uploadClients = new UploadClients({ tls: tls['upload.client'] });
    cleanups.push(() => uploadClients.close());
    const p2p = new P2pDownloads({
      config,
      identity,
      schedulers,
      uploadClients,
      pieceClient,
      limiter: downloadLimiter,
      metrics,
      log,
      onHostUnknown: () => void announcer?.announce(),
    });
    const manager = new TaskManager({
      engine,
      strategyFor: (input) => p2p.strategyFor(input),
      metrics,
      log,
      newPeerId: identity.newPeerId,
      signal,
      pieceDefaults: () => clusterPieceDefaults,
    });
    cleanups.push(async () => {
      manager.abortAll(new ShuttingDownError('dfdaemon is shutting down'));
      await manager.idle();
    });
    const service = new TaskService({ engine, manager, log, onDeleted: (taskId) => void p2p.leave(taskId) });

    let ports: BoundPorts = { upload: 0, pieces: piecesPort, proxy: 0, metrics: 0, health: 0 };
    let lastSample = { at: performance.now(), bytes: 0 };
    let lastLoad = { txBandwidth: 0, uploadContentLength: 0, concurrentUploadPieceCount: 0, uploadTcpConnectionCount: 0 };
    // The upload rate over the last announce interval; only the announcer starts a new interval.
    const measure = () => {
      const now = { at: performance.now(), bytes: pieceServer.uploadedBytes };
      const seconds = Math.max(0.001, (now.at - lastSample.at) / 1000);
      const bytes = now.bytes - lastSample.bytes;
      lastSample = now;
      lastLoad = {
        txBandwidth: Math.round((bytes * 8) / seconds),
        uploadContentLength: bytes,
        concurrentUploadPieceCount: pieceServer.active,
        uploadTcpConnectionCount: pieceServer.active,
      };
      return lastLoad;
    };
    const hostNow = () => hostMessage(config, identity, ports, { ...lastLoad, concurrentUploadPieceCount: pieceServer.active });
    const context: ServiceContext = { service, log, hostId: identity.hostId, ip: identity.ip, pieceServerPort: () => advertisedPiecePort(config, piecesPort), seed: identity.seed, shared: !config.upload.disableShared, host: hostNow };
    const protos = loadProtos();
    warmUpCodecs(protos);

    const upload = new grpc.Server(SERVER_OPTIONS);
    upload.addService(tolerantService(protos.dfdaemon.DfdaemonUpload.service), uploadHandlers(context));
    const uploadAddress = `${config.upload.server.ip.includes(':') ? `[${config.upload.server.ip}]` : config.upload.server.ip}:${config.upload.server.port}`;
    const uploadPort = await bindServer(upload, uploadAddress, serverCredentials(tls['upload.server'])).catch((error: unknown) => {
      throw listenError('upload gRPC server', 'upload.server.port', config.upload.server.ip, config.upload.server.port, error);
    });
    cleanups.push(() => shutdownServer(upload));

    const socketPath = config.download.server.socketPath;
    await prepareSocketPath(socketPath);
    const download = new grpc.Server(SERVER_OPTIONS);
    download.addService(tolerantService(protos.dfdaemon.DfdaemonDownload.service), downloadHandlers(context));
    await bindServer(download, `unix:${socketPath}`).catch((error: unknown) => {
      throw new DaemonStartError(`cannot listen on ${socketPath} (download.server.socketPath): ${(error as Error).message}`, { cause: error });
    });
    cleanups.push(async () => {
      await shutdownServer(download);
      await rm(socketPath, { force: true });
    });

    const listeners: HttpListener[] = [];
    cleanups.push(() => Promise.all(listeners.map((listener) => listener.close())).then(() => {}));
    const health = await serveHealth(config.health.server.ip, config.health.server.port);
    listeners.push(health);
    const metricsListener = await serveMetrics(config.metrics.server.ip, config.metrics.server.port, metrics.registry);
    listeners.push(metricsListener);
    const proxy = await startProxy({ config: config.proxy, manager, engine, metrics, log });
    listeners.push(proxy);
    ports = { upload: uploadPort, pieces: piecesPort, proxy: proxy.port, metrics: metricsListener.port, health: health.port };

    announcer = new Announcer({
      clients: schedulers,
      hostOf: () => hostMessage(config, identity, ports, measure()),
      intervalMs: config.scheduler.announceInterval,
      log,
    });
    announcer.start();
    // Announced last-in, left first-out: the schedulers stop sending children before we stop serving.
    const started = announcer;
    cleanups.push(() => started.leave());

    const gc = new StorageGc({
      tasks: engine.tasks,
      dir: config.storage.dir,
      policy: {
        intervalMs: config.gc.interval,
        taskTtlMs: config.gc.policy.taskTTL,
        diskHighThresholdPercent: config.gc.policy.diskHighThresholdPercent,
        diskLowThresholdPercent: config.gc.policy.diskLowThresholdPercent,
      },
      log,
      onEvicted: (taskId) => void p2p.leave(taskId),
    });
    gc.start();
    cleanups.push(() => gc.stop());

    // Which links are mutual TLS (key paths only; the material never goes to a log).
    const mtls = Object.entries(tls).flatMap(([path, material]) => (material ? [path] : []));
    log.info('dfdaemon ready', { hostId: identity.hostId, seed: identity.seed, socketPath, ports, storageDir: config.storage.dir, mtls });
    const stopped = new Promise<void>((resolve) => {
      const stop = () => {
        log.info('dfdaemon stopping');
        // Downloads first: their streams to dfget and to children then end, and the servers can close.
        manager.abortAll(new ShuttingDownError('dfdaemon is shutting down'));
        void cleanup().then(() => {
          log.info('dfdaemon stopped');
          resolve();
        });
      };
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    });
    return { ports, hostId: identity.hostId, stopped };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

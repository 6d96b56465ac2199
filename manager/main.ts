/**
 * Composition root: opens (and migrates) the database, builds the REST API and listens. One
 * AbortController (the caller's signal) stops it; `close` runs the ordered shutdown: stop accepting
 * requests and finish those in flight, then close the database.
 */
import { createLogger, loadTlsMaterial, MetricsRegistry, type Logger, type LogLevel } from '../api/index.ts';
import { readFile } from 'node:fs/promises';
import { bootstrap } from './bootstrap.ts';
import type { ManagerConfig } from './config.ts';
import type { ManagerContext } from './context.ts';
import { startJobs, type RunningJobs } from './jobs/service.ts';
import { buildApp, type RoutePlugin } from './rest/app.ts';
import { RESOURCE_ROUTES } from './rest/routes/index.ts';
import { consoleRoutes } from './rest/routes/console.ts';
import { jobRoutes } from './rest/routes/jobs.ts';
import { eventRoutes } from './rest/routes/events.ts';
import { taskRoutes } from './rest/routes/tasks.ts';
import { metricsRoutes } from './metrics.ts';
import { startGrpcServer, type ManagerGrpcServer } from './rpc/server.ts';
import { openStore } from './store/database.ts';

export interface RunningManager {
  /** The bound REST port (useful with `server.rest.port: 0`). */
  readonly restPort: number;
  /** The bound manager.v2 gRPC port (useful with `server.grpc.port: 0`). */
  readonly grpcPort: number;
  readonly context: ManagerContext;
  /** Ordered shutdown; safe to call more than once. */
  close(): Promise<void>;
  /** Resolves when the manager has closed (by `close` or the signal). */
  readonly closed: Promise<void>;
}

export interface StartOptions {
  readonly log?: Logger;
  readonly signal?: AbortSignal;
  readonly now?: () => number;
}

/** Every REST resource, in the order they are registered. */
export const ROUTES: readonly RoutePlugin[] = [metricsRoutes, ...RESOURCE_ROUTES, jobRoutes, taskRoutes, eventRoutes, consoleRoutes];

export async function startManager(config: ManagerConfig, options: StartOptions = {}): Promise<RunningManager> {
  const log = options.log ?? createLogger(config.log.level as LogLevel);
  // Before anything opens or listens: a bad certificate path fails the start naming its key.
  const schedulerTls = await loadTlsMaterial('scheduler.tls', config.scheduler.tls, (file) => readFile(file, 'utf8'));
  const store = await openStore(config.database.url, config.server.dataDir);
  const context: ManagerContext = { config, store, log, metrics: new MetricsRegistry(), now: options.now ?? Date.now };
  let app;
  let restPort: number;
  let grpcServer: ManagerGrpcServer | undefined;
  let jobs: RunningJobs;
  try {
    // Root user and default cluster on first start; nothing on later ones.
    await bootstrap(context);
    app = await buildApp(context, { routes: ROUTES });
    await app.listen({ host: config.server.rest.listenIP, port: config.server.rest.port });
    restPort = (app.server.address() as { port: number }).port;
    grpcServer = await startGrpcServer(context);
    jobs = await startJobs(context, {}, schedulerTls);
  } catch (error) {
    await grpcServer?.close();
    await app?.close();
    await store.close();
    throw error;
  }
  const grpc = grpcServer;
  log.info('manager started', { rest: `${config.server.rest.listenIP}:${restPort}`, grpc: `${config.server.grpc.listenIP}:${grpc.port}`, database: store.description });

  let closing: Promise<void> | undefined;
  let markClosed: () => void = () => {};
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const close = (): Promise<void> => {
    closing ??= (async () => {
      log.info('manager stopping');
      await app.close();
      await grpc.close();
      // Tasks in flight are handed back (their leases end now) before the database closes.
      await jobs.close();
      await store.close();
      log.info('manager stopped');
      markClosed();
    })();
    return closing;
  };
  if (options.signal) {
    if (options.signal.aborted) void close();
    else options.signal.addEventListener('abort', () => void close(), { once: true });
  }
  return { restPort, grpcPort: grpc.port, context, close, closed };
}

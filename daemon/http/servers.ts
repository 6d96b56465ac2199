/**
 * The daemon's small HTTP servers (health, metrics) and the checks every
 * listener shares: a port that is taken fails the start with a message naming the config key.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { METRICS_CONTENT_TYPE, type MetricsRegistry } from '../../api/index.ts';
import { AddressInUseError, DaemonStartError } from '../errors.ts';
import { sendText } from './respond.ts';

export interface HttpListener {
  readonly port: number;
  close(): Promise<void>;
}

/** Why a listen failed, as a start error naming what the user configured. */
export function listenError(what: string, key: string, host: string, port: number, error: unknown): AddressInUseError | DaemonStartError {
  const code = (error as NodeJS.ErrnoException)?.code;
  const where = `cannot listen on ${host}:${port} for the ${what} (${key})`;
  if (code === 'EADDRINUSE') return new AddressInUseError(`${where}: the port is already in use`, { cause: error });
  const reason = code === 'EACCES' ? 'permission denied' : ((error as Error)?.message ?? String(error));
  return new DaemonStartError(`${where}: ${reason}`, { cause: error });
}

export async function listen(server: Server, what: string, key: string, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (error: unknown) => reject(listenError(what, key, host, port, error));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

async function serve(handler: RequestListener, what: string, key: string, host: string, port: number): Promise<HttpListener> {
  const server = createServer(handler);
  const bound = await listen(server, what, key, host, port);
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function serveHealth(host: string, port: number): Promise<HttpListener> {
  return serve(
    (req, res) => (req.url?.split('?')[0] === '/healthy' ? sendText(res, 200, 'OK') : sendText(res, 404, 'not found; try /healthy\n')),
    'health server',
    'health.server.port',
    host,
    port,
  );
}

export function serveMetrics(host: string, port: number, registry: MetricsRegistry): Promise<HttpListener> {
  return serve(
    (req, res) =>
      req.url?.split('?')[0] === '/metrics'
        ? sendText(res, 200, registry.render(), METRICS_CONTENT_TYPE)
        : sendText(res, 404, 'not found; try /metrics\n'),
    'metrics server',
    'metrics.server.port',
    host,
    port,
  );
}

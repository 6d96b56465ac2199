/**
 * The proxy port (default 127.0.0.1:4001): one HTTP server that tells the three kinds of request
 * apart and hands each to its handler. Origin-form (`GET /v2/...`) is the registry mirror;
 * absolute-form (`GET http://host/...`) is the HTTP proxy; `CONNECT` is a tunnel, intercepted when
 * a CA is configured. A malformed or refused request gets a 4xx and the daemon goes on.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ShuttingDownError } from '../../api/index.ts';
import { ClientGoneError } from '../errors.ts';
import { listen } from '../http/servers.ts';
import type { Logger } from '../log.ts';
import type { DaemonMetrics } from '../metrics.ts';
import { ClientFilter } from './client-filter.ts';
import { handleConnect, type CertificateSource } from './connect.ts';
import type { ProxyContext } from './context.ts';
import { BadProxyRequestError, ProxyClientDeniedError, ProxyHeadersTooLargeError, ProxyRequestError, refuseSocket, sendProxyError } from './errors.ts';
import { handleForward } from './forward-proxy.ts';
import { handleMirror } from './registry-mirror.ts';

/** Node's default; bigger headers get 431 before any handler runs. */
const MAX_HEADER_BYTES = 16 * 1024;

export interface ProxyServerOptions {
  readonly context: ProxyContext;
  readonly allowedClients: readonly string[];
  readonly certificates: CertificateSource | undefined;
  readonly metrics: DaemonMetrics;
  readonly log: Logger;
}

export class ProxyServer {
  readonly #server: Server;
  readonly #options: ProxyServerOptions;
  readonly #filter: ClientFilter;
  /** Decrypted CONNECT tunnels and the origin their requests go to. */
  readonly #intercepted = new WeakMap<Socket, string>();
  readonly #active = new Set<AbortController>();

  constructor(options: ProxyServerOptions) {
    this.#options = options;
    this.#filter = new ClientFilter(options.allowedClients);
    this.#server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => this.#onRequest(req, res));
    this.#server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => this.#onConnect(req, socket, head));
    this.#server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      options.log.debug('malformed proxy request', { error: error.code ?? error.message });
      const refusal =
        error.code === 'HPE_HEADER_OVERFLOW'
          ? new ProxyHeadersTooLargeError(`request headers are larger than ${MAX_HEADER_BYTES} bytes`)
          : new BadProxyRequestError('UNSUPPORTED', `malformed HTTP request: ${error.code ?? error.message}`);
      // A response already in progress on this socket leaves no room for another status line.
      if (!(socket as Socket & { _httpMessage?: unknown })._httpMessage) refuseSocket(socket, refusal, { body: false });
      else socket.destroy();
    });
  }

  /** Listens; the error names `proxy.server.port` when the port is taken. */
  listen(host: string, port: number): Promise<number> {
    return listen(this.#server, 'proxy', 'proxy.server.port', host, port);
  }

  close(): Promise<void> {
    for (const controller of this.#active) controller.abort(new ShuttingDownError('dfdaemon is shutting down'));
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const { metrics, log, context } = this.#options;
    const origin = this.#intercepted.get(req.socket);
    const controller = new AbortController();
    this.#active.add(controller);
    res.on('close', () => {
      this.#active.delete(controller);
      if (!res.writableFinished) controller.abort(new ClientGoneError('the client went away'));
    });
    metrics.proxyRequests.inc();
    const work = async () => {
      if (origin === undefined && !this.#filter.allows(req.socket.remoteAddress)) {
        throw new ProxyClientDeniedError(`${req.socket.remoteAddress} may not use this proxy (proxy.server.allowedClients)`);
      }
      const url = req.url ?? '';
      if (origin !== undefined) return handleForward(context, req, res, new URL(url, origin), controller.signal);
      if (url.startsWith('/')) return handleMirror(context, req, res, controller.signal);
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        throw new BadProxyRequestError('UNSUPPORTED', `${JSON.stringify(url.slice(0, 120))} is neither a path nor an absolute URL`);
      }
      return handleForward(context, req, res, target, controller.signal);
    };
    work().catch((error: unknown) => {
      if (controller.signal.aborted && res.destroyed) return;
      metrics.proxyRequestFailures.inc();
      if (error instanceof ProxyRequestError) log.debug('proxy request refused', { method: req.method, url: req.url?.slice(0, 200), error: error.message });
      else log.warn('proxy request failed', { method: req.method, url: req.url?.slice(0, 200), error });
      sendProxyError(res, error, { head: req.method === 'HEAD' });
    });
  }

  #onConnect(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const { log, certificates } = this.#options;
    if (!this.#filter.allows(socket.remoteAddress)) {
      refuseSocket(socket, new ProxyClientDeniedError(`${socket.remoteAddress} may not use this proxy (proxy.server.allowedClients)`), { body: false });
      return;
    }
    this.#options.metrics.proxyRequests.inc();
    handleConnect(
      {
        certificates,
        log,
        serveIntercepted: (tls: TLSSocket, origin: string) => {
          this.#intercepted.set(tls, origin);
          this.#server.emit('connection', tls);
        },
      },
      req,
      socket,
      head,
    );
  }
}

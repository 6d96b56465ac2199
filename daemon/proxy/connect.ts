/**
 * `CONNECT host:port`: without a CA configured, a plain TCP tunnel (the proxy never sees inside);
 * with `proxy.server.caCert`/`caKey`, the tunnel is intercepted: the proxy answers TLS itself with a
 * leaf certificate for that host signed by the CA, and the requests inside are served like
 * proxied ones (`https://host:port/...`), so matching downloads go through P2P too.
 */
import type { IncomingMessage } from 'node:http';
import { connect as connectTcp, type Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Logger } from '../log.ts';
import { BadProxyRequestError, InterceptError, refuseSocket, UpstreamError } from './errors.ts';

export interface CertificateSource {
  secureContextFor(host: string): Promise<SecureContext>;
}

export interface ConnectOptions {
  readonly certificates: CertificateSource | undefined;
  /** Hands an intercepted, decrypted tunnel to the HTTP server, with the origin its requests go to. */
  readonly serveIntercepted: (socket: TLSSocket, origin: string) => void;
  readonly log: Logger;
  readonly connectTimeoutMs?: number;
}

const AUTHORITY = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

export function handleConnect(options: ConnectOptions, req: IncomingMessage, client: Socket, head: Buffer): void {
  client.on('error', () => client.destroy());
  const match = AUTHORITY.exec(req.url ?? '');
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) return refuseSocket(client, new BadProxyRequestError('UNSUPPORTED', `CONNECT needs host:port, got ${JSON.stringify((req.url ?? '').slice(0, 120))}`));
  const host = match[1]!.replace(/^\[|\]$/g, '');
  if (head.length > 0) client.unshift(head);
  if (options.certificates) return intercept(options, options.certificates, client, host, port);
  tunnel(options, client, host, port);
}

function tunnel(options: ConnectOptions, client: Socket, host: string, port: number): void {
  const upstream = connectTcp({ host, port, timeout: options.connectTimeoutMs ?? 10_000 });
  const fail = (error: Error) => {
    options.log.debug('CONNECT tunnel failed', { host, port, error });
    upstream.destroy();
    const reason = error instanceof UpstreamError ? error : new UpstreamError(`cannot reach ${host}:${port}: ${(error as NodeJS.ErrnoException).code ?? error.message}`, { cause: error });
    refuseSocket(client, reason);
  };
  upstream.once('error', fail);
  upstream.once('timeout', () => fail(new UpstreamError(`cannot reach ${host}:${port}: connect timed out`)));
  upstream.once('connect', () => {
    upstream.off('error', fail);
    upstream.setTimeout(0);
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    upstream.pipe(client);
    client.pipe(upstream);
  });
}

function intercept(options: ConnectOptions, certificates: CertificateSource, client: Socket, host: string, port: number): void {
  certificates.secureContextFor(host).then(
    (secureContext) => {
      if (client.destroyed) return;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      const tls = new TLSSocket(client, { isServer: true, secureContext, ALPNProtocols: ['http/1.1'] });
      tls.on('error', (error) => {
        options.log.debug('intercepted tunnel failed', { host, port, error });
        tls.destroy();
      });
      options.serveIntercepted(tls, `https://${host.includes(':') ? `[${host}]` : host}${port === 443 ? '' : `:${port}`}`);
    },
    (error: unknown) => {
      options.log.warn('no certificate for an intercepted tunnel', { host, error });
      refuseSocket(client, new InterceptError(`cannot make a certificate for ${host}: ${(error as Error).message}`, { cause: error }));
    },
  );
}

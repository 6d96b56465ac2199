/**
 * gRPC plumbing shared by the daemon's services and clients: the protos loaded once with api's
 * loader options (which the generated types assume), and errors turned into statuses through
 * api's code table, with the error's code and an origin's answer in `df-error-bin` trailers so a
 * client (dfget) can tell the user exactly what the origin said, as Dragonfly's errordetails do.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { anyNameInCluster, DfError, PROTO_DIR, PROTO_FILES, PROTO_LOADER_OPTIONS, rejectUndecodable, toGrpcError, type dfdaemonv2, type schedulerv2, type TlsMaterial } from '../../api/index.ts';

export { grpc };

export interface Protos {
  readonly dfdaemon: dfdaemonv2.ProtoGrpcType['dfdaemon']['v2'];
  readonly scheduler: schedulerv2.ProtoGrpcType['scheduler']['v2'];
}

let protos: Protos | undefined;

export function loadProtos(): Protos {
  if (protos) return protos;
  const definition = protoLoader.loadSync(
    PROTO_FILES.map((file) => join(PROTO_DIR, file)),
    { ...PROTO_LOADER_OPTIONS, includeDirs: [...PROTO_LOADER_OPTIONS.includeDirs] },
  );
  const loaded = grpc.loadPackageDefinition(definition) as unknown as dfdaemonv2.ProtoGrpcType & schedulerv2.ProtoGrpcType;
  protos = { dfdaemon: loaded.dfdaemon.v2, scheduler: loaded.scheduler.v2 };
  return protos;
}

/** What `df-error-bin` carries: the stable code, and for origin failures what the origin answered. */
export interface ErrorDetail {
  readonly code: string;
  readonly message: string;
  readonly statusCode?: number | undefined;
  readonly header?: Readonly<Record<string, string>> | undefined;
}

export const ERROR_DETAIL_KEY = 'df-error-bin';

/** A grpc-js error object for any thrown value: status from api's table, detail in trailers. */
export function grpcErrorOf(error: unknown): Partial<grpc.StatusObject> & Error {
  const status = toGrpcError(error);
  const metadata = new grpc.Metadata();
  if (error instanceof DfError) {
    const origin = error as { status?: unknown; headers?: unknown };
    const detail: ErrorDetail = {
      code: error.code,
      message: error.message,
      statusCode: typeof origin.status === 'number' ? origin.status : undefined,
      header: typeof origin.headers === 'object' && origin.headers !== null ? (origin.headers as Record<string, string>) : undefined,
    };
    metadata.set(ERROR_DETAIL_KEY, Buffer.from(JSON.stringify(detail)));
  }
  return Object.assign(status, { metadata });
}

/** The detail a server put in the trailers of a failed call, if any. */
export function errorDetailOf(error: unknown): ErrorDetail | undefined {
  const metadata = (error as { metadata?: unknown })?.metadata;
  if (!(metadata instanceof grpc.Metadata)) return undefined;
  const value = metadata.get(ERROR_DETAIL_KEY)[0];
  if (!Buffer.isBuffer(value)) return undefined;
  try {
    const parsed = JSON.parse(value.toString('utf8')) as ErrorDetail;
    return typeof parsed.code === 'string' && typeof parsed.message === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Server options for every daemon gRPC server: bounded messages, keepalive so dead peers are
 * noticed, undecodable requests answered INVALID_ARGUMENT (services added through tolerantService).
 */
export const SERVER_OPTIONS: grpc.ServerOptions = Object.freeze<grpc.ServerOptions>({
  interceptors: [rejectUndecodable],
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
});

/**
 * Client options: keepalive pings during calls notice a peer or scheduler that vanished without a
 * FIN; not more often than servers tolerate by default, and not without calls.
 */
export const CLIENT_OPTIONS: grpc.ChannelOptions = Object.freeze({
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 2_000,
});

/** Server credentials: mutual TLS (a client certificate chaining to the CA is required) or none. */
export function serverCredentials(tls: TlsMaterial | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(Buffer.from(tls.ca), [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }], true);
}

/** Channel credentials: mutual TLS (the server must chain to the CA; its name is not checked, api/tls.ts) or none. */
export function channelCredentials(tls: TlsMaterial | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(Buffer.from(tls.ca), Buffer.from(tls.key), Buffer.from(tls.cert), { checkServerIdentity: anyNameInCluster });
}

/**
 * Binds a server; resolves the port actually bound (port 0 picks one). grpc-js names the listen
 * failure (EADDRINUSE, ...) only inside its message: the errno code is copied to `code` so callers
 * tell a taken port from other failures the way they do for node:net servers.
 */
export function bindServer(server: grpc.Server, address: string, credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => {
      if (!error) return resolve(port);
      const code = /\b(EADDRINUSE|EADDRNOTAVAIL|EACCES)\b/.exec(error.message)?.[1];
      reject(code && (error as NodeJS.ErrnoException).code === undefined ? Object.assign(error, { code }) : error);
    });
  });
}

/** Graceful shutdown, forced after `graceMs` (streams such as SyncPieces may never end by themselves). */
export async function shutdownServer(server: grpc.Server, graceMs = 2_000): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

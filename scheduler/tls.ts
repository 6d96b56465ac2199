/**
 * The scheduler's TLS material (config `server.tls`, `seedPeer.tls`), read once at start; a bad
 * path or PEM fails the start naming the key (api/tls.ts). Off by default.
 */
import * as grpc from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import { anyNameInCluster, loadTlsMaterial, type TlsMaterial } from '../api/index.ts';
import type { SchedulerConfig } from './config.ts';

export interface SchedulerTls {
  readonly server: TlsMaterial | undefined;
  readonly seedPeer: TlsMaterial | undefined;
}

const readText = (file: string) => readFile(file, 'utf8');

export async function loadSchedulerTls(config: SchedulerConfig): Promise<SchedulerTls> {
  const [server, seedPeer] = await Promise.all([loadTlsMaterial('server.tls', config.server.tls, readText), loadTlsMaterial('seedPeer.tls', config.seedPeer.tls, readText)]);
  return Object.freeze({ server, seedPeer });
}

/** Mutual TLS (a client certificate chaining to the CA required) or none. */
export function serverCredentials(tls: TlsMaterial | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(Buffer.from(tls.ca), [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }], true);
}

/** Mutual TLS to a daemon (chain to the CA checked, name not: api/tls.ts) or none. */
export function channelCredentials(tls: TlsMaterial | undefined): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(Buffer.from(tls.ca), Buffer.from(tls.key), Buffer.from(tls.cert), { checkServerIdentity: anyNameInCluster });
}

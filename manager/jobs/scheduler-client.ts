/**
 * The manager as a client of its schedulers: which scheduler of a cluster owns a task (rendezvous
 * hashing over the cluster's active schedulers, the rule daemons use, so the preheat lands where
 * later pulls ask), and the PreheatTask stream. Channels are kept per address and closed with the
 * runner.
 */
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { Kysely } from 'kysely';
import { anyNameInCluster, ownerOf, PROTO_FILES, PROTO_LOADER_OPTIONS, type schedulerv2, type TlsMaterial } from '../../api/index.ts';
import type { Database } from '../store/schema.ts';
import { PreheatNoSchedulerError } from './errors.ts';

let loaded: schedulerv2.ProtoGrpcType | undefined;

function protos(): schedulerv2.ProtoGrpcType {
  if (!loaded) {
    const definition = loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, includeDirs: [...PROTO_LOADER_OPTIONS.includeDirs] });
    loaded = grpc.loadPackageDefinition(definition) as unknown as schedulerv2.ProtoGrpcType;
  }
  return loaded;
}

/** The address daemons use for a scheduler: `ip:port`, IPv6 in brackets. */
export function schedulerAddress(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The addresses of the active schedulers of `clusterId`. */
export async function activeSchedulers(db: Kysely<Database>, clusterId: number): Promise<string[]> {
  const rows = await db.selectFrom('schedulers').select(['ip', 'port']).where('scheduler_cluster_id', '=', clusterId).where('state', '=', 'active').execute();
  return rows.map((row) => schedulerAddress(row.ip, row.port));
}

/** The address of the active scheduler of `clusterId` that owns `taskId`. */
export async function schedulerFor(db: Kysely<Database>, clusterId: number, taskId: string): Promise<string> {
  const owner = ownerOf(taskId, await activeSchedulers(db, clusterId));
  if (owner === undefined) throw new PreheatNoSchedulerError(`scheduler cluster ${clusterId} has no active scheduler`);
  return owner;
}

export class SchedulerClients {
  private readonly clients = new Map<string, schedulerv2.SchedulerClient>();
  private readonly credentials: grpc.ChannelCredentials;

  /** `tls`: config scheduler.tls, mutual TLS to every scheduler (chain to the CA checked, name not: api/tls.ts). */
  constructor(tls?: TlsMaterial | undefined) {
    this.credentials = tls
      ? grpc.credentials.createSsl(Buffer.from(tls.ca), Buffer.from(tls.key), Buffer.from(tls.cert), { checkServerIdentity: anyNameInCluster })
      : grpc.credentials.createInsecure();
  }

  client(address: string): schedulerv2.SchedulerClient {
    let client = this.clients.get(address);
    if (!client) {
      const { Scheduler } = protos().scheduler.v2;
      client = new Scheduler(address, this.credentials);
      this.clients.set(address, client);
    }
    return client;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

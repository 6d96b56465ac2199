/**
 * Seed peers and peers as the API lists them: rows of `hosts` (type `seed` or `normal`), written by
 * the gRPC service from what schedulers report.
 */
import type { Kysely } from 'kysely';
import { RecordNotFoundError } from '../errors.ts';
import { parseJson, type Page, type Paged } from './query.ts';
import type { Database, Host } from './schema.ts';
import type { MachineFilter } from './schedulers.ts';

export const HOST_TYPES = Object.freeze({ seedPeer: 'seed', peer: 'normal' });
export type HostType = (typeof HOST_TYPES)[keyof typeof HOST_TYPES];

export interface HostView {
  id: number;
  host_id: string;
  type: string;
  hostname: string;
  ip: string;
  port: number;
  download_port: number;
  idc: string | null;
  location: string | null;
  version: string | null;
  state: string;
  stats: unknown;
  scheduler_cluster_id: number;
  created_at: string;
  updated_at: string;
}

export function hostView(row: Host): HostView {
  return {
    id: row.id,
    host_id: row.host_id,
    type: row.type,
    hostname: row.hostname,
    ip: row.ip,
    port: row.port,
    download_port: row.download_port,
    idc: row.idc,
    location: row.location,
    version: row.version,
    state: row.state,
    stats: parseJson<unknown>(row.stats, {}),
    scheduler_cluster_id: row.scheduler_cluster_id,
    created_at: new Date(row.first_seen_at).toISOString(),
    updated_at: new Date(row.last_seen_at).toISOString(),
  };
}

export async function listHosts(db: Kysely<Database>, type: HostType, filter: MachineFilter, page: Page): Promise<Paged<Host>> {
  let query = db.selectFrom('hosts').where('type', '=', type);
  if (filter.clusterId !== undefined) query = query.where('scheduler_cluster_id', '=', filter.clusterId);
  if (filter.state !== undefined) query = query.where('state', '=', filter.state);
  if (filter.hostname !== undefined) query = query.where('hostname', '=', filter.hostname);
  if (filter.ip !== undefined) query = query.where('ip', '=', filter.ip);
  const [items, count] = await Promise.all([
    query.selectAll().orderBy('id').limit(page.limit).offset(page.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
  ]);
  return { items, total: Number(count.total) };
}

export async function getHost(db: Kysely<Database>, type: HostType, id: number): Promise<Host> {
  const row = await db.selectFrom('hosts').selectAll().where('type', '=', type).where('id', '=', id).executeTakeFirst();
  if (!row) throw new RecordNotFoundError(`${type === 'seed' ? 'seed peer' : 'peer'} ${id}`);
  return row;
}

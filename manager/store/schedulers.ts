/** Schedulers as the API lists them (they are written by the gRPC service as they register). */
import type { Kysely } from 'kysely';
import { RecordNotFoundError } from '../errors.ts';
import { parseJson, type Page, type Paged } from './query.ts';
import type { Database, Scheduler } from './schema.ts';

export interface SchedulerView {
  id: number;
  hostname: string;
  ip: string;
  port: number;
  idc: string | null;
  location: string | null;
  state: string;
  features: string[];
  scheduler_cluster_id: number;
  last_keepalive_at: string | null;
  created_at: string;
  updated_at: string;
}

export function schedulerView(row: Scheduler): SchedulerView {
  return {
    id: row.id,
    hostname: row.hostname,
    ip: row.ip,
    port: row.port,
    idc: row.idc,
    location: row.location,
    state: row.state,
    features: parseJson<string[]>(row.features, []),
    scheduler_cluster_id: row.scheduler_cluster_id,
    last_keepalive_at: row.last_keepalive_at === null ? null : new Date(row.last_keepalive_at).toISOString(),
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

export interface MachineFilter {
  readonly clusterId?: number | undefined;
  readonly state?: string | undefined;
  readonly hostname?: string | undefined;
  readonly ip?: string | undefined;
}

export async function listSchedulers(db: Kysely<Database>, filter: MachineFilter, page: Page): Promise<Paged<Scheduler>> {
  let query = db.selectFrom('schedulers');
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

export async function getScheduler(db: Kysely<Database>, id: number): Promise<Scheduler> {
  const row = await db.selectFrom('schedulers').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new RecordNotFoundError(`scheduler ${id}`);
  return row;
}

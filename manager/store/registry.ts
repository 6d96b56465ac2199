/**
 * What the manager.v2 gRPC service reads and writes: schedulers registering and keeping alive,
 * seed peers and peers as hosts, the clusters with their configs and scopes, the applications.
 * Liveness lives in the database (`state`, `last_keepalive_at`), not in one process's memory, so
 * several managers on one PostgreSQL agree on which schedulers are active, whichever replica holds
 * a scheduler's KeepAlive stream.
 */
import type { Kysely } from 'kysely';
import type { Application, Database, Host, Scheduler, SchedulerCluster } from './schema.ts';
import { isUniqueViolation } from './query.ts';

export const SCHEDULER_STATE = Object.freeze({ active: 'active', inactive: 'inactive' });

/** Dragonfly's defaults for a new cluster (manager/model defaults). */
export const CLUSTER_CONFIG_DEFAULTS = Object.freeze({
  config: Object.freeze({ candidate_parent_limit: 3, filter_parent_limit: 15, job_rate_limit: 10 }),
  client_config: Object.freeze({ load_limit: 200 }),
  seed_client_config: Object.freeze({ load_limit: 2000 }),
});

/** The name of the default cluster made on first need (the same name the manager's bootstrap uses). */
export const DEFAULT_CLUSTER_NAME = 'default';

/** Whom a scheduler row belongs to: the unique key. */
export interface SchedulerKey {
  readonly hostname: string;
  readonly ip: string;
  readonly clusterId: number;
}

export interface SchedulerInput extends SchedulerKey {
  readonly port: number;
  readonly idc: string;
  readonly location: string;
  readonly features: readonly string[];
}

/**
 * The default cluster's id; made (with Dragonfly's default configs, no scopes) when no cluster is
 * the default yet. Two managers making it at once: the unique name lets one win, the other reads it.
 */
export async function defaultClusterId(db: Kysely<Database>, now: number): Promise<number> {
  const found = await db.selectFrom('scheduler_clusters').select('id').where('is_default', '=', 1).orderBy('id').executeTakeFirst();
  if (found) return found.id;
  try {
    const { id } = await db
      .insertInto('scheduler_clusters')
      .values({
        name: DEFAULT_CLUSTER_NAME,
        bio: 'the default cluster: schedulers naming no cluster join it',
        config: JSON.stringify(CLUSTER_CONFIG_DEFAULTS.config),
        client_config: JSON.stringify(CLUSTER_CONFIG_DEFAULTS.client_config),
        seed_client_config: JSON.stringify(CLUSTER_CONFIG_DEFAULTS.seed_client_config),
        scopes: '{}',
        is_default: 1,
        created_at: now,
        updated_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return id;
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    const again = await db.selectFrom('scheduler_clusters').select('id').where('is_default', '=', 1).orderBy('id').executeTakeFirst();
    if (again) return again.id;
    throw error;
  }
}

export async function getCluster(db: Kysely<Database>, id: number): Promise<SchedulerCluster | undefined> {
  return db.selectFrom('scheduler_clusters').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The cluster a registering scheduler joins: the one it names when that exists, else the default. */
export async function clusterForScheduler(db: Kysely<Database>, requested: number, now: number): Promise<number> {
  if (requested > 0 && (await getCluster(db, requested))) return requested;
  return defaultClusterId(db, now);
}

/** Insert or update on (hostname, ip, cluster). A new row is inactive until its first KeepAlive. */
export async function upsertScheduler(db: Kysely<Database>, input: SchedulerInput, now: number): Promise<Scheduler> {
  const values = {
    port: input.port,
    idc: input.idc || null,
    location: input.location || null,
    features: JSON.stringify(input.features),
    updated_at: now,
  };
  const update = () =>
    db
      .updateTable('schedulers')
      .set(values)
      .where('hostname', '=', input.hostname)
      .where('ip', '=', input.ip)
      .where('scheduler_cluster_id', '=', input.clusterId)
      .returningAll()
      .executeTakeFirst();
  const updated = await update();
  if (updated) return updated;
  try {
    return await db
      .insertInto('schedulers')
      .values({ ...values, hostname: input.hostname, ip: input.ip, scheduler_cluster_id: input.clusterId, state: SCHEDULER_STATE.inactive, last_keepalive_at: null, created_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (error) {
    // Another replica inserted it between our update and insert.
    if (!isUniqueViolation(error)) throw error;
    const row = await update();
    if (!row) throw error;
    return row;
  }
}

/** A KeepAlive message: active, seen now. False when no such scheduler is registered. */
export async function keepAliveScheduler(db: Kysely<Database>, key: SchedulerKey, now: number): Promise<boolean> {
  const result = await db
    .updateTable('schedulers')
    .set({ state: SCHEDULER_STATE.active, last_keepalive_at: now, updated_at: now })
    .where('hostname', '=', key.hostname)
    .where('ip', '=', key.ip)
    .where('scheduler_cluster_id', '=', key.clusterId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * The KeepAlive stream ended. Only when the row was last kept alive by this stream (no later
 * message from a new stream, perhaps on another replica): a scheduler that reconnected at once
 * must not be marked inactive by its old stream's late end.
 */
export async function schedulerLeft(db: Kysely<Database>, key: SchedulerKey, lastSeenAt: number, now: number): Promise<boolean> {
  const result = await db
    .updateTable('schedulers')
    .set({ state: SCHEDULER_STATE.inactive, updated_at: now })
    .where('hostname', '=', key.hostname)
    .where('ip', '=', key.ip)
    .where('scheduler_cluster_id', '=', key.clusterId)
    .where('last_keepalive_at', '<=', lastSeenAt)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Schedulers and hosts silent since before `cutoff` become inactive; returns how many schedulers did. */
export async function sweepSilent(db: Kysely<Database>, cutoff: number, now: number): Promise<number> {
  const schedulers = await db
    .updateTable('schedulers')
    .set({ state: SCHEDULER_STATE.inactive, updated_at: now })
    .where('state', '=', SCHEDULER_STATE.active)
    .where((eb) => eb.or([eb('last_keepalive_at', 'is', null), eb('last_keepalive_at', '<', cutoff)]))
    .executeTakeFirst();
  await db.updateTable('hosts').set({ state: SCHEDULER_STATE.inactive }).where('state', '=', SCHEDULER_STATE.active).where('last_seen_at', '<', cutoff).execute();
  return Number(schedulers.numUpdatedRows);
}

export async function findScheduler(db: Kysely<Database>, key: { hostname: string; ip: string; clusterId?: number | undefined }): Promise<Scheduler | undefined> {
  let query = db.selectFrom('schedulers').selectAll().where('hostname', '=', key.hostname).where('ip', '=', key.ip);
  if (key.clusterId !== undefined && key.clusterId > 0) query = query.where('scheduler_cluster_id', '=', key.clusterId);
  return query.orderBy('updated_at', 'desc').executeTakeFirst();
}

/** The active schedulers of a cluster, in id order. */
export async function listActiveSchedulers(db: Kysely<Database>, clusterId: number): Promise<Scheduler[]> {
  return db.selectFrom('schedulers').selectAll().where('scheduler_cluster_id', '=', clusterId).where('state', '=', SCHEDULER_STATE.active).orderBy('id').execute();
}

/** Clusters that have at least one active scheduler: the only ones worth handing to a daemon. */
export async function clustersWithActiveSchedulers(db: Kysely<Database>): Promise<SchedulerCluster[]> {
  return db
    .selectFrom('scheduler_clusters')
    .selectAll()
    .where((eb) => eb.exists(eb.selectFrom('schedulers').select('schedulers.id').whereRef('schedulers.scheduler_cluster_id', '=', 'scheduler_clusters.id').where('schedulers.state', '=', SCHEDULER_STATE.active)))
    .orderBy('id')
    .execute();
}

/** Replaces a cluster's JSON documents that are given (values already checked by the caller). */
export async function updateClusterConfigs(
  db: Kysely<Database>,
  id: number,
  configs: { config?: object; client_config?: object; seed_client_config?: object; scopes?: object },
  now: number,
): Promise<boolean> {
  const set: Record<string, string | number> = { updated_at: now };
  for (const [key, value] of Object.entries(configs)) if (value !== undefined) set[key] = JSON.stringify(value);
  const result = await db.updateTable('scheduler_clusters').set(set).where('id', '=', id).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function listApplications(db: Kysely<Database>): Promise<Application[]> {
  return db.selectFrom('applications').selectAll().orderBy('id').execute();
}

export interface HostInput {
  readonly hostId: string;
  readonly type: 'seed' | 'normal';
  readonly hostname: string;
  readonly ip: string;
  readonly port: number;
  readonly downloadPort: number;
  readonly idc: string;
  readonly location: string;
  readonly clusterId: number;
}

/** A seed peer or peer registering: insert or update on its host id; active from now. */
export async function upsertHost(db: Kysely<Database>, input: HostInput, now: number): Promise<Host> {
  const values = {
    type: input.type,
    hostname: input.hostname,
    ip: input.ip,
    port: input.port,
    download_port: input.downloadPort,
    idc: input.idc || null,
    location: input.location || null,
    scheduler_cluster_id: input.clusterId,
    state: SCHEDULER_STATE.active,
    last_seen_at: now,
  };
  const update = () => db.updateTable('hosts').set(values).where('host_id', '=', input.hostId).returningAll().executeTakeFirst();
  const updated = await update();
  if (updated) return updated;
  try {
    return await db.insertInto('hosts').values({ ...values, host_id: input.hostId, version: null, stats: '{}', first_seen_at: now }).returningAll().executeTakeFirstOrThrow();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    const row = await update();
    if (!row) throw error;
    return row;
  }
}

/** A host's KeepAlive message (active) or its stream's end (inactive); false when it is unknown. */
export async function touchHost(db: Kysely<Database>, hostId: string, state: 'active' | 'inactive', now: number): Promise<boolean> {
  const set = state === 'active' ? { state, last_seen_at: now } : { state };
  const result = await db.updateTable('hosts').set(set).where('host_id', '=', hostId).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function getHost(db: Kysely<Database>, hostId: string): Promise<Host | undefined> {
  return db.selectFrom('hosts').selectAll().where('host_id', '=', hostId).executeTakeFirst();
}

/**
 * Clusters, as Dragonfly's combined object: one scheduler cluster with its scheduler limits, its
 * seed peers' limits and its peers' limits, its scopes, and whether it is the default. At most one
 * cluster is the default: making one the default unsets the old one in the same transaction, and
 * on PostgreSQL the transaction first takes an advisory lock so two replicas doing it at once
 * cannot both win (a row-level update would not see the other's new row).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { ClusterScopes } from '../scopes.ts';
import { ConflictError, RecordExistsError, RecordNotFoundError } from '../errors.ts';
import type { DatabaseKind } from './migrations.ts';
import { isUniqueViolation, parseJson, type Page, type Paged } from './query.ts';
import type { Database, SchedulerCluster } from './schema.ts';

/** Dragonfly's defaults for a new cluster. */
export const CLUSTER_DEFAULTS = Object.freeze({
  scheduler_cluster_config: Object.freeze({ candidate_parent_limit: 3, filter_parent_limit: 15, job_rate_limit: 10 }),
  seed_peer_cluster_config: Object.freeze({ load_limit: 2000 }),
  peer_cluster_config: Object.freeze({ load_limit: 200, concurrent_piece_count: 8 }),
});

export type SchedulerClusterConfig = { candidate_parent_limit: number; filter_parent_limit: number; job_rate_limit: number } & Record<string, unknown>;
export type SeedPeerClusterConfig = { load_limit: number } & Record<string, unknown>;
export type PeerClusterConfig = { load_limit: number; concurrent_piece_count: number } & Record<string, unknown>;

export interface ClusterView {
  id: number;
  name: string;
  bio: string | null;
  scopes: ClusterScopes;
  scheduler_cluster_config: SchedulerClusterConfig;
  seed_peer_cluster_config: SeedPeerClusterConfig;
  peer_cluster_config: PeerClusterConfig;
  is_default: boolean;
  created_at: string;
  updated_at: string;
}

/** A stored cluster as the API (and the gRPC GetScheduler) shows it; missing keys read as defaults. */
export function clusterView(row: SchedulerCluster): ClusterView {
  return {
    id: row.id,
    name: row.name,
    bio: row.bio,
    scopes: parseJson<ClusterScopes>(row.scopes, {}),
    scheduler_cluster_config: { ...CLUSTER_DEFAULTS.scheduler_cluster_config, ...parseJson<object>(row.config, {}) },
    seed_peer_cluster_config: { ...CLUSTER_DEFAULTS.seed_peer_cluster_config, ...parseJson<object>(row.seed_client_config, {}) },
    peer_cluster_config: { ...CLUSTER_DEFAULTS.peer_cluster_config, ...parseJson<object>(row.client_config, {}) },
    is_default: row.is_default === 1,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

export interface ClusterInput {
  readonly name?: string | undefined;
  readonly bio?: string | null | undefined;
  readonly scopes?: ClusterScopes | undefined;
  readonly scheduler_cluster_config?: Partial<SchedulerClusterConfig> | undefined;
  readonly seed_peer_cluster_config?: Partial<SeedPeerClusterConfig> | undefined;
  readonly peer_cluster_config?: Partial<PeerClusterConfig> | undefined;
  readonly is_default?: boolean | undefined;
}

// Any fixed number: every replica must lock the same one.
const DEFAULT_CLUSTER_LOCK = 0x0dfc1a55;

async function lockDefault(trx: Transaction<Database>, kind: DatabaseKind): Promise<void> {
  if (kind === 'postgres') await sql`select pg_advisory_xact_lock(${DEFAULT_CLUSTER_LOCK})`.execute(trx);
}

async function unsetDefault(trx: Transaction<Database>, exceptId: number, now: number): Promise<void> {
  await trx.updateTable('scheduler_clusters').set({ is_default: 0, updated_at: now }).where('is_default', '=', 1).where('id', '!=', exceptId).execute();
}

function named(input: ClusterInput): string {
  return `cluster ${JSON.stringify(input.name)}`;
}

export async function createCluster(db: Kysely<Database>, kind: DatabaseKind, input: ClusterInput & { name: string }, now: number): Promise<SchedulerCluster> {
  try {
    return await db.transaction().execute(async (trx) => {
      if (input.is_default) await lockDefault(trx, kind);
      const row = await trx
        .insertInto('scheduler_clusters')
        .values({
          name: input.name,
          bio: input.bio ?? null,
          config: JSON.stringify({ ...CLUSTER_DEFAULTS.scheduler_cluster_config, ...input.scheduler_cluster_config }),
          seed_client_config: JSON.stringify({ ...CLUSTER_DEFAULTS.seed_peer_cluster_config, ...input.seed_peer_cluster_config }),
          client_config: JSON.stringify({ ...CLUSTER_DEFAULTS.peer_cluster_config, ...input.peer_cluster_config }),
          scopes: JSON.stringify(input.scopes ?? {}),
          is_default: input.is_default ? 1 : 0,
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      if (input.is_default) await unsetDefault(trx, row.id, now);
      return row;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new RecordExistsError(named(input));
    throw error;
  }
}

export async function findCluster(db: Kysely<Database>, id: number): Promise<SchedulerCluster | undefined> {
  return db.selectFrom('scheduler_clusters').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function getCluster(db: Kysely<Database>, id: number): Promise<SchedulerCluster> {
  const row = await findCluster(db, id);
  if (!row) throw new RecordNotFoundError(`cluster ${id}`);
  return row;
}

export async function listClusters(db: Kysely<Database>, filter: { name?: string | undefined }, page: Page): Promise<Paged<SchedulerCluster>> {
  let query = db.selectFrom('scheduler_clusters');
  if (filter.name !== undefined) query = query.where('name', '=', filter.name);
  const [items, count] = await Promise.all([
    query.selectAll().orderBy('id').limit(page.limit).offset(page.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
  ]);
  return { items, total: Number(count.total) };
}

/**
 * Changes the given fields; each config object is merged key by key into the stored one, scopes
 * replace the stored scopes. `is_default: false` on the default cluster is refused: another cluster
 * becomes the default by being set so.
 */
export async function updateCluster(db: Kysely<Database>, kind: DatabaseKind, id: number, input: ClusterInput, now: number): Promise<SchedulerCluster> {
  try {
    return await db.transaction().execute(async (trx) => {
      if (input.is_default) await lockDefault(trx, kind);
      const current = await trx.selectFrom('scheduler_clusters').selectAll().where('id', '=', id).executeTakeFirst();
      if (!current) throw new RecordNotFoundError(`cluster ${id}`);
      if (input.is_default === false && current.is_default === 1) {
        throw new ConflictError('a cluster stops being the default only when another one is made the default');
      }
      const merge = (stored: string, change: object | undefined): string | undefined =>
        change === undefined ? undefined : JSON.stringify({ ...parseJson<object>(stored, {}), ...change });
      const config = merge(current.config, input.scheduler_cluster_config);
      const seedClientConfig = merge(current.seed_client_config, input.seed_peer_cluster_config);
      const clientConfig = merge(current.client_config, input.peer_cluster_config);
      const row = await trx
        .updateTable('scheduler_clusters')
        .set({
          updated_at: now,
          ...(input.name !== undefined && { name: input.name }),
          ...(input.bio !== undefined && { bio: input.bio }),
          ...(input.scopes !== undefined && { scopes: JSON.stringify(input.scopes) }),
          ...(config !== undefined && { config }),
          ...(seedClientConfig !== undefined && { seed_client_config: seedClientConfig }),
          ...(clientConfig !== undefined && { client_config: clientConfig }),
          ...(input.is_default && { is_default: 1 }),
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      if (input.is_default) await unsetDefault(trx, id, now);
      return row;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new RecordExistsError(named(input));
    throw error;
  }
}

/** Deletes a cluster and, by the foreign keys, its schedulers and hosts; the default one stays. */
export async function deleteCluster(db: Kysely<Database>, id: number): Promise<void> {
  const row = await getCluster(db, id);
  if (row.is_default === 1) throw new ConflictError('the default cluster cannot be deleted; make another cluster the default first');
  await db.deleteFrom('scheduler_clusters').where('id', '=', id).where('is_default', '=', 0).execute();
}

/** Creates the `default` cluster when there is no cluster at all (first start); a racing replica's wins. */
export async function ensureDefaultCluster(db: Kysely<Database>, kind: DatabaseKind, now: number): Promise<void> {
  const any = await db.selectFrom('scheduler_clusters').select('id').limit(1).executeTakeFirst();
  if (any) return;
  try {
    await createCluster(db, kind, { name: 'default', bio: 'the cluster of hosts no other cluster matches', is_default: true }, now);
  } catch (error) {
    if (!(error instanceof RecordExistsError)) throw error;
  }
}

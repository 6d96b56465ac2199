/**
 * The manager's tables, as Kysely sees them. One schema for SQLite and PostgreSQL: integer ids,
 * times as epoch milliseconds (bigint), booleans as 0/1, JSON documents as text. Column names are
 * snake_case, as the REST API's JSON is.
 */
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Epoch milliseconds; PostgreSQL's bigint comes back as a number (see database.ts). */
type Millis = number;
/** A JSON document stored as text. */
type Json = string;
/** 0 or 1. */
type Flag = number;
type Created = ColumnType<Millis, Millis, never>;

export interface UsersTable {
  id: Generated<number>;
  name: string;
  email: string | null;
  password_hash: string;
  /** `root` or `guest`. */
  role: string;
  /** `enable` or `disable`. */
  state: string;
  created_at: Created;
  updated_at: Millis;
}

export interface PersonalAccessTokensTable {
  id: Generated<number>;
  name: string;
  bio: string | null;
  /** The token's first characters, to tell tokens apart in lists; never enough to use it. */
  prefix: string;
  /** sha256 hex of the whole token: the token itself is shown once and never stored. */
  token_hash: string;
  /** JSON array of `job`, `cluster`. */
  scopes: Json;
  /** `active` or `inactive` (revoked). */
  state: string;
  expired_at: Millis;
  last_used_at: Millis | null;
  user_id: number;
  created_at: Created;
  updated_at: Millis;
}

export interface SchedulerClustersTable {
  id: Generated<number>;
  name: string;
  bio: string | null;
  /** Scheduler limits (candidate_parent_limit, filter_parent_limit, job_rate_limit...). */
  config: Json;
  /** Limits for the cluster's peers (load_limit, concurrent_piece_count...). */
  client_config: Json;
  /** Limits for the cluster's seed peers. */
  seed_client_config: Json;
  /** `{ idc, location, cidrs, hostnames }`. */
  scopes: Json;
  is_default: Flag;
  created_at: Created;
  updated_at: Millis;
}

export interface SchedulersTable {
  id: Generated<number>;
  hostname: string;
  ip: string;
  port: number;
  idc: string | null;
  location: string | null;
  /** `active` or `inactive`. */
  state: string;
  features: Json;
  scheduler_cluster_id: number;
  last_keepalive_at: Millis | null;
  created_at: Created;
  updated_at: Millis;
}

/** Seed peers and peers, as their schedulers report them. */
export interface HostsTable {
  id: Generated<number>;
  /** The host id (`{ip}-{hostname}`, `-seed` for seed peers). */
  host_id: string;
  /** `seed` or `normal`. */
  type: string;
  hostname: string;
  ip: string;
  port: number;
  download_port: number;
  idc: string | null;
  location: string | null;
  version: string | null;
  scheduler_cluster_id: number;
  /** `active` or `inactive`. */
  state: string;
  /** Load and limits as last reported (JSON). */
  stats: Json;
  first_seen_at: Created;
  last_seen_at: Millis;
}

export interface ApplicationsTable {
  id: Generated<number>;
  name: string;
  url: string;
  bio: string | null;
  /** `{ value, urls: [{ regex, value }] }`. */
  priority: Json;
  user_id: number | null;
  created_at: Created;
  updated_at: Millis;
}

export interface ConfigsTable {
  id: Generated<number>;
  name: string;
  value: string;
  bio: string | null;
  user_id: number | null;
  created_at: Created;
  updated_at: Millis;
}

export interface JobsTable {
  id: Generated<number>;
  /** `group_<uuid>`, as Dragonfly names a job's task group. */
  task_id: string;
  /** `preheat`, `get_task`, `delete_task`. */
  type: string;
  /** `PENDING`, `SUCCESS`, `FAILURE`. */
  state: string;
  /** The request's arguments with every credential replaced by `***`. */
  args: Json;
  result: Json;
  progress: Json;
  scheduler_cluster_ids: Json;
  user_id: number | null;
  timeout_ms: Millis;
  created_at: Created;
  updated_at: Millis;
}

/** A job's credentials, encrypted, for as long as the job runs. */
export interface JobSecretsTable {
  job_id: number;
  ciphertext: string;
  created_at: Created;
}

/** The work queue: one row per unit of a job, claimed by a manager replica with a lease. */
export interface JobTasksTable {
  id: Generated<number>;
  job_id: number;
  scheduler_cluster_id: number;
  /** What to do (a layer to preheat, a task to look up), as JSON. */
  payload: Json;
  /** `PENDING`, `RUNNING`, `SUCCESS`, `FAILURE`. */
  state: string;
  bytes: number;
  attempts: number;
  lease_owner: string | null;
  lease_until: Millis | null;
  error: string | null;
  created_at: Created;
  updated_at: Millis;
}

/** Where tasks are and were cached, kept days after the schedulers forget them. */
export interface TaskIndexTable {
  task_id: string;
  url: string;
  digest: string | null;
  content_length: number | null;
  /** JSON array of `{ host_id, hostname, ip, finished }`. */
  hosts: Json;
  /** JSON `{ origin, seed_peer, peer }` bytes. */
  bytes_by_source: Json;
  first_seen_at: Created;
  last_seen_at: Millis;
}

export interface ManagerSecretsTable {
  name: string;
  value: string;
  created_at: Created;
}

export interface Database {
  users: UsersTable;
  personal_access_tokens: PersonalAccessTokensTable;
  scheduler_clusters: SchedulerClustersTable;
  schedulers: SchedulersTable;
  hosts: HostsTable;
  applications: ApplicationsTable;
  configs: ConfigsTable;
  jobs: JobsTable;
  job_secrets: JobSecretsTable;
  job_tasks: JobTasksTable;
  task_index: TaskIndexTable;
  manager_secrets: ManagerSecretsTable;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type PersonalAccessToken = Selectable<PersonalAccessTokensTable>;
export type SchedulerCluster = Selectable<SchedulerClustersTable>;
export type NewSchedulerCluster = Insertable<SchedulerClustersTable>;
export type SchedulerClusterUpdate = Updateable<SchedulerClustersTable>;
export type Scheduler = Selectable<SchedulersTable>;
export type Host = Selectable<HostsTable>;
export type Application = Selectable<ApplicationsTable>;
export type Config = Selectable<ConfigsTable>;
export type Job = Selectable<JobsTable>;
export type JobTask = Selectable<JobTasksTable>;
export type TaskIndexEntry = Selectable<TaskIndexTable>;

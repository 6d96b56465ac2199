/**
 * Jobs and their work queue. A job is a row in `jobs`; its units of work are `job_tasks` rows, which
 * any manager replica claims with a lease (owner + deadline). A lease that is not renewed expires
 * and another replica takes the row over, so a killed manager loses at most one unit's progress.
 * On PostgreSQL the claim skips rows other replicas hold locked (`FOR UPDATE SKIP LOCKED`); on
 * SQLite the single writer makes the one UPDATE atomic.
 */
import { sql, type Kysely } from 'kysely';
import type { DatabaseKind } from './migrations.ts';
import { type Page, type Paged } from './query.ts';
import type { Database, Job, JobTask } from './schema.ts';

export const JOB_STATES = ['PENDING', 'SUCCESS', 'FAILURE'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TASK_STATES = ['PENDING', 'RUNNING', 'SUCCESS', 'FAILURE'] as const;
export type JobTaskState = (typeof TASK_STATES)[number];

export interface NewJobInput {
  readonly taskId: string;
  readonly type: string;
  /** Redacted: no credential may be in here. */
  readonly args: unknown;
  readonly schedulerClusterIds: readonly number[];
  readonly userId: number | null;
  readonly timeoutMs: number;
  /** Encrypted credentials, kept until the job ends. */
  readonly secret?: string | undefined;
  /** The first units of work (more may be added by them). */
  readonly tasks: readonly NewJobTaskInput[];
}

export interface NewJobTaskInput {
  readonly schedulerClusterId: number;
  readonly payload: unknown;
}

/** Inserts the job, its secret and its first tasks in one transaction. */
export async function createJob(db: Kysely<Database>, input: NewJobInput, now: number): Promise<Job> {
  return db.transaction().execute(async (trx) => {
    const job = await trx
      .insertInto('jobs')
      .values({
        task_id: input.taskId,
        type: input.type,
        state: 'PENDING',
        args: JSON.stringify(input.args),
        result: '{}',
        progress: '{}',
        scheduler_cluster_ids: JSON.stringify(input.schedulerClusterIds),
        user_id: input.userId,
        timeout_ms: input.timeoutMs,
        created_at: now,
        updated_at: now,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    if (input.secret !== undefined) await trx.insertInto('job_secrets').values({ job_id: job.id, ciphertext: input.secret, created_at: now }).execute();
    await insertTasks(trx, job.id, input.tasks, now);
    return job;
  });
}

async function insertTasks(db: Kysely<Database>, jobId: number, tasks: readonly NewJobTaskInput[], now: number): Promise<void> {
  if (tasks.length === 0) return;
  await db
    .insertInto('job_tasks')
    .values(tasks.map((task) => ({ job_id: jobId, scheduler_cluster_id: task.schedulerClusterId, payload: JSON.stringify(task.payload), state: 'PENDING', bytes: 0, attempts: 0, lease_owner: null, lease_until: null, error: null, created_at: now, updated_at: now })))
    .execute();
}

/**
 * Adds units of work to a running job and finishes the claimed `parent` in one transaction, so a
 * replica killed between the two neither loses nor doubles them. False when the lease was lost.
 */
export async function expandTask(db: Kysely<Database>, parent: { id: number; jobId: number; owner: string }, tasks: readonly NewJobTaskInput[], outcome: unknown, now: number): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const done = await trx
      .updateTable('job_tasks')
      .set({ state: 'SUCCESS', payload: JSON.stringify(outcome), lease_owner: null, lease_until: null, updated_at: now })
      .where('id', '=', parent.id)
      .where('lease_owner', '=', parent.owner)
      .where('state', '=', 'RUNNING')
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) !== 1) return false;
    await insertTasks(trx, parent.jobId, tasks, now);
    return true;
  });
}

/**
 * Claims one runnable task: PENDING, or RUNNING with an expired lease, of a PENDING job. Oldest first.
 */
export async function claimTask(db: Kysely<Database>, kind: DatabaseKind, owner: string, now: number, leaseMs: number): Promise<JobTask | undefined> {
  let candidate = db
    .selectFrom('job_tasks')
    .select('job_tasks.id')
    .where((eb) => eb.or([eb('state', '=', 'PENDING'), eb.and([eb('state', '=', 'RUNNING'), eb('lease_until', '<', now)])]))
    .where('job_id', 'in', db.selectFrom('jobs').select('jobs.id').where('jobs.state', '=', 'PENDING'))
    .orderBy('job_tasks.id')
    .limit(1);
  if (kind === 'postgres') candidate = candidate.forUpdate().skipLocked();
  return db
    .updateTable('job_tasks')
    .set((eb) => ({ state: 'RUNNING', lease_owner: owner, lease_until: now + leaseMs, attempts: eb('attempts', '+', 1), updated_at: now }))
    .where('id', '=', candidate)
    .returningAll()
    .executeTakeFirst();
}

/** Extends the lease; false when this owner no longer holds the task (taken over, job ended or deleted). */
export async function renewLease(db: Kysely<Database>, taskId: number, owner: string, now: number, leaseMs: number, progress?: { bytes: number; payload: unknown }): Promise<boolean> {
  const result = await db
    .updateTable('job_tasks')
    .set({ lease_until: now + leaseMs, updated_at: now, ...(progress ? { bytes: progress.bytes, payload: JSON.stringify(progress.payload) } : {}) })
    .where('id', '=', taskId)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'RUNNING')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Ends a claimed task; `payload` then holds what came of it. False when the lease was lost. */
export async function finishTask(
  db: Kysely<Database>,
  task: { id: number; owner: string },
  state: 'SUCCESS' | 'FAILURE',
  payload: unknown,
  bytes: number,
  error: string | null,
  now: number,
): Promise<boolean> {
  const result = await db
    .updateTable('job_tasks')
    .set({ state, payload: JSON.stringify(payload), bytes, error, lease_owner: null, lease_until: null, updated_at: now })
    .where('id', '=', task.id)
    .where('lease_owner', '=', task.owner)
    .where('state', '=', 'RUNNING')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function findJob(db: Kysely<Database>, id: number): Promise<Job | undefined> {
  return db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function jobTasks(db: Kysely<Database>, jobId: number): Promise<JobTask[]> {
  return db.selectFrom('job_tasks').selectAll().where('job_id', '=', jobId).orderBy('id').execute();
}

export async function jobSecret(db: Kysely<Database>, jobId: number): Promise<string | undefined> {
  return (await db.selectFrom('job_secrets').select('ciphertext').where('job_id', '=', jobId).executeTakeFirst())?.ciphertext;
}

export async function replaceJobSecret(db: Kysely<Database>, jobId: number, ciphertext: string): Promise<void> {
  await db.updateTable('job_secrets').set({ ciphertext }).where('job_id', '=', jobId).execute();
}

/**
 * Ends a PENDING job: its state, result and last progress; its unfinished tasks fail with `error`
 * and its secret is deleted. False when another replica ended it first (the result is the same).
 */
export async function endJob(db: Kysely<Database>, jobId: number, state: 'SUCCESS' | 'FAILURE', result: unknown, progress: unknown, taskError: string | null, now: number): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const ended = await trx
      .updateTable('jobs')
      .set({ state, result: JSON.stringify(result), progress: JSON.stringify(progress), updated_at: now })
      .where('id', '=', jobId)
      .where('state', '=', 'PENDING')
      .executeTakeFirst();
    await trx
      .updateTable('job_tasks')
      .set({ state: 'FAILURE', error: taskError ?? 'the job ended first', lease_owner: null, lease_until: null, updated_at: now })
      .where('job_id', '=', jobId)
      .where('state', 'in', ['PENDING', 'RUNNING'])
      .execute();
    await trx.deleteFrom('job_secrets').where('job_id', '=', jobId).execute();
    return Number(ended.numUpdatedRows) === 1;
  });
}

/** PENDING jobs whose timeout has passed. */
export async function expiredJobs(db: Kysely<Database>, now: number): Promise<Job[]> {
  return db
    .selectFrom('jobs')
    .selectAll()
    .where('state', '=', 'PENDING')
    .where(sql<boolean>`created_at + timeout_ms < ${now}`)
    .execute();
}

/** PENDING jobs none of whose tasks is left to run: ready to be ended. */
export async function settledJobs(db: Kysely<Database>): Promise<Job[]> {
  return db
    .selectFrom('jobs')
    .selectAll()
    .where('state', '=', 'PENDING')
    .where((eb) => eb.not(eb.exists(eb.selectFrom('job_tasks').select('job_tasks.id').whereRef('job_tasks.job_id', '=', 'jobs.id').where('job_tasks.state', 'in', ['PENDING', 'RUNNING']))))
    .execute();
}

export interface JobFilter {
  readonly type?: string | undefined;
  readonly state?: string | undefined;
  readonly userId?: number | undefined;
}

export async function listJobs(db: Kysely<Database>, filter: JobFilter, page: Page): Promise<Paged<Job>> {
  let query = db.selectFrom('jobs');
  if (filter.type !== undefined) query = query.where('type', '=', filter.type);
  if (filter.state !== undefined) query = query.where('state', '=', filter.state);
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
  const [items, count] = await Promise.all([
    query.selectAll().orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
  ]);
  return { items, total: Number(count.total) };
}

/** Deletes a job with its tasks and secret; false when there was none. */
export async function deleteJob(db: Kysely<Database>, jobId: number): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    await trx.deleteFrom('job_secrets').where('job_id', '=', jobId).execute();
    await trx.deleteFrom('job_tasks').where('job_id', '=', jobId).execute();
    const deleted = await trx.deleteFrom('jobs').where('id', '=', jobId).executeTakeFirst();
    return Number(deleted.numDeletedRows) === 1;
  });
}

/** Jobs of one cluster created since `since` (the per-cluster rate limit). */
export async function countRecentJobs(db: Kysely<Database>, clusterId: number, since: number): Promise<number> {
  const rows = await db.selectFrom('jobs').select('scheduler_cluster_ids').where('created_at', '>=', since).execute();
  return rows.filter((row) => (JSON.parse(row.scheduler_cluster_ids) as number[]).includes(clusterId)).length;
}

/**
 * Jobs as the REST API and the composition root see them: create (checked, rate limited, secrets
 * sealed, runners woken), read (args redacted, live progress), delete; and the runner of this
 * process with the executors of every job type (preheat, get_task, delete_task).
 */
import { randomUUID } from 'node:crypto';
import { InvalidArgumentError, type TlsMaterial } from '../../api/index.ts';
import type { ManagerContext } from '../context.ts';
import { RateLimitedError, RecordNotFoundError } from '../errors.ts';
import { countRecentJobs, createJob, deleteJob, findJob, jobTasks } from '../store/jobs.ts';
import type { Job } from '../store/schema.ts';
import { JobSecretBox } from './crypto.ts';
import { notifyJobs } from './notify.ts';
import { finishPreheat, planPreheat, preheatLayer, preheatProgress } from './preheat.ts';
import { checkPreheatArgs, credentialsOf, redactPreheatArgs, PREHEAT_ARGS_DEFAULTS, type PreheatArgs } from './preheat-args.ts';
import { JobRunner, type RunnerOptions } from './runner.ts';
import { SchedulerClients } from './scheduler-client.ts';
import { checkTaskJobArgs, TASK_JOB_DEFAULTS, TASK_JOB_TYPES, type TaskJobArgs, type TaskJobType } from './task-args.ts';
import { deleteTaskExecutor, finishTaskJob, getTaskExecutor } from './task-jobs.ts';

export const JOB_TYPES = ['preheat', ...TASK_JOB_TYPES] as const;

export interface CreateJobInput {
  readonly type: string;
  readonly scheduler_cluster_ids?: number[] | undefined;
  readonly args: PreheatArgs | TaskJobArgs;
  readonly bio?: string | undefined;
}

/** What differs between job types at creation: stored args, secret, timeout, first task. */
interface JobPlan {
  readonly args: unknown;
  readonly credentials: ReturnType<typeof credentialsOf>;
  readonly timeoutMs: number;
  readonly payload: (clusterIds: readonly number[]) => Array<{ schedulerClusterId: number; payload: unknown }>;
}

function planJob(input: CreateJobInput): JobPlan {
  if (input.type === 'preheat') {
    const args = checkPreheatArgs(input.args as PreheatArgs);
    return {
      args: redactPreheatArgs(args),
      credentials: credentialsOf(args),
      timeoutMs: args.timeout !== undefined ? args.timeout * 1000 : PREHEAT_ARGS_DEFAULTS.timeoutMs,
      payload: (clusterIds) => [{ schedulerClusterId: clusterIds[0]!, payload: { kind: 'preheat_plan', cluster_ids: clusterIds } }],
    };
  }
  if ((TASK_JOB_TYPES as readonly string[]).includes(input.type)) {
    const kind = input.type as TaskJobType;
    const args = checkTaskJobArgs(input.args as TaskJobArgs);
    return {
      args,
      credentials: undefined,
      timeoutMs: args.timeout !== undefined ? args.timeout * 1000 : TASK_JOB_DEFAULTS.timeoutMs,
      payload: (clusterIds) => clusterIds.map((clusterId) => ({ schedulerClusterId: clusterId, payload: { kind, task_id: args.task_id } })),
    };
  }
  throw new InvalidArgumentError(`type ${JSON.stringify(input.type)} is not one of ${JOB_TYPES.join(', ')}`);
}

const boxes = new WeakMap<ManagerContext, Promise<JobSecretBox>>();

function boxOf(context: ManagerContext): Promise<JobSecretBox> {
  let box = boxes.get(context);
  if (!box) {
    box = JobSecretBox.open(context.store.db, context.now());
    box.catch(() => boxes.delete(context));
    boxes.set(context, box);
  }
  return box;
}

/** Creates a job: the clusters it names (none = every cluster) must exist; 429 past job.rateLimit. */
export async function submitJob(context: ManagerContext, input: CreateJobInput, userId: number | null): Promise<Job> {
  const plan = planJob(input);
  const { db } = context.store;
  const known = (await db.selectFrom('scheduler_clusters').select('id').execute()).map((row) => row.id);
  const named = input.scheduler_cluster_ids ?? [];
  for (const id of named) if (!known.includes(id)) throw new RecordNotFoundError(`scheduler cluster ${id}`);
  const clusterIds = named.length > 0 ? [...new Set(named)] : known;
  if (clusterIds.length === 0) throw new InvalidArgumentError('scheduler_cluster_ids: there is no scheduler cluster to run the job in');
  const now = context.now();
  for (const id of clusterIds) {
    if ((await countRecentJobs(db, id, now - 1000)) >= context.config.job.rateLimit) {
      throw new RateLimitedError(`scheduler cluster ${id} takes at most ${context.config.job.rateLimit} jobs a second`);
    }
  }
  const taskId = `group_${randomUUID()}`;
  const job = await createJob(
    db,
    {
      taskId,
      type: input.type,
      args: plan.args,
      schedulerClusterIds: clusterIds,
      userId,
      timeoutMs: plan.timeoutMs,
      secret: plan.credentials ? (await boxOf(context)).seal(taskId, plan.credentials) : undefined,
      tasks: plan.payload(clusterIds),
    },
    now,
  );
  await notifyJobs(context.store);
  return job;
}

export interface JobView {
  id: number;
  task_id: string;
  type: string;
  state: string;
  args: unknown;
  result: unknown;
  progress: unknown;
  scheduler_cluster_ids: number[];
  user_id: number | null;
  created_at: string;
  updated_at: string;
}

/** What answers carry: args as stored (redacted), progress live while the job runs. */
export async function jobView(context: ManagerContext, job: Job): Promise<JobView> {
  const progress = job.state === 'PENDING' && job.type === 'preheat' ? preheatProgress(await jobTasks(context.store.db, job.id)) : JSON.parse(job.progress);
  return {
    id: job.id,
    task_id: job.task_id,
    type: job.type,
    state: job.state,
    args: JSON.parse(job.args),
    result: JSON.parse(job.result),
    progress,
    scheduler_cluster_ids: JSON.parse(job.scheduler_cluster_ids) as number[],
    user_id: job.user_id,
    created_at: new Date(job.created_at).toISOString(),
    updated_at: new Date(job.updated_at).toISOString(),
  };
}

export async function getJob(context: ManagerContext, id: number): Promise<Job> {
  const job = await findJob(context.store.db, id);
  if (!job) throw new RecordNotFoundError(`job ${id}`);
  return job;
}

export async function removeJob(context: ManagerContext, id: number): Promise<void> {
  if (!(await deleteJob(context.store.db, id))) throw new RecordNotFoundError(`job ${id}`);
}

export interface RunningJobs {
  readonly runner: JobRunner;
  close(): Promise<void>;
}

/**
 * Starts this process's job runner; `close` stops it and its scheduler channels. `schedulerTls`:
 * the loaded scheduler.tls (mutual TLS to the schedulers), none by default.
 */
export async function startJobs(context: ManagerContext, options: Partial<RunnerOptions> = {}, schedulerTls?: TlsMaterial): Promise<RunningJobs> {
  const schedulers = new SchedulerClients(schedulerTls);
  const runner = new JobRunner(
    {
      store: context.store,
      databaseUrl: context.config.database.url,
      box: await boxOf(context),
      log: context.log.child({ component: 'jobs' }),
      now: context.now,
      executors: {
        preheat_plan: planPreheat,
        preheat_layer: preheatLayer({ schedulers, stallTimeoutMs: context.config.job.preheat.stallTimeout, db: context.store.db }),
        get_task: getTaskExecutor({ schedulers, db: context.store.db }),
        delete_task: deleteTaskExecutor({ schedulers, db: context.store.db }),
      },
      finishers: { preheat: finishPreheat, get_task: finishTaskJob, delete_task: finishTaskJob },
    },
    options,
  );
  await runner.start();
  return {
    runner,
    async close() {
      await runner.close();
      schedulers.close();
    },
  };
}

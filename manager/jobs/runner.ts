/**
 * The job runner of one manager process. It claims `job_tasks` rows with a lease (its own owner
 * id, renewed while the work runs), runs each through the executor its payload's `kind` names, and
 * ends jobs whose tasks are all done or whose timeout passed. It wakes on a notification (LISTEN on
 * PostgreSQL, an in-process call on SQLite) and polls once a second as the backstop, so a task
 * whose replica died is taken over once its lease expires.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../../api/index.ts';
import type { Store } from '../store/database.ts';
import { claimTask, endJob, expandTask, expiredJobs, finishTask, jobSecret, jobTasks, renewLease, replaceJobSecret, settledJobs, type NewJobTaskInput } from '../store/jobs.ts';
import type { Job, JobTask } from '../store/schema.ts';
import type { JobCredentials, JobSecretBox } from './crypto.ts';
import { listenForJobs, type JobListener } from './notify.ts';

export const RUNNER_DEFAULTS: RunnerOptions = Object.freeze({
  leaseMs: 30_000,
  pollIntervalMs: 1_000,
  /** Progress reaches the database at most this often. */
  progressIntervalMs: 500,
  /** Tasks one process runs at once. */
  concurrency: 16,
});

export interface RunnerOptions {
  readonly leaseMs: number;
  readonly pollIntervalMs: number;
  readonly progressIntervalMs: number;
  readonly concurrency: number;
}

export interface TaskWork {
  readonly job: Job;
  readonly task: JobTask;
  readonly payload: unknown;
  readonly credentials: JobCredentials | undefined;
  /** Aborts when the lease is lost, the job ends or the runner stops. */
  readonly signal: AbortSignal;
  /** Records progress; written with the next lease renewal. */
  progress(bytes: number, payload: unknown): void;
}

export type TaskOutcome =
  | { readonly kind: 'done'; readonly state: 'SUCCESS' | 'FAILURE'; readonly payload: unknown; readonly bytes: number; readonly error: string | null }
  /** The task becomes more tasks (an image becomes its layers); credentials may be replaced. */
  | { readonly kind: 'expand'; readonly tasks: readonly NewJobTaskInput[]; readonly payload: unknown; readonly credentials?: JobCredentials };

export type TaskExecutor = (work: TaskWork) => Promise<TaskOutcome>;

/** What a job type makes of its ended tasks. */
export type JobFinisher = (job: Job, tasks: readonly JobTask[], timedOut: boolean) => { state: 'SUCCESS' | 'FAILURE'; result: unknown; progress: unknown };

export interface RunnerDeps {
  readonly store: Store;
  readonly databaseUrl: string;
  readonly box: JobSecretBox;
  readonly log: Logger;
  readonly now: () => number;
  readonly executors: Readonly<Record<string, TaskExecutor>>;
  readonly finishers: Readonly<Record<string, JobFinisher>>;
}

function kindOf(payload: unknown): string {
  return typeof payload === 'object' && payload !== null && typeof (payload as { kind?: unknown }).kind === 'string' ? (payload as { kind: string }).kind : '';
}

function describe(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  return typeof code === 'string' ? `${code}: ${text}` : text;
}

export class JobRunner {
  /** Unique per process and start: a lease names the replica that holds it. */
  readonly owner = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly options: RunnerOptions;
  private readonly controller = new AbortController();
  private readonly running = new Set<Promise<void>>();
  /** Tasks in flight here, so a job this runner ends stops its own work at once (others notice at renewal). */
  private readonly active = new Map<number, { jobId: number; controller: AbortController }>();
  private listener: JobListener | undefined;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private woken = false;

  private readonly deps: RunnerDeps;

  constructor(deps: RunnerDeps, options: Partial<RunnerOptions> = {}) {
    this.deps = deps;
    this.options = Object.freeze({ ...RUNNER_DEFAULTS, ...options });
  }

  async start(): Promise<void> {
    this.listener = await listenForJobs(this.deps.store, this.deps.databaseUrl, () => this.wake(), this.deps.log);
    this.loop = this.run();
  }

  /** Look for work now rather than at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** Stops claiming, aborts the tasks in flight (their leases expire for another replica) and waits for them. */
  async close(): Promise<void> {
    this.controller.abort(new Error('the manager is stopping'));
    this.wake();
    await this.loop;
    await Promise.allSettled([...this.running]);
    await this.listener?.close();
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    while (!signal.aborted) {
      this.woken = false;
      try {
        await this.endJobs();
        while (this.running.size < this.options.concurrency && !signal.aborted) {
          const task = await claimTask(this.deps.store.db, this.deps.store.kind, this.owner, this.deps.now(), this.options.leaseMs);
          if (!task) break;
          const work = this.execute(task).finally(() => {
            this.running.delete(work);
            this.wake();
          });
          this.running.add(work);
        }
      } catch (error) {
        if (!signal.aborted) this.deps.log.warn('job runner: database error; retrying', { error: describe(error) });
      }
      if (this.woken || signal.aborted) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.pollIntervalMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
  }

  /** Ends timed-out jobs as FAILURE and jobs with nothing left to run by their type's rule. */
  private async endJobs(): Promise<void> {
    const { db } = this.deps.store;
    for (const job of await expiredJobs(db, this.deps.now())) await this.endJob(job, true);
    for (const job of await settledJobs(db)) await this.endJob(job, false);
  }

  private async endJob(job: Job, timedOut: boolean): Promise<void> {
    const finisher = this.deps.finishers[job.type];
    const tasks = await jobTasks(this.deps.store.db, job.id);
    const ended = finisher
      ? finisher(job, tasks, timedOut)
      : { state: 'FAILURE' as const, result: { job_states: [{ state: 'FAILURE', error: `no runner for job type ${job.type}`, results: [] }] }, progress: {} };
    const error = timedOut ? `the job timed out after ${job.timeout_ms} ms` : null;
    const changed = await endJob(this.deps.store.db, job.id, ended.state, ended.result, ended.progress, error, this.deps.now());
    for (const work of this.active.values()) if (work.jobId === job.id) work.controller.abort(new Error(error ?? 'the job ended'));
    if (changed) {
      this.deps.log.info('job ended', { jobId: job.id, type: job.type, state: ended.state, timedOut });
    }
  }

  private async execute(task: JobTask): Promise<void> {
    const { store, box, log, now } = this.deps;
    const owner = this.owner;
    const job = (await store.db.selectFrom('jobs').selectAll().where('id', '=', task.job_id).executeTakeFirst())!;
    const controller = new AbortController();
    this.active.set(task.id, { jobId: job.id, controller });
    const onStop = () => controller.abort(this.controller.signal.reason);
    this.controller.signal.addEventListener('abort', onStop, { once: true });
    let pending: { bytes: number; payload: unknown } | undefined;
    let lastRenew = now();
    let renewing: Promise<unknown> | undefined;
    // Renews the lease a few times per lease, and writes progress at most every progressIntervalMs.
    const timer = setInterval(() => {
      if (renewing || (pending === undefined && now() - lastRenew < this.options.leaseMs / 3)) return;
      const progress = pending;
      pending = undefined;
      renewing = renewLease(store.db, task.id, owner, now(), this.options.leaseMs, progress)
        .then((held) => {
          lastRenew = now();
          if (!held) controller.abort(new Error('the task lease was lost (job ended, deleted or taken over)'));
        })
        .catch((error: unknown) => log.warn('job runner: cannot renew a lease', { taskId: task.id, error: describe(error) }))
        .finally(() => (renewing = undefined));
    }, this.options.progressIntervalMs);
    timer.unref();
    const payload = JSON.parse(task.payload) as unknown;
    const kind = kindOf(payload);
    try {
      const executor = this.deps.executors[kind];
      if (!executor) throw new Error(`no executor for job task kind ${JSON.stringify(kind)}`);
      const sealed = await jobSecret(store.db, job.id);
      const credentials = sealed === undefined ? undefined : box.open(job.task_id, sealed);
      const outcome = await executor({
        job,
        task,
        payload,
        credentials,
        signal: controller.signal,
        progress: (bytes, next) => (pending = { bytes, payload: next }),
      });
      clearInterval(timer);
      if (outcome.kind === 'expand') {
        if (outcome.credentials && sealed !== undefined) await replaceJobSecret(store.db, job.id, box.seal(job.task_id, outcome.credentials));
        await expandTask(store.db, { id: task.id, jobId: job.id, owner }, outcome.tasks, outcome.payload, now());
      } else {
        await finishTask(store.db, { id: task.id, owner }, outcome.state, outcome.payload, outcome.bytes, outcome.error, now());
      }
    } catch (error) {
      clearInterval(timer);
      if (controller.signal.aborted) {
        // Stopping: hand the task to another replica now rather than after the lease runs out.
        if (this.controller.signal.aborted) await renewLease(store.db, task.id, owner, 0, 0).catch(() => false);
        return;
      }
      log.warn('job task failed', { jobId: job.id, taskId: task.id, kind, error: describe(error) });
      await finishTask(store.db, { id: task.id, owner }, 'FAILURE', payload, task.bytes, describe(error), now()).catch((cause: unknown) =>
        log.warn('job runner: cannot record a failed task', { taskId: task.id, error: describe(cause) }),
      );
    } finally {
      clearInterval(timer);
      // A renewal still in flight must not outlive the runner (the database may close next).
      await renewing;
      this.active.delete(task.id);
      this.controller.signal.removeEventListener('abort', onStop);
    }
  }
}

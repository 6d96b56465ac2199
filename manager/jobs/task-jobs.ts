/**
 * `get_task` (where is this task cached) and `delete_task` (remove it everywhere) as job tasks: one
 * per cluster, each asking every active scheduler of the cluster (ListTaskPeers / DeleteTask), not
 * only the task's rendezvous owner: a daemon that could not reach the owner registered the task
 * with another scheduler, and a scheduler added since moved the owner without moving the task.
 * A task no scheduler knows is an empty result, not an error.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Kysely } from 'kysely';
import type { schedulerv2 } from '../../api/index.ts';
import type { Database, Job } from '../store/schema.ts';
import { TaskJobNoSchedulerError, TaskJobSchedulerFailedError } from './errors.ts';
import type { TaskJobType } from './task-args.ts';
import type { JobFinisher, TaskExecutor } from './runner.ts';
import { activeSchedulers, type SchedulerClients } from './scheduler-client.ts';

/** One scheduler call; a scheduler that does not answer in this time fails the cluster's task. */
export const TASK_JOB_CALL_TIMEOUT_MS = 30_000;

export interface TaskJobPayload {
  readonly kind: TaskJobType;
  readonly task_id: string;
}

export interface TaskHost {
  host_id: string;
  hostname: string;
  ip: string;
  state: string;
}

export interface DeletedHost {
  host_id: string;
  hostname: string;
  ip: string;
  description?: string;
}

interface GetTaskResult {
  readonly kind: 'get_task';
  readonly task_id: string;
  readonly hosts: TaskHost[];
}

interface DeleteTaskResult {
  readonly kind: 'delete_task';
  readonly task_id: string;
  readonly success_tasks: DeletedHost[];
  readonly failure_tasks: DeletedHost[];
}

type Call<Req, Res> = (request: Req, options: grpc.CallOptions, callback: grpc.requestCallback<Res>) => unknown;

function unary<Req, Res>(method: Call<Req, Res>, request: Req, signal: AbortSignal): Promise<Res> {
  return new Promise((resolve, reject) => {
    const onAbort = () => call.cancel();
    const call = method(request, { deadline: Date.now() + TASK_JOB_CALL_TIMEOUT_MS }, (error, value) => {
      signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve(value!);
    }) as grpc.Call;
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Calls every active scheduler of the cluster; the answers of those that answered, and the errors of the others. */
async function askCluster<Res>(
  deps: TaskJobDeps,
  clusterId: number,
  ask: (client: schedulerv2.SchedulerClient, address: string) => Promise<Res>,
): Promise<{ answers: Res[]; errors: string[] }> {
  const addresses = await activeSchedulers(deps.db, clusterId);
  if (addresses.length === 0) throw new TaskJobNoSchedulerError(`scheduler cluster ${clusterId} has no active scheduler`);
  const settled = await Promise.allSettled(addresses.map((address) => ask(deps.schedulers.client(address), address)));
  const answers: Res[] = [];
  const errors: string[] = [];
  settled.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') answers.push(outcome.value);
    else {
      const error = outcome.reason as grpc.ServiceError;
      errors.push(`scheduler ${addresses[i]}: ${error.details || error.message}`);
    }
  });
  if (answers.length === 0) throw new TaskJobSchedulerFailedError(`no scheduler of cluster ${clusterId} answered: ${errors.join('; ')}`);
  // Some answered: the result stands, and the job says which scheduler could not be asked.
  return { answers, errors: errors.map((error) => `DF_ERR_TASK_JOB_SCHEDULER_FAILED: ${error}`) };
}

export interface TaskJobDeps {
  readonly schedulers: SchedulerClients;
  readonly db: Kysely<Database>;
}

/** The hosts of the cluster with a peer of the task, one entry per host. */
export function getTaskExecutor(deps: TaskJobDeps): TaskExecutor {
  return async (work) => {
    const { task_id: taskId } = work.payload as TaskJobPayload;
    const { answers, errors } = await askCluster(deps, work.task.scheduler_cluster_id, (client) =>
      unary<schedulerv2.ListTaskPeersRequest, schedulerv2.ListTaskPeersResponse__Output>(client.ListTaskPeers.bind(client), { taskId }, work.signal),
    );
    const hosts = new Map<string, TaskHost>();
    for (const answer of answers) {
      for (const peer of answer.peers) hosts.set(peer.hostId, { host_id: peer.hostId, hostname: peer.hostname, ip: peer.ip, state: peer.state });
    }
    const payload: GetTaskResult = { kind: 'get_task', task_id: taskId, hosts: [...hosts.values()] };
    const error = errors.length > 0 ? errors.join('; ') : null;
    return { kind: 'done', state: error ? 'FAILURE' : 'SUCCESS', payload, bytes: 0, error };
  };
}

/** Every host of the cluster with the task deletes it; one result per host. */
export function deleteTaskExecutor(deps: TaskJobDeps): TaskExecutor {
  return async (work) => {
    const { task_id: taskId } = work.payload as TaskJobPayload;
    const { answers, errors } = await askCluster(deps, work.task.scheduler_cluster_id, (client) =>
      unary<schedulerv2.DeleteTaskRequest, schedulerv2.DeleteTaskResponse__Output>(client.DeleteTask.bind(client), { taskId }, work.signal),
    );
    const succeeded = new Map<string, DeletedHost>();
    const failed = new Map<string, DeletedHost>();
    for (const answer of answers) {
      for (const host of answer.hosts) {
        const entry = { host_id: host.hostId, hostname: host.hostname, ip: host.ip };
        if (host.ok) succeeded.set(host.hostId, entry);
        else failed.set(host.hostId, { ...entry, description: host.description || 'the host did not delete the task' });
      }
    }
    // A host two schedulers knew counts as deleted when one of them deleted it.
    for (const id of succeeded.keys()) failed.delete(id);
    const payload: DeleteTaskResult = { kind: 'delete_task', task_id: taskId, success_tasks: [...succeeded.values()], failure_tasks: [...failed.values()] };
    const problems = [...errors, ...[...failed.values()].map((host) => `${host.hostname} (${host.ip}): ${host.description}`)];
    const error = problems.length > 0 ? problems.join('; ') : null;
    return { kind: 'done', state: error ? 'FAILURE' : 'SUCCESS', payload, bytes: 0, error };
  };
}

/** One job state per cluster, its results as the executor recorded them (Dragonfly's job result shape). */
export const finishTaskJob: JobFinisher = (job: Job, tasks, timedOut) => {
  const clusterIds = JSON.parse(job.scheduler_cluster_ids) as number[];
  const jobStates = clusterIds.map((clusterId) => {
    const task = tasks.find((candidate) => candidate.scheduler_cluster_id === clusterId);
    const payload: Partial<GetTaskResult | DeleteTaskResult> = task ? (JSON.parse(task.payload) as GetTaskResult | DeleteTaskResult) : {};
    const { kind: _kind, ...result } = payload;
    const failed = timedOut || !task || task.state !== 'SUCCESS';
    const error = timedOut ? `the job timed out after ${job.timeout_ms} ms` : (task?.error ?? (failed ? 'did not run' : ''));
    return { state: failed ? 'FAILURE' : 'SUCCESS', error: failed ? error : '', results: [{ scheduler_cluster_id: clusterId, ...result }] };
  });
  const failed = jobStates.some((state) => state.state === 'FAILURE');
  return { state: failed ? 'FAILURE' : 'SUCCESS', result: { job_states: jobStates }, progress: {} };
};

/**
 * Preheat as job tasks. `preheat_plan` resolves the image (or takes the file URLs) and becomes one
 * `preheat_layer` task per (cluster, layer); each asks the cluster scheduler that owns the layer's
 * task id to preheat it and follows the per-host progress stream. An image layer's task id is its
 * blob digest (as the registry mirror computes it), and the digest goes along so the seed verifies
 * what it stores.
 */
import type * as grpc from '@grpc/grpc-js';
import { taskIdOf, type commonv2, type schedulerv2 } from '../../api/index.ts';
import { resolveImage } from '../preheat/index.ts';
import type { Job, JobTask } from '../store/schema.ts';
import { PreheatFailedError, PreheatStalledError } from './errors.ts';
import { PREHEAT_ARGS_DEFAULTS, type PreheatArgs } from './preheat-args.ts';
import type { JobFinisher, TaskExecutor, TaskOutcome } from './runner.ts';
import { schedulerFor, type SchedulerClients } from './scheduler-client.ts';

export interface PlanPayload {
  readonly kind: 'preheat_plan';
  readonly cluster_ids: readonly number[];
  readonly layers?: number;
  readonly manifest_digest?: string;
}

export interface HostReport {
  host_id: string;
  hostname: string;
  ip: string;
  bytes: number;
  content_length: number;
  state: 'RUNNING' | 'SUCCESS' | 'FAILURE';
  description?: string;
}

export interface LayerPayload {
  readonly kind: 'preheat_layer';
  readonly url: string;
  readonly digest?: string;
  readonly size?: number;
  readonly hosts?: HostReport[];
}

const HOST_STATES: Record<string, HostReport['state']> = {
  PREHEAT_HOST_RUNNING: 'RUNNING',
  PREHEAT_HOST_SUCCEEDED: 'SUCCESS',
  PREHEAT_HOST_FAILED: 'FAILURE',
};
const SCOPES: Record<string, schedulerv2.PreheatScope> = {
  single_seed_peer: 'PREHEAT_SCOPE_SINGLE_SEED_PEER',
  all_seed_peers: 'PREHEAT_SCOPE_ALL_SEED_PEERS',
  all_peers: 'PREHEAT_SCOPE_ALL_PEERS',
};

function filteredParams(args: PreheatArgs): string[] | undefined {
  const list = (args.filtered_query_params ?? '').split('&').filter((param) => param !== '');
  return list.length > 0 ? list : undefined;
}

/** The plan: image -> its layers, file -> its URLs; one layer task per cluster and layer. */
export const planPreheat: TaskExecutor = async (work) => {
  const args = JSON.parse(work.job.args) as PreheatArgs;
  const plan = work.payload as PlanPayload;
  const headers = work.credentials?.headers ?? args.headers;
  let layers: LayerPayload[];
  let outcome: PlanPayload;
  let resolvedHeaders: Record<string, string> | undefined;
  if ((args.type ?? 'image') === 'image') {
    const image = await resolveImage({
      url: args.url!,
      username: work.credentials?.username,
      password: work.credentials?.password,
      headers,
      platform: args.platform,
      signal: work.signal,
    });
    layers = image.layers.map((layer) => ({ kind: 'preheat_layer', url: layer.url, digest: layer.digest, size: layer.size }));
    resolvedHeaders = { ...image.headers };
    outcome = { ...plan, layers: layers.length, manifest_digest: image.manifestDigest };
  } else {
    const urls = args.urls && args.urls.length > 0 ? args.urls : [args.url!];
    layers = urls.map((url) => ({ kind: 'preheat_layer', url }));
    outcome = { ...plan, layers: layers.length };
  }
  const tasks = plan.cluster_ids.flatMap((clusterId) => layers.map((payload) => ({ schedulerClusterId: clusterId, payload })));
  const result: TaskOutcome = { kind: 'expand', tasks, payload: outcome };
  return resolvedHeaders ? { ...result, credentials: { ...work.credentials, resolvedHeaders } } : result;
};

/** The Download a peer would send for this layer: the registry mirror's, for an image blob. */
export function layerDownload(args: PreheatArgs, layer: LayerPayload, headers: Record<string, string>, timeoutMs: number): { download: commonv2.Download; taskId: string } {
  if ((args.type ?? 'image') === 'image') {
    const download: commonv2.Download = { url: layer.url, digest: layer.digest, type: 'STANDARD', enableTaskIdBasedBlobDigest: true, requestHeader: headers, timeoutMs };
    if (args.piece_length !== undefined) download.pieceLength = args.piece_length;
    return { download, taskId: taskIdOf({ url: layer.url, enableTaskIdBasedBlobDigest: true }) };
  }
  const filteredQueryParams = filteredParams(args);
  const download: commonv2.Download = { url: layer.url, type: 'STANDARD', tag: args.tag, application: args.application, requestHeader: headers, timeoutMs };
  if (filteredQueryParams) download.filteredQueryParams = filteredQueryParams;
  if (args.piece_length !== undefined) download.pieceLength = args.piece_length;
  return {
    download,
    taskId: taskIdOf({ url: layer.url, tag: args.tag, application: args.application, pieceLength: args.piece_length, filteredQueryParams }),
  };
}

/** One layer on one cluster: PreheatTask on the owning scheduler, progress relayed, stalls bounded. */
export function preheatLayer(deps: { readonly schedulers: SchedulerClients; readonly stallTimeoutMs: number; readonly db: Parameters<typeof schedulerFor>[0] }): TaskExecutor {
  return async (work) => {
    const args = JSON.parse(work.job.args) as PreheatArgs;
    const layer = work.payload as LayerPayload;
    const name = layer.digest ?? layer.url;
    const headers = { ...(work.credentials?.headers ?? {}), ...(work.credentials?.resolvedHeaders ?? {}) };
    const remainingMs = Math.max(1, work.job.created_at + work.job.timeout_ms - Date.now());
    const { download, taskId } = layerDownload(args, layer, headers, remainingMs);
    const address = await schedulerFor(deps.db, work.task.scheduler_cluster_id, taskId);
    const hosts = new Map<string, HostReport>();
    const request: schedulerv2.PreheatTaskRequest = {
      download,
      scope: SCOPES[args.scope ?? PREHEAT_ARGS_DEFAULTS.scope],
      ips: args.ips ?? [],
      concurrentPeerCount: args.concurrent_peer_count ?? PREHEAT_ARGS_DEFAULTS.concurrentPeerCount,
    };
    if (args.count !== undefined) request.count = args.count;
    if (args.percentage !== undefined) request.percentage = args.percentage;
    const total = () => [...hosts.values()].reduce((sum, host) => sum + host.bytes, 0);
    const snapshot = (): LayerPayload => ({ ...layer, hosts: [...hosts.values()] });

    await new Promise<void>((resolve, reject) => {
      const call = deps.schedulers.client(address).PreheatTask(request, { deadline: Date.now() + remainingMs }) as grpc.ClientReadableStream<schedulerv2.PreheatTaskResponse__Output>;
      let stall: NodeJS.Timeout;
      let failure: Error | undefined;
      const armStall = () => {
        clearTimeout(stall);
        stall = setTimeout(() => {
          failure = new PreheatStalledError(`layer ${name}: no progress on any host for ${deps.stallTimeoutMs} ms`);
          call.cancel();
        }, deps.stallTimeoutMs);
      };
      const onAbort = () => {
        failure = work.signal.reason as Error;
        call.cancel();
      };
      armStall();
      work.signal.addEventListener('abort', onAbort, { once: true });
      const done = (error?: Error) => {
        clearTimeout(stall);
        work.signal.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      call.on('data', (response: schedulerv2.PreheatTaskResponse__Output) => {
        const before = hosts.get(response.hostId);
        const report: HostReport = {
          host_id: response.hostId,
          hostname: response.hostname,
          ip: response.ip,
          bytes: Number(response.bytes),
          content_length: Number(response.contentLength),
          state: HOST_STATES[response.state] ?? 'RUNNING',
        };
        if (response.description) report.description = response.description;
        if (!before || before.bytes !== report.bytes || before.state !== report.state) armStall();
        hosts.set(report.host_id, report);
        work.progress(total(), snapshot());
      });
      call.on('error', (error: grpc.ServiceError) => done(failure ?? new PreheatFailedError(`layer ${name}: scheduler ${address}: ${error.details || error.message}`, { cause: error })));
      call.on('end', () => done(failure));
    });

    const reports = [...hosts.values()];
    const failed = reports.filter((host) => host.state !== 'SUCCESS');
    const ok = reports.length > 0 && failed.length === 0;
    const error = ok
      ? null
      : `DF_ERR_PREHEAT_FAILED: layer ${name}: ${reports.length === 0 ? 'no host reported' : failed.map((host) => `${host.hostname}: ${host.description ?? 'did not finish'}`).join('; ')}`;
    return { kind: 'done', state: ok ? 'SUCCESS' : 'FAILURE', payload: snapshot(), bytes: total(), error };
  };
}

interface ClusterResult {
  scheduler_cluster_id: number;
  success_tasks: { url: string; hostname: string; ip: string }[];
  failure_tasks: { url: string; hostname: string; ip: string; description: string }[];
}

/** Live progress: bytes per layer and host, from the tasks' last reports. */
export function preheatProgress(tasks: readonly JobTask[]): unknown {
  const layers = tasks
    .map((task) => ({ task, payload: JSON.parse(task.payload) as LayerPayload | PlanPayload }))
    .filter(({ payload }) => payload.kind === 'preheat_layer')
    .map(({ task, payload }) => {
      const layer = payload as LayerPayload;
      return { scheduler_cluster_id: task.scheduler_cluster_id, url: layer.url, digest: layer.digest, size: layer.size, state: task.state, bytes: task.bytes, hosts: layer.hosts ?? [] };
    });
  return { layers, bytes: layers.reduce((sum, layer) => sum + layer.bytes, 0) };
}

/** Dragonfly's result: one job state per cluster, with its successful and failed hosts per URL. */
export const finishPreheat: JobFinisher = (job: Job, tasks, timedOut) => {
  const clusterIds = JSON.parse(job.scheduler_cluster_ids) as number[];
  const plans = tasks.filter((task) => (JSON.parse(task.payload) as { kind: string }).kind === 'preheat_plan');
  const planError = plans.find((task) => task.state !== 'SUCCESS')?.error ?? null;
  const jobStates = clusterIds.map((clusterId) => {
    const result: ClusterResult = { scheduler_cluster_id: clusterId, success_tasks: [], failure_tasks: [] };
    const errors: string[] = [];
    for (const task of tasks) {
      if (task.scheduler_cluster_id !== clusterId) continue;
      const payload = JSON.parse(task.payload) as LayerPayload | PlanPayload;
      if (payload.kind !== 'preheat_layer') continue;
      if (task.state !== 'SUCCESS' && task.error) errors.push(task.error);
      for (const host of payload.hosts ?? []) {
        if (host.state === 'SUCCESS') result.success_tasks.push({ url: payload.url, hostname: host.hostname, ip: host.ip });
        else result.failure_tasks.push({ url: payload.url, hostname: host.hostname, ip: host.ip, description: host.description ?? task.error ?? 'did not finish' });
      }
    }
    const failed = planError !== null || errors.length > 0 || timedOut;
    const error = planError ?? (timedOut ? `the job timed out after ${job.timeout_ms} ms` : errors[0] ?? '');
    return { state: failed ? 'FAILURE' : 'SUCCESS', error: failed ? error : '', results: [result] };
  });
  const failed = jobStates.some((state) => state.state === 'FAILURE');
  return { state: failed ? 'FAILURE' : 'SUCCESS', result: { job_states: jobStates }, progress: preheatProgress(tasks) };
};

/**
 * PreheatTask: has chosen hosts download a task ahead of use, and streams their progress. Each host
 * is told with `DfdaemonUpload/DownloadTask`, as a seed trigger is; the daemon runs that download
 * detached, so it completes even when the caller hangs up. The task id is the one a peer asking for
 * the same download computes (blob-digest ids included), so the seed ring picks the same owner.
 */
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, taskIdOf, toGrpcError, type commonv2, type dfdaemonv2, type schedulerv2 } from '../../api/index.ts';
import { NotFoundError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Host } from '../resource/host.ts';
import type { Resources } from '../resource/resources.ts';
import { decodeDownload } from './codec.ts';
import { hostAddress, SEED_DOWNLOAD_TIMEOUT_MS } from './seed-peer.ts';

export const PREHEAT_DEFAULTS = Object.freeze({
  concurrentPeerCount: 500,
  maxConcurrentPeerCount: 1000,
  maxIps: 100,
  maxCount: 200,
  /** One progress message per host at most this often; terminal states are always sent. */
  progressIntervalMs: 250,
});

export type PreheatScope = 'single_seed_peer' | 'all_seed_peers' | 'all_peers';

const SCOPES: Record<string, PreheatScope> = {
  PREHEAT_SCOPE_SINGLE_SEED_PEER: 'single_seed_peer',
  PREHEAT_SCOPE_ALL_SEED_PEERS: 'all_seed_peers',
  PREHEAT_SCOPE_ALL_PEERS: 'all_peers',
};

export interface HostFilter {
  readonly ips: readonly string[];
  readonly count: number | undefined;
  readonly percentage: number | undefined;
}

/**
 * The hosts a preheat reaches: the ring owner, every seed, or every host narrowed by ips, else
 * count, else percentage (the first given wins, as in Dragonfly). Sorted by id so a retried preheat
 * with `count` picks the same hosts.
 */
export function selectPreheatHosts(resources: Resources, taskId: string, scope: PreheatScope, filter: HostFilter): Host[] {
  if (scope === 'single_seed_peer') {
    const owner = resources.seedHostFor(taskId);
    return owner ? [owner] : [];
  }
  const all = [...resources.hosts.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (scope === 'all_seed_peers') return all.filter((host) => host.type === 'seed');
  if (filter.ips.length > 0) {
    const wanted = new Set(filter.ips);
    return all.filter((host) => wanted.has(host.info.ip));
  }
  if (filter.count !== undefined) return all.slice(0, filter.count);
  if (filter.percentage !== undefined) return all.slice(0, Math.ceil((all.length * filter.percentage) / 100));
  return all;
}

export interface HostProgress {
  readonly bytes: number;
  readonly contentLength: number;
}

export interface PreheatDownloader {
  /** Resolves when the host's DownloadTask stream ends OK; rejects with the gRPC error otherwise. */
  download(host: Host, download: commonv2.Download, onProgress: (progress: HostProgress) => void, signal: AbortSignal): Promise<void>;
  close(): void;
}

type UploadClientConstructor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => dfdaemonv2.DfdaemonUploadClient;

/** One channel per host address, reused across preheats and closed with the scheduler. */
export function createPreheatDownloader(DfdaemonUpload: UploadClientConstructor, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()): PreheatDownloader {
  const clients = new Map<string, dfdaemonv2.DfdaemonUploadClient>();
  return {
    download(host, download, onProgress, signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal.aborted) {
          reject(signal.reason as Error);
          return;
        }
        const address = hostAddress(host.info.ip, host.info.port);
        let client = clients.get(address);
        if (!client) {
          client = new DfdaemonUpload(address, credentials);
          clients.set(address, client);
        }
        const timeoutMs = typeof download.timeoutMs === 'number' && download.timeoutMs > 0 ? download.timeoutMs : SEED_DOWNLOAD_TIMEOUT_MS;
        const call = client.DownloadTask({ download }, { deadline: Date.now() + timeoutMs });
        // Cancelling only stops the reports: the daemon runs the download detached.
        const onAbort = () => call.cancel();
        signal.addEventListener('abort', onAbort, { once: true });
        let bytes = 0;
        let contentLength = 0;
        let settled = false;
        const settle = (error?: Error) => {
          if (settled) return;
          settled = true;
          signal.removeEventListener('abort', onAbort);
          if (error) reject(error);
          else resolve();
        };
        call.on('data', (response: dfdaemonv2.DownloadTaskResponse__Output) => {
          const started = response.downloadTaskStartedResponse;
          if (started) {
            contentLength = Number(started.contentLength ?? 0);
            bytes = started.pieces.reduce((sum, piece) => sum + Number(piece.length ?? 0), 0);
          }
          const piece = response.downloadPieceFinishedResponse?.piece;
          if (piece) bytes += Number(piece.length ?? 0);
          onProgress({ bytes, contentLength });
        });
        call.on('error', (error) => settle(error));
        call.on('status', (status) => {
          if (status.code === grpc.status.OK) settle();
        });
      });
    },
    close() {
      for (const client of clients.values()) client.close();
      clients.clear();
    },
  };
}

export interface PreheatRequest {
  readonly download: commonv2.Download__Output;
  readonly taskId: string;
  readonly scope: PreheatScope;
  readonly filter: HostFilter;
  readonly concurrentPeerCount: number;
}

function optionalBound(value: number | null | undefined, field: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) throw new InvalidArgumentError(`${field} must be an integer from ${min} to ${max}`);
  return value;
}

/** The wire request to a checked one; bounds as Dragonfly's job API has them. */
export function decodePreheatRequest(request: schedulerv2.PreheatTaskRequest__Output): PreheatRequest {
  const spec = decodeDownload(request.download);
  const scope = SCOPES[String(request.scope ?? 'PREHEAT_SCOPE_SINGLE_SEED_PEER')];
  if (!scope) throw new InvalidArgumentError(`scope ${String(request.scope)} is not one of ${Object.keys(SCOPES).join(', ')}`);
  const ips = request.ips ?? [];
  if (ips.length > PREHEAT_DEFAULTS.maxIps) throw new InvalidArgumentError(`ips has more than ${PREHEAT_DEFAULTS.maxIps} entries`);
  const taskId = taskIdOf({
    url: spec.url,
    tag: spec.tag,
    application: spec.application,
    pieceLength: request.download?.pieceLength ?? undefined,
    filteredQueryParams: spec.filteredQueryParams.length > 0 ? spec.filteredQueryParams : undefined,
    contentForCalculatingTaskId: request.download?.contentForCalculatingTaskId ?? undefined,
    enableTaskIdBasedBlobDigest: request.download?.enableTaskIdBasedBlobDigest === true,
  });
  return {
    download: request.download!,
    taskId,
    scope,
    filter: {
      ips,
      count: optionalBound(request.count, 'count', 1, PREHEAT_DEFAULTS.maxCount),
      percentage: optionalBound(request.percentage, 'percentage', 1, 100),
    },
    concurrentPeerCount:
      optionalBound(request.concurrentPeerCount, 'concurrent_peer_count', 1, PREHEAT_DEFAULTS.maxConcurrentPeerCount) ?? PREHEAT_DEFAULTS.concurrentPeerCount,
  };
}

/**
 * Runs one preheat: chooses the hosts, starts at most `concurrentPeerCount` at once, reports each
 * host's progress through `emit`, and resolves when every host has succeeded or failed. After the
 * signal aborts no new host is started; those already started finish on their own.
 */
export async function runPreheat(
  deps: { readonly resources: Resources; readonly downloader: PreheatDownloader; readonly log: Logger },
  request: PreheatRequest,
  emit: (response: schedulerv2.PreheatTaskResponse) => void,
  signal: AbortSignal,
): Promise<void> {
  const hosts = selectPreheatHosts(deps.resources, request.taskId, request.scope, request.filter);
  if (hosts.length === 0) {
    const what = request.scope === 'all_peers' ? 'matching the preheat' : 'seed peer';
    throw new NotFoundError('host', what, `none for task ${request.taskId} on this scheduler`);
  }
  // Seeds download from the origin; the scheduler sends peers to the seeds when they have it.
  const wire: commonv2.Download = { ...request.download, outputPath: undefined };
  deps.log.info('preheating task', { taskId: request.taskId, scope: request.scope, hosts: hosts.length });
  const one = async (host: Host) => {
    const head = { taskId: request.taskId, hostId: host.id, hostname: host.info.hostname, ip: host.info.ip };
    let last = 0;
    let progress: HostProgress = { bytes: 0, contentLength: 0 };
    emit({ ...head, bytes: 0, contentLength: 0, state: 'PREHEAT_HOST_RUNNING' });
    try {
      await deps.downloader.download(
        host,
        wire,
        (next) => {
          progress = next;
          const now = Date.now();
          if (now - last < PREHEAT_DEFAULTS.progressIntervalMs) return;
          last = now;
          emit({ ...head, ...next, state: 'PREHEAT_HOST_RUNNING' });
        },
        signal,
      );
      emit({ ...head, bytes: Math.max(progress.bytes, progress.contentLength), contentLength: progress.contentLength, state: 'PREHEAT_HOST_SUCCEEDED' });
    } catch (error) {
      if (signal.aborted) return;
      const status = error as { code?: number; details?: string; message?: string };
      const description = status.details ?? status.message ?? String(error);
      deps.log.warn('preheat failed on a host', { taskId: request.taskId, hostId: host.id, code: status.code, description });
      emit({ ...head, ...progress, state: 'PREHEAT_HOST_FAILED', description });
    }
  };
  let next = 0;
  const worker = async () => {
    while (next < hosts.length && !signal.aborted) await one(hosts[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(request.concurrentPeerCount, hosts.length) }, worker));
}

type PreheatCall = grpc.ServerWritableStream<schedulerv2.PreheatTaskRequest__Output, schedulerv2.PreheatTaskResponse>;

/** The server-stream handler: decode, run, relay; errors through api's status table. */
export function preheatTaskHandler(deps: { readonly resources: Resources; readonly downloader: PreheatDownloader; readonly log: Logger }): (call: PreheatCall) => void {
  return (call) => {
    const controller = new AbortController();
    call.on('cancelled', () => controller.abort(new Error('caller cancelled the preheat')));
    void (async () => {
      try {
        const request = decodePreheatRequest(call.request);
        await runPreheat(deps, request, (response) => {
          if (!controller.signal.aborted) call.write(response);
        }, controller.signal);
        if (!controller.signal.aborted) call.end();
      } catch (error) {
        if (!controller.signal.aborted) call.emit('error', toGrpcError(error));
      }
    })();
  };
}

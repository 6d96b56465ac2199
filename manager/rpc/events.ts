/**
 * ReportEvents: a scheduler's client stream of event batches (hosts announced or gone, peers'
 * progress). Each batch is checked and handed to the fold; the stream is paused while a batch is
 * written, so a slow database slows the sender (HTTP/2 flow control) instead of queueing here. An
 * event that is wrong is dropped and counted, not fatal: one bad peer must not cut a scheduler's
 * whole stream; a batch whose sender is wrong ends the stream with INVALID_ARGUMENT.
 */
import { canonicalTaskUrl, toGrpcError, type Counter, type managerv2 } from '../../api/index.ts';
import type { ManagerContext } from '../context.ts';
import { sharedCounter } from '../metrics.ts';
import { clusterForScheduler } from '../store/registry.ts';
import { optionalId, requireHostname, requireIp } from './codec.ts';
import type { EventFold, HostReport, PeerReport } from './events-fold.ts';
import type { grpc } from './protos.ts';

const PEER_STATES = new Set(['running', 'succeeded', 'failed', 'back_to_source']);
const MAX_ID = 256;
const MAX_URL = 8192;

const count = (value: number | undefined): number => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0);
const short = (value: string | undefined, max = MAX_ID): string | undefined => (value && value.length <= max ? value : undefined);

export function decodeHostEvent(event: managerv2.HostEvent__Output): HostReport | undefined {
  const hostId = short(event.hostId);
  const kind = event.kind === 'announced' || event.kind === 'left' ? event.kind : undefined;
  const type = event.type === 'seed' || event.type === 'normal' ? event.type : undefined;
  if (!hostId || !kind || !type || !short(event.hostname) || !short(event.ip)) return undefined;
  const port = (value: number | undefined) => (value !== undefined && Number.isInteger(value) && value >= 0 && value <= 65535 ? value : 0);
  return {
    kind,
    hostId,
    type,
    hostname: event.hostname,
    ip: event.ip,
    port: port(event.port),
    downloadPort: port(event.downloadPort),
    idc: short(event.idc) ?? '',
    location: short(event.location) ?? '',
    version: short(event.version, 64) ?? '',
  };
}

export function decodePeerEvent(event: managerv2.PeerProgressEvent__Output): PeerReport | undefined {
  const taskId = short(event.taskId);
  const hostId = short(event.hostId);
  if (!taskId || !hostId || !PEER_STATES.has(event.state) || !short(event.url, MAX_URL)) return undefined;
  let url: string;
  try {
    // Canonical again here: a scheduler that forgot to strip a signature must not get it stored.
    url = canonicalTaskUrl(event.url);
  } catch {
    return undefined;
  }
  const length = Number(event.contentLength);
  return {
    taskId,
    url,
    digest: short(event.digest) ?? null,
    contentLength: Number.isSafeInteger(length) && length >= 0 ? length : null,
    hostId,
    hostname: short(event.hostname) ?? '',
    ip: short(event.ip, 64) ?? '',
    state: event.state,
    finishedBytes: count(event.finishedBytes),
    origin: count(event.originBytes),
    seedPeer: count(event.seedPeerBytes),
    peer: count(event.peerBytes),
  };
}

export function reportEventsHandler(
  context: ManagerContext,
  fold: EventFold,
): grpc.handleClientStreamingCall<managerv2.EventBatch__Output, Record<string, never>> {
  const invalid: Counter = sharedCounter(context.metrics, 'dragonfly_manager_events_invalid_total', 'Events from schedulers dropped as malformed.');
  const dropped: Counter = sharedCounter(context.metrics, 'dragonfly_manager_events_dropped_by_scheduler_total', 'Events schedulers said they dropped (queue full or manager away).');
  const log = context.log.child({ component: 'events' });
  return (call, callback) => {
    let clusterId: number | undefined;
    let finished = false;
    let chain: Promise<void> = Promise.resolve();
    const finish = (error?: unknown) => {
      if (finished) return;
      finished = true;
      if (error === undefined) callback(null, {});
      else callback(toGrpcError(error));
    };
    const apply = async (batch: managerv2.EventBatch__Output) => {
      requireHostname(batch.hostname);
      requireIp(batch.ip);
      clusterId ??= await clusterForScheduler(context.store.db, optionalId(batch.schedulerClusterId, 'scheduler_cluster_id'), context.now());
      dropped.inc(undefined, count(batch.dropped));
      for (const event of batch.hosts ?? []) {
        const host = decodeHostEvent(event);
        if (host) await fold.applyHost(host, clusterId);
        else invalid.inc();
      }
      for (const event of batch.peers ?? []) {
        const peer = decodePeerEvent(event);
        if (peer) await fold.applyPeer(peer);
        else invalid.inc();
      }
    };
    call.on('data', (batch: managerv2.EventBatch__Output) => {
      call.pause();
      chain = chain
        .then(() => (finished ? undefined : apply(batch)))
        .catch((error: unknown) => {
          log.warn('event batch refused', { error: (error as Error).message });
          finish(error);
        })
        .finally(() => {
          if (!finished) call.resume();
        });
    });
    const end = () => void chain.then(() => finish());
    call.on('end', end);
    call.on('cancelled', end);
    call.on('error', end);
  };
}

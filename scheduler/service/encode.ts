/** Domain values to wire messages (common.v2 / scheduler.v2). */
import type { commonv2, schedulerv2 } from '../../api/index.ts';
import type { Host } from '../resource/host.ts';
import type { AnnounceResponse, Peer } from '../resource/peer.ts';
import type { Task } from '../resource/task.ts';

const PRIORITIES = ['LEVEL0', 'LEVEL1', 'LEVEL2', 'LEVEL3', 'LEVEL4', 'LEVEL5', 'LEVEL6'] as const;

export function encodeHost(host: Host): commonv2.Host {
  const info = host.info;
  return {
    id: host.id,
    type: info.type === 'seed' ? 'HOST_TYPE_SUPER_SEED' : 'HOST_TYPE_NORMAL',
    hostname: info.hostname,
    ip: info.ip,
    port: info.port,
    downloadPort: info.downloadPort,
    proxyPort: info.proxyPort,
    os: info.os,
    platform: info.platform,
    version: info.version,
    disableShared: info.disableShared,
    schedulerClusterId: info.schedulerClusterId,
    network: {
      tcpConnectionCount: info.tcpConnectionCount,
      uploadTcpConnectionCount: info.uploadTcpConnectionCount,
      location: info.location,
      idc: info.idc,
      maxTxBandwidth: info.maxTxBandwidth,
      // The projected load, which is what the scheduler scores.
      txBandwidth: host.txBandwidth,
      maxRxBandwidth: info.maxRxBandwidth,
      rxBandwidth: info.rxBandwidth,
    },
    uploadContentLength: host.uploadContentLength,
    concurrentUploadPieceCount: host.concurrentUploadPieceCount,
  };
}

function sizeScopeOf(task: Task): commonv2.Task['sizeScope'] {
  const scope = task.sizeScope();
  // The wire has no UNKNOWN: a task of unknown length is scheduled as NORMAL.
  return scope === 'UNKNOWN' ? 'NORMAL' : scope;
}

/**
 * Stat calls get everything. Candidate lists get the layout only: `hasAvailablePeer` walks every
 * peer (and a candidate parent is itself an available peer), and the request headers of the peer
 * that created the task (credentials, say) are no business of other peers.
 */
export function encodeTask(task: Task, detail: { pieces: boolean; availability: boolean }): commonv2.Task {
  const full = detail.availability;
  const message: commonv2.Task = {
    id: task.id,
    type: task.type as commonv2.Task['type'],
    url: task.url,
    digest: task.digest,
    tag: task.tag,
    application: task.application,
    pieceLength: task.pieceLength,
    contentLength: Math.max(0, task.contentLength),
    pieceCount: task.pieceCount,
    sizeScope: sizeScopeOf(task),
    state: task.state,
    peerCount: task.peerCount,
    hasAvailablePeer: full ? task.hasAvailablePeer('', new Set()) : true,
    createdAtMs: task.createdAt,
    updatedAtMs: task.updatedAt,
  };
  // Repeated and map fields are set only when they have entries: protobufjs spends more on an
  // empty map than on the rest of the message, and candidate lists are on the hot path.
  if (task.filteredQueryParams.length > 0) message.filteredQueryParams = [...task.filteredQueryParams];
  if (full && Object.keys(task.requestHeader).length > 0) message.requestHeader = { ...task.requestHeader };
  if (detail.pieces && task.pieces.size > 0) {
    message.pieces = [...task.pieces.values()].map((piece) => ({
      number: piece.number,
      parentId: piece.parentId,
      offset: piece.offset,
      length: piece.length,
      digest: piece.digest,
      trafficType: piece.trafficType as commonv2.Piece['trafficType'],
      costMs: piece.costMs,
      createdAtMs: piece.createdAtMs,
    }));
  }
  return message;
}

/** A peer with its host (addresses to reach it) and its task (layout; pieces only when asked). */
export function encodePeer(peer: Peer, task: commonv2.Task = encodeTask(peer.task, { pieces: false, availability: true })): commonv2.Peer {
  return {
    id: peer.id,
    range: peer.range ? { start: peer.range.start, length: peer.range.length } : undefined,
    priority: PRIORITIES[peer.priority] ?? 'LEVEL0',
    costMs: peer.costMs,
    state: peer.state,
    task,
    host: encodeHost(peer.host),
    needBackToSource: peer.needBackToSource,
    createdAtMs: peer.createdAt,
    updatedAtMs: peer.updatedAt,
  };
}

export function encodeAnnounceResponse(response: AnnounceResponse): schedulerv2.AnnouncePeerResponse {
  switch (response.type) {
    case 'empty':
      return { emptyTaskResponse: {} };
    case 'normal': {
      // Every candidate belongs to the same task: encode it once.
      const first = response.parents[0];
      const task = first ? encodeTask(first.task, { pieces: false, availability: false }) : undefined;
      const normal: schedulerv2.NormalTaskResponse = { candidateParents: response.parents.map((parent) => encodePeer(parent, task)) };
      if (response.plan) {
        normal.stripeCount = response.plan.stripeCount;
        normal.stripeParents = response.plan.stripes.map(({ stripe, parentId, backupIds }) => ({ stripe, parentId, backupIds: [...backupIds] }));
      }
      return { normalTaskResponse: normal };
    }
    case 'needBackToSource':
      return { needBackToSourceResponse: { description: response.description } };
  }
}

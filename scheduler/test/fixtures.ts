/** Builders for unit tests: hosts, a task and peers in given states, without any server. */
import { PeerEvent, PeerState } from '../resource/fsm.ts';
import type { HostInfo } from '../resource/host.ts';
import type { AnnounceResponse, Peer } from '../resource/peer.ts';
import { Resources } from '../resource/resources.ts';
import type { Task } from '../resource/task.ts';

export const TASK = 'a'.repeat(64);

export function hostInfo(id: string, extra: Partial<HostInfo> = {}): HostInfo {
  return {
    id, type: 'normal', hostname: id, ip: '10.0.0.1', port: 4000, downloadPort: 4005, proxyPort: 4001, os: 'linux', platform: '', version: '',
    disableShared: false, schedulerClusterId: 0, idc: '', location: '', tcpConnectionCount: 0, uploadTcpConnectionCount: 0,
    maxTxBandwidth: 10e9, txBandwidth: 0, maxRxBandwidth: 0, rxBandwidth: 0, uploadContentLength: 0, concurrentUploadPieceCount: 0,
    ...extra,
  };
}

/** Events that take a new peer to each state. */
const PATHS: Record<PeerState, PeerEvent[]> = {
  Pending: [],
  ReceivedEmpty: ['RegisterEmpty'],
  ReceivedTiny: ['RegisterTiny'],
  ReceivedSmall: ['RegisterSmall'],
  ReceivedNormal: ['RegisterNormal'],
  Running: ['RegisterNormal', 'Download'],
  BackToSource: ['RegisterNormal', 'DownloadBackToSource'],
  Succeeded: ['RegisterNormal', 'DownloadBackToSource', 'DownloadSucceeded'],
  Failed: ['RegisterNormal', 'DownloadFailed'],
  Leave: ['RegisterNormal', 'Leave'],
};

export class World {
  readonly resources = new Resources();
  readonly task: Task;
  readonly sent = new Map<string, AnnounceResponse[]>();
  now = 1_000_000;

  constructor(options: { pieceCount?: number; backToSourceLimit?: number } = {}) {
    const pieceCount = options.pieceCount ?? 10;
    this.task = this.resources.createTask(
      {
        id: TASK, type: 'STANDARD', url: 'http://x/y', filteredQueryParams: [], requestHeader: {},
        contentLength: pieceCount * 4 * 1024 * 1024, pieceLength: 4 * 1024 * 1024, pieceCount, backToSourceLimit: options.backToSourceLimit ?? 200,
      },
      this.now,
    );
  }

  host(id: string, extra: Partial<HostInfo> = {}) {
    return this.resources.hosts.get(id) ?? this.resources.announceHost(hostInfo(id, extra), undefined, this.now);
  }

  /** A peer on `hostId` (created if needed) in `state`, with `pieces` finished pieces. */
  peer(id: string, state: PeerState, options: { host?: string; hostExtra?: Partial<HostInfo>; pieces?: number; costs?: number[] } = {}): Peer {
    const host = this.host(options.host ?? `host-${id}`, options.hostExtra);
    const responses: AnnounceResponse[] = [];
    this.sent.set(id, responses);
    const controller = new AbortController();
    const peer = this.resources.createPeer(id, this.task, host, { priority: 6, stream: { send: (r) => responses.push(r), signal: controller.signal } }, this.now);
    for (const event of PATHS[state]) peer.fire(event, this.now);
    for (let n = 0; n < (options.pieces ?? 0); n++) peer.finishedPieces.add(n);
    for (const cost of options.costs ?? []) peer.pieceCosts.push(cost);
    return peer;
  }
}

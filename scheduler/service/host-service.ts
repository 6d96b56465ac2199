/** The unary RPCs: hosts (AnnounceHost, ListHosts, LeaveHost) and the Stat/Leave calls on tasks and peers. */
import type { commonv2, schedulerv2 } from '../../api/index.ts';
import { NotFoundError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { SchedulerMetrics } from '../metrics.ts';
import type { Resources } from '../resource/resources.ts';
import { announceIntervalMs, decodeHost, hostTypeOf, id, taskId } from './codec.ts';
import { encodeHost, encodePeer, encodeTask } from './encode.ts';
import type { PeerService } from './peer-service.ts';

export interface HostServiceDeps {
  readonly resources: Resources;
  readonly metrics: SchedulerMetrics;
  readonly log: Logger;
  readonly peers: PeerService;
  readonly now: () => number;
}

/** Counts a call and its failure around `fn`. */
function counted<T>(total: { inc(): void }, failure: { inc(): void } | undefined, fn: () => T): T {
  total.inc();
  try {
    return fn();
  } catch (error) {
    failure?.inc();
    throw error;
  }
}

export class HostService {
  private readonly deps: HostServiceDeps;

  constructor(deps: HostServiceDeps) {
    this.deps = deps;
  }

  announceHost(request: schedulerv2.AnnounceHostRequest__Output): void {
    const { resources, metrics, log, now } = this.deps;
    try {
      const info = decodeHost(request.host);
      const interval = announceIntervalMs(request.intervalMs);
      const known = resources.hosts.has(info.id);
      resources.announceHost(info, interval, now());
      metrics.announceHost.inc({ os: info.os, platform: info.platform, host_type: info.type === 'seed' ? 'super' : 'normal', version: info.version });
      if (!known) log.info('host announced', { hostId: info.id, type: info.type, ip: info.ip, port: info.port, downloadPort: info.downloadPort });
    } catch (error) {
      metrics.announceHostFailure.inc();
      throw error;
    }
  }

  listHosts(request: schedulerv2.ListHostsRequest__Output): schedulerv2.ListHostsResponse {
    const { resources, metrics } = this.deps;
    return counted(metrics.listHosts, undefined, () => {
      // `type` is proto3 optional: present only when the caller set it.
      const type = request._type === 'type' && request.type !== undefined ? hostTypeOf(request.type, 'type') : undefined;
      const hosts: commonv2.Host[] = [];
      for (const host of resources.hosts.values()) if (type === undefined || host.type === type) hosts.push(encodeHost(host));
      return { hosts };
    });
  }

  leaveHost(request: schedulerv2.LeaveHostRequest__Output): void {
    const { resources, metrics, log, now, peers } = this.deps;
    counted(metrics.leaveHost, metrics.leaveHostFailure, () => {
      const hostId = id(request.hostId, 'host_id');
      const host = resources.hosts.get(hostId);
      if (!host) throw new NotFoundError('host', hostId);
      for (const peerId of host.peerIds) {
        const peer = resources.peers.get(peerId);
        if (peer) peers.detach(peer);
      }
      resources.deleteHost(host, now());
      log.info('host left', { hostId });
    });
  }

  statTask(request: schedulerv2.StatTaskRequest__Output): commonv2.Task {
    const { resources, metrics } = this.deps;
    return counted(metrics.statTask, metrics.statTaskFailure, () => {
      const id = taskId(request.taskId);
      const task = resources.tasks.get(id);
      if (!task) throw new NotFoundError('task', id);
      return encodeTask(task, { pieces: true, availability: true });
    });
  }

  statPeer(request: schedulerv2.StatPeerRequest__Output): commonv2.Peer {
    const { resources, metrics } = this.deps;
    return counted(metrics.statPeer, metrics.statPeerFailure, () => {
      const peerId = id(request.peerId, 'peer_id');
      const peer = resources.peers.get(peerId);
      if (!peer) throw new NotFoundError('peer', peerId);
      const message = encodePeer(peer, encodeTask(peer.task, { pieces: true, availability: true }));
      return { ...message, pieces: peer.finishedPieces.toArray().map((number) => ({ number })) };
    });
  }

  /** The peer leaves now (Leave state, scheduling stopped); peer GC removes it. */
  leavePeer(request: schedulerv2.LeavePeerRequest__Output): void {
    const { resources, metrics, log, now, peers } = this.deps;
    counted(metrics.leavePeer, metrics.leavePeerFailure, () => {
      const peerId = id(request.peerId, 'peer_id');
      const peer = resources.peers.get(peerId);
      if (!peer) throw new NotFoundError('peer', peerId);
      peers.detach(peer);
      resources.leavePeer(peer, now());
      log.info('peer left', { peerId });
    });
  }
}

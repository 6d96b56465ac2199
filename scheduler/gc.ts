/**
 * Garbage collection by TTL (Dragonfly's peer, task and host managers' RunGC). Peers are collected
 * in two steps, as there: a round moves a stale peer to Leave, the next removes Leave peers.
 * Timers are unref'd and stopped by `stop`.
 */
import type { Logger } from './log.ts';
import type { SchedulerMetrics } from './metrics.ts';
import { PeerEvent, PeerState, TaskEvent } from './resource/fsm.ts';
import type { Peer } from './resource/peer.ts';
import type { Resources } from './resource/resources.ts';
import { PEER_COUNT_LIMIT_FOR_TASK } from './resource/task.ts';

export interface GcOptions {
  readonly pieceDownloadTimeoutMs: number;
  readonly peerGCIntervalMs: number;
  readonly peerTTLMs: number;
  readonly taskGCIntervalMs: number;
  readonly hostGCIntervalMs: number;
  readonly hostTTLMs: number;
}

/** Why a live peer must leave now, or undefined. Pure, for table tests. */
export function peerLeaveReason(peer: Peer, now: number, options: GcOptions): string | undefined {
  const state = peer.state;
  if ((state === PeerState.Running || state === PeerState.BackToSource) && now - peer.pieceUpdatedAt > options.pieceDownloadTimeoutMs) {
    return 'no piece within pieceDownloadTimeout';
  }
  if (now - peer.updatedAt > options.peerTTLMs) return 'peerTTL passed';
  if (now - peer.host.updatedAt > options.hostTTLMs) return "its host's hostTTL passed";
  if (state === PeerState.Failed) return 'failed';
  if (peer.task.peerCount > PEER_COUNT_LIMIT_FOR_TASK && state === PeerState.Succeeded && peer.task.outDegree(peer.id) === 0) {
    return 'task has too many peers and this one serves nobody';
  }
  return undefined;
}

export class GarbageCollector {
  private readonly resources: Resources;
  private readonly options: GcOptions;
  private readonly metrics: SchedulerMetrics;
  private readonly log: Logger;
  private readonly now: () => number;
  /** Told when a peer is moved to Leave, to stop its scheduling. */
  private readonly onPeerLeave: (peer: Peer) => void;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(deps: {
    resources: Resources;
    options: GcOptions;
    metrics: SchedulerMetrics;
    log: Logger;
    now: () => number;
    onPeerLeave: (peer: Peer) => void;
  }) {
    this.resources = deps.resources;
    this.options = deps.options;
    this.metrics = deps.metrics;
    this.log = deps.log;
    this.now = deps.now;
    this.onPeerLeave = deps.onPeerLeave;
  }

  start(): void {
    const every = (ms: number, run: () => void) => {
      const timer = setInterval(() => {
        try {
          run();
        } catch (error) {
          this.log.error('gc round failed', { error });
        }
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.options.peerGCIntervalMs, () => this.collectPeers());
    every(this.options.taskGCIntervalMs, () => this.collectTasks());
    every(this.options.hostGCIntervalMs, () => this.collectHosts());
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
  }

  collectPeers(now = this.now()): void {
    for (const peer of [...this.resources.peers.values()]) {
      if (peer.state === PeerState.Leave) {
        this.resources.deletePeer(peer);
        this.metrics.gcReclaimed.inc({ type: 'peer' });
        continue;
      }
      const reason = peerLeaveReason(peer, now, this.options);
      if (reason) {
        this.log.info('peer leaves', { peerId: peer.id, reason });
        this.onPeerLeave(peer);
        peer.fire(PeerEvent.Leave, now);
      }
    }
  }

  collectTasks(now = this.now()): void {
    for (const task of [...this.resources.tasks.values()]) {
      if (task.peerCount > 0) continue;
      if (task.fsm.can(TaskEvent.Leave)) task.fire(TaskEvent.Leave, now);
      this.resources.deleteTask(task);
      this.metrics.gcReclaimed.inc({ type: 'task' });
      this.log.info('task reclaimed', { taskId: task.id });
    }
  }

  /** Hosts not heard of for two announce intervals (or hostTTL) are forgotten, their peers leave. */
  collectHosts(now = this.now()): void {
    for (const host of [...this.resources.hosts.values()]) {
      if (now <= host.expiresAt(this.options.hostTTLMs)) continue;
      for (const peerId of host.peerIds) {
        const peer = this.resources.peers.get(peerId);
        if (peer) this.onPeerLeave(peer);
      }
      this.resources.deleteHost(host, now);
      this.metrics.gcReclaimed.inc({ type: 'host' });
      this.log.info('host forgotten after missed announces', { hostId: host.id });
    }
  }
}

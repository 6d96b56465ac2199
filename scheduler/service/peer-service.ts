/**
 * The AnnouncePeer service (Dragonfly's `service_v2.go`): registration, the seed-peer trigger and
 * the priority rules. Per-stream report handling lives in PeerSession.
 */
import { ShuttingDownError, type commonv2 } from '../../api/index.ts';
import { NoCandidateError, NotFoundError, PeerExistsError, ScheduleError } from '../errors.ts';
import type { PeerEventSink } from '../events-reporter.ts';
import type { Logger } from '../log.ts';
import type { SchedulerMetrics } from '../metrics.ts';
import { PeerEvent, PeerState, TaskEvent, TaskState } from '../resource/fsm.ts';
import type { Host } from '../resource/host.ts';
import type { Peer, PeerStream } from '../resource/peer.ts';
import type { Resources } from '../resource/resources.ts';
import type { Task } from '../resource/task.ts';
import type { Scheduling } from '../scheduling/scheduler.ts';
import type { DownloadSpec } from './codec.ts';
import { PeerSession } from './peer-session.ts';
import type { SeedDownloader } from './seed-peer.ts';

/** Dragonfly's register back-off for non-seed hosts (`baseDelayForRegisterPeer`, `maxDelayForRegisterPeer`). */
export const REGISTER_DELAY_BASE_MS = 30;
export const REGISTER_DELAY_MAX_MS = 1000;

export interface PeerServiceDeps {
  readonly resources: Resources;
  readonly scheduling: Scheduling;
  readonly metrics: SchedulerMetrics;
  readonly log: Logger;
  readonly seeds: SeedDownloader;
  readonly seedPeerEnabled: boolean;
  readonly backToSourceCount: number;
  readonly now: () => number;
  readonly random?: () => number;
  /** Told of every peer change and finished piece, for the manager (set only with manager.addr). */
  readonly events?: PeerEventSink | undefined;
}

/** Labels of the per-peer counters. */
export function peerLabels(peer: Peer) {
  return { priority: `LEVEL${peer.priority}`, task_type: peer.task.type, host_type: peer.host.type === 'seed' ? 'super' : 'normal' };
}

/** Exponential delay with jitter: base * 2^attempt capped at max, then a uniform pick in [d/2, 3d/2). */
export function registerDelayMs(attempt: number, random: () => number = Math.random): number {
  const delay = Math.min(REGISTER_DELAY_BASE_MS * 2 ** Math.min(attempt, 30), REGISTER_DELAY_MAX_MS);
  return delay / 2 + random() * delay;
}

export class PeerService {
  readonly deps: PeerServiceDeps;
  private readonly sessions = new Set<PeerSession>();
  private readonly controller = new AbortController();

  constructor(deps: PeerServiceDeps) {
    this.deps = deps;
  }

  /** A session per AnnouncePeer stream; `send` writes one response to it, `end` ends it with an error. */
  openSession(send: PeerStream['send'], end: (error: Error) => void): PeerSession {
    const session = new PeerSession(this, send, end);
    this.sessions.add(session);
    this.deps.metrics.announcePeer.inc();
    return session;
  }

  /** Called by the session when its stream is over. */
  forget(session: PeerSession): void {
    this.sessions.delete(session);
  }

  /** Stops every scheduling loop and seed call: the scheduler is shutting down. */
  close(): void {
    this.controller.abort(new ShuttingDownError('the scheduler is shutting down'));
    for (const session of [...this.sessions]) session.close('shutdown');
  }

  /** Stops the scheduling of a peer that left by LeavePeer or GC; its stream stays open. */
  detach(peer: Peer): void {
    this.deps.scheduling.peerEnded(peer);
    for (const session of this.sessions) if (session.peer === peer) session.abortScheduling();
  }

  /** Creates the peer (and its task if new) for a RegisterPeerRequest: the synchronous part of registration. */
  createPeer(hostId: string, taskId: string, peerId: string, download: DownloadSpec, stream: PeerStream): Peer {
    const { resources, now } = this.deps;
    const host = resources.hosts.get(hostId);
    if (!host) throw new NotFoundError('host', hostId, 'announce the host with AnnounceHost before registering peers');
    if (resources.peers.has(peerId)) throw new PeerExistsError(peerId);
    const task = this.loadOrCreateTask(taskId, download);
    return resources.createPeer(
      peerId,
      task,
      host,
      { priority: download.priority, range: download.range, concurrentPieceCount: download.concurrentPieceCount, stream },
      now(),
    );
  }

  /** Registration after the peer exists: back-off, seed trigger, then EmptyTask or scheduling. */
  async register(peer: Peer, download: DownloadSpec): Promise<void> {
    const { metrics, now } = this.deps;
    const host = peer.host;
    const task = peer.task;
    metrics.registerPeer.inc(peerLabels(peer));
    host.concurrentRegisterCount++;
    try {
      // Spread a burst of registrations from one host (Dragonfly delays every one; the first is free here).
      if (host.type === 'normal' && host.concurrentRegisterCount > 1) {
        await sleep(registerDelayMs(host.concurrentRegisterCount - 1, this.deps.random), peer.stream?.signal);
      }
      this.decideSource(peer, download);
      if (task.state !== TaskState.Running) task.fire(TaskEvent.Download, now());
      else task.updatedAt = now();

      if (task.sizeScope() === 'EMPTY') {
        peer.fire(PeerEvent.RegisterEmpty, now());
        if (!peer.stream) throw new ScheduleError('AnnouncePeer stream is gone');
        peer.stream.send({ type: 'empty' });
        return;
      }
      // TINY and SMALL are scheduled like NORMAL, as in Dragonfly v2.
      peer.fire(PeerEvent.RegisterNormal, now());
      peer.blockParents.add(peer.id);
      await this.schedule(peer);
    } catch (error) {
      metrics.registerPeerFailure.inc(peerLabels(peer));
      throw error;
    } finally {
      host.concurrentRegisterCount--;
    }
  }

  /** Finds parents for the peer (register, reschedule) and records how long it took. */
  async schedule(peer: Peer): Promise<void> {
    const { metrics, now, scheduling } = this.deps;
    const start = now();
    metrics.concurrentSchedule.labels().inc();
    try {
      await scheduling.scheduleCandidateParents(peer, peer.blockParents);
      metrics.scheduleDuration.labels().observe(now() - start);
    } finally {
      metrics.concurrentSchedule.labels().dec();
    }
  }

  /** Seed peers that fail a task make the peers waiting on them go to the origin instead. */
  onSeedFailed(task: Task): void {
    for (const peer of task.peers()) {
      if (peer.state === PeerState.ReceivedNormal && peer.host.type === 'normal') peer.needBackToSource = true;
    }
    task.wakeWaiters();
  }

  private loadOrCreateTask(taskId: string, download: DownloadSpec): Task {
    const { resources, now } = this.deps;
    const task = resources.tasks.get(taskId);
    if (!task) {
      return resources.createTask(
        {
          id: taskId,
          type: download.type,
          url: download.url,
          digest: download.digest,
          tag: download.tag,
          application: download.application,
          filteredQueryParams: download.filteredQueryParams,
          requestHeader: download.requestHeader,
          contentLength: download.contentLength,
          pieceLength: download.pieceLength,
          pieceCount: download.pieceCount,
          backToSourceLimit: this.deps.backToSourceCount,
        },
        now(),
      );
    }
    task.url = download.url;
    task.filteredQueryParams = download.filteredQueryParams;
    task.requestHeader = download.requestHeader;
    // The layout is learnt from the first peer that knows it (a failed origin download forgets it).
    if (task.contentLength < 0 && download.contentLength >= 0) {
      task.contentLength = download.contentLength;
      task.pieceLength = download.pieceLength;
      task.pieceCount = download.pieceCount;
    }
    return task;
  }

  /**
   * Who downloads first (`handleRegisterPeerRequest`): a peer that asks goes to the origin; when the
   * task has nobody to download from, a normal host triggers the seed peer (by priority) and a seed
   * host, or any host without seeds, goes to the origin itself.
   */
  private decideSource(peer: Peer, download: DownloadSpec): void {
    const task = peer.task;
    if (download.needBackToSource) {
      peer.needBackToSource = true;
      return;
    }
    const state = task.state;
    const nobodyHasIt =
      state === TaskState.Pending ||
      state === TaskState.Failed ||
      state === TaskState.Leave ||
      (state === TaskState.Succeeded && !task.hasAvailablePeer(peer.host.id, new Set([peer.id])));
    if (!nobodyHasIt) return;
    if (peer.host.type === 'normal' && this.deps.seedPeerEnabled && this.deps.resources.seedRing.size > 0) {
      this.triggerSeedByPriority(peer, download);
    } else {
      peer.needBackToSource = true;
    }
  }

  /** Dragonfly's `downloadTaskBySeedPeer`: LEVEL0/4/5/6 seed, LEVEL3 self, LEVEL2 NotFound, LEVEL1 forbidden. */
  private triggerSeedByPriority(peer: Peer, download: DownloadSpec): void {
    // LEVEL0 is what an unset proto3 enum reads as; it behaves as the LEVEL6 default.
    switch (peer.priority) {
      case 0:
      case 6:
      case 5:
      case 4:
        if (!peer.task.isSeedPeerFailed(this.deps.now())) {
          this.triggerSeed(peer, download);
          return;
        }
        peer.needBackToSource = true;
        return;
      case 3:
        peer.needBackToSource = true;
        return;
      case 2:
        throw new NoCandidateError('LEVEL2 peer not found candidate peers');
      case 1:
        throw new ScheduleError('LEVEL1 peer is forbidden');
    }
  }

  /** Asynchronously asks the task's seed host to download it from the origin. */
  private triggerSeed(peer: Peer, download: DownloadSpec): void {
    const { resources, seeds, metrics, log, now } = this.deps;
    const task = peer.task;
    if (task.seedTriggerInFlight) return;
    const seedHost: Host | undefined = resources.seedHostFor(task.id);
    if (!seedHost) {
      peer.needBackToSource = true;
      return;
    }
    task.seedTriggerInFlight = true;
    metrics.seedTrigger.inc();
    // The seed downloads for the whole cluster: from the origin, into its own storage only.
    const wire: commonv2.Download = { ...download.wire, needBackToSource: true, outputPath: undefined };
    log.info('triggering seed peer', { taskId: task.id, seedHostId: seedHost.id });
    seeds
      .downloadTask(seedHost, wire, this.controller.signal)
      .then(
        () => log.info('seed peer finished task', { taskId: task.id, seedHostId: seedHost.id }),
        (error: unknown) => {
          if (this.controller.signal.aborted) return;
          metrics.seedTriggerFailure.inc();
          log.warn('seed peer failed task; waiting peers go back to source', { taskId: task.id, seedHostId: seedHost.id, error });
          task.seedFailedAt = now();
          this.onSeedFailed(task);
        },
      )
      .finally(() => {
        task.seedTriggerInFlight = false;
      });
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

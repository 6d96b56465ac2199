/**
 * One AnnouncePeer stream: the peer it registered and the handling of that peer's reports, in
 * Dragonfly's order (`service_v2.go::AnnouncePeer`). `handle` returns 'close' after a final report
 * (the server then ends the stream with OK), a promise while it schedules, or throws to end the
 * stream with the error's status.
 */
import { InvalidArgumentError, ShuttingDownError, type CounterChild } from '../../api/index.ts';
import { NotFoundError, ScheduleAbortedError } from '../errors.ts';
import { PeerEvent, PeerState, TaskEvent, TaskState } from '../resource/fsm.ts';
import type { Peer, PeerStream } from '../resource/peer.ts';
import type { PeerRequest, PieceReport } from './codec.ts';
import { peerLabels, type PeerService } from './peer-service.ts';

export type HandleResult = void | 'close' | Promise<void | 'close'>;

/** One reason for every closed stream: building an error (and its stack) per stream costs. */
const STREAM_CLOSED = new ScheduleAbortedError('scheduling aborted: the stream closed');

export class PeerSession {
  peer: Peer | undefined;
  private readonly service: PeerService;
  private readonly controller = new AbortController();
  private readonly stream: PeerStream;
  private closed = false;
  /** Counter children bound per traffic type: piece reports are the hot path. */
  private readonly pieceCounters = new Map<string, { finished: CounterChild; failed: CounterChild; traffic: CounterChild }>();

  /** Ends the stream from the server side; called when the scheduler shuts down. */
  private readonly end: (error: Error) => void;

  constructor(service: PeerService, send: PeerStream['send'], end: (error: Error) => void) {
    this.service = service;
    this.stream = { send, signal: this.controller.signal };
    this.end = end;
  }

  handle(request: PeerRequest): HandleResult {
    if (this.closed) return 'close';
    if (request.kind === 'register') return this.register(request);
    const peer = this.requirePeer(request);
    const { now } = this.service.deps;
    this.service.deps.events?.peerChanged(peer);
    switch (request.kind) {
      case 'started':
        return this.started(peer);
      case 'backToSourceStarted':
        return this.backToSourceStarted(peer);
      case 'reschedule':
        for (const parentId of request.parentIds) peer.blockParents.add(parentId);
        return this.service.schedule(peer);
      case 'finished':
        return this.finished(peer);
      case 'backToSourceFinished':
        return this.backToSourceFinished(peer, request.contentLength, request.pieceCount);
      case 'failed':
        this.fail(peer, false);
        return 'close';
      case 'backToSourceFailed':
        this.fail(peer, true);
        return 'close';
      case 'pieceFinished':
        return this.pieceFinished(peer, request.piece, false);
      case 'pieceBackToSourceFinished':
        return this.pieceFinished(peer, request.piece, true);
      case 'pieceFailed': {
        this.checkPieceNumber(peer, request.pieceNumber);
        const counters = this.countersFor(peer, 'REMOTE_PEER');
        counters.finished.inc();
        counters.failed.inc();
        peer.updatedAt = peer.task.updatedAt = now();
        // The parent is blocklisted for this peer whether the failure is temporary or not.
        if (request.parentId) {
          peer.blockParents.add(request.parentId);
          const parent = this.service.deps.resources.peers.get(request.parentId);
          if (parent) parent.host.uploadFailedCount++;
          this.service.deps.scheduling.pieceFailed(peer, request.pieceNumber, request.parentId);
        }
        if (!request.temporary) this.service.deps.log.warn('piece failed', { peerId: peer.id, parentId: request.parentId, piece: request.pieceNumber });
        return;
      }
      case 'pieceBackToSourceFailed': {
        this.checkPieceNumber(peer, request.pieceNumber);
        const counters = this.countersFor(peer, 'BACK_TO_SOURCE');
        counters.finished.inc();
        counters.failed.inc();
        peer.updatedAt = peer.task.updatedAt = now();
        this.service.deps.log.warn('piece failed from the origin', {
          peerId: peer.id,
          piece: request.pieceNumber,
          statusCode: request.statusCode,
          description: request.description,
        });
        return;
      }
    }
  }

  /** The stream is over. A peer that did not report its end is marked Failed (GC then collects it). */
  close(reason: 'finished' | 'ended' | 'error' | 'shutdown'): void {
    if (this.closed) return;
    this.closed = true;
    this.controller.abort(STREAM_CLOSED);
    this.service.forget(this);
    // The peer may go on with another scheduler: it is not failed here.
    if (reason === 'shutdown') this.end(new ShuttingDownError('the scheduler is shutting down'));
    const peer = this.peer;
    if (!peer) return;
    if (peer.stream === this.stream) peer.stream = undefined;
    const { resources, metrics, log, now } = this.service.deps;
    if (peer.isFinal || resources.peers.get(peer.id) !== peer || reason === 'shutdown') return;
    try {
      peer.fire(PeerEvent.DownloadFailed, now());
    } catch (error) {
      // Runs from stream events: a throw here would take the process down.
      log.error('cannot fail the peer of a closed stream', { peerId: peer.id, error });
      return;
    }
    this.service.deps.scheduling.peerEnded(peer);
    metrics.downloadPeer.inc(peerLabels(peer));
    metrics.downloadPeerFailure.inc(peerLabels(peer));
    this.service.deps.events?.peerChanged(peer);
    log.info('stream ended before the peer finished; peer failed', { peerId: peer.id, reason });
    if (peer.host.type === 'seed') this.service.onSeedFailed(peer.task);
  }

  /** The peer left (LeavePeer, GC): its scheduling stops now; later reports get NOT_FOUND. */
  abortScheduling(): void {
    if (this.peer && this.peer.stream === this.stream) this.peer.stream = undefined;
    this.controller.abort(new ScheduleAbortedError('scheduling aborted: the peer left'));
  }

  private register(request: Extract<PeerRequest, { kind: 'register' }>): Promise<void> {
    if (this.peer) throw new InvalidArgumentError(`this stream already registered peer ${this.peer.id}: one stream per peer`);
    this.peer = this.service.createPeer(request.hostId, request.taskId, request.peerId, request.download, this.stream);
    this.service.deps.events?.peerChanged(this.peer);
    return this.service.register(this.peer, request.download);
  }

  private requirePeer(request: PeerRequest): Peer {
    const peer = this.peer;
    if (!peer) {
      if (this.service.deps.resources.peers.has(request.peerId)) {
        throw new InvalidArgumentError(`peer ${request.peerId} is registered on another stream; report on that stream`);
      }
      throw new NotFoundError('peer', request.peerId, 'send RegisterPeerRequest first on this stream');
    }
    if (request.peerId !== peer.id || request.taskId !== peer.task.id || request.hostId !== peer.host.id) {
      throw new InvalidArgumentError(`this stream belongs to peer ${peer.id} of task ${peer.task.id} on host ${peer.host.id}`);
    }
    if (peer.state === PeerState.Leave || this.service.deps.resources.peers.get(peer.id) !== peer) {
      throw new NotFoundError('peer', peer.id, 'it has left');
    }
    return peer;
  }

  private started(peer: Peer): void {
    const { metrics, now } = this.service.deps;
    metrics.downloadPeerStarted.inc(peerLabels(peer));
    if (peer.state === PeerState.Running) return;
    try {
      peer.fire(PeerEvent.Download, now());
    } catch (error) {
      metrics.downloadPeerStartedFailure.inc(peerLabels(peer));
      throw error;
    }
  }

  private backToSourceStarted(peer: Peer): void {
    const { metrics, now } = this.service.deps;
    metrics.downloadPeerBackToSourceStarted.inc(peerLabels(peer));
    // A Running peer that falls back to the origin keeps its state, as in Dragonfly.
    if (peer.state === PeerState.Running) return;
    try {
      peer.fire(PeerEvent.DownloadBackToSource, now());
    } catch (error) {
      metrics.downloadPeerBackToSourceStartedFailure.inc(peerLabels(peer));
      throw error;
    }
    peer.task.wakeWaiters();
  }

  private finished(peer: Peer): 'close' {
    const { metrics, now } = this.service.deps;
    peer.costMs = now() - peer.createdAt;
    peer.fire(PeerEvent.DownloadSucceeded, now());
    metrics.downloadPeer.inc(peerLabels(peer));
    metrics.downloadPeerDuration.labels().observe(peer.costMs);
    peer.task.wakeWaiters();
    return 'close';
  }

  private backToSourceFinished(peer: Peer, contentLength: number, pieceCount: number): 'close' {
    const { metrics, now } = this.service.deps;
    const task = peer.task;
    peer.costMs = now() - peer.createdAt;
    peer.fire(PeerEvent.DownloadSucceeded, now());
    // Only a whole download (no range) tells that the task is complete.
    if (!peer.range && task.state !== TaskState.Succeeded) {
      if (task.contentLength < 0) {
        task.contentLength = contentLength;
        task.pieceCount = pieceCount;
      }
      if (task.fsm.can(TaskEvent.DownloadSucceeded)) task.fire(TaskEvent.DownloadSucceeded, now());
    }
    metrics.downloadPeer.inc(peerLabels(peer));
    metrics.downloadPeerDuration.labels().observe(peer.costMs);
    task.wakeWaiters();
    return 'close';
  }

  private fail(peer: Peer, backToSource: boolean): void {
    const { metrics, now } = this.service.deps;
    const task = peer.task;
    peer.fire(PeerEvent.DownloadFailed, now());
    this.service.deps.scheduling.peerEnded(peer);
    metrics.downloadPeer.inc(peerLabels(peer));
    if (backToSource) {
      metrics.downloadPeerBackToSourceFailure.inc(peerLabels(peer));
      // The origin may have changed: forget the layout; the next peer tells it again.
      task.contentLength = -1;
      task.pieceCount = 0;
      if (task.state === TaskState.Running) task.fire(TaskEvent.DownloadFailed, now());
    } else {
      metrics.downloadPeerFailure.inc(peerLabels(peer));
    }
    if (peer.host.type === 'seed') this.service.onSeedFailed(task);
  }

  private pieceFinished(peer: Peer, piece: PieceReport, backToSource: boolean): void {
    this.checkPieceNumber(peer, piece.number);
    const { resources, now } = this.service.deps;
    const task = peer.task;
    const at = now();
    if (peer.finishedPieces.add(piece.number) && peer.finishedPieces.count === 1) task.wakeWaiters();
    peer.pieceCosts.push(piece.costMs);
    peer.pieceUpdatedAt = peer.updatedAt = task.updatedAt = at;
    if (backToSource) {
      task.pieces.set(piece.number, piece);
    } else if (piece.parentId) {
      // The parent served: keep it (and its host) from being collected.
      const parent = resources.peers.get(piece.parentId);
      if (parent) parent.updatedAt = parent.host.updatedAt = at;
    }
    const counters = this.countersFor(peer, piece.trafficType);
    counters.finished.inc();
    counters.traffic.inc(piece.length);
    this.service.deps.events?.pieceFinished(peer, piece.length, piece.parentId, backToSource);
  }

  private checkPieceNumber(peer: Peer, number: number | undefined): void {
    const count = peer.task.pieceCount;
    if (number !== undefined && count > 0 && number >= count) {
      throw new InvalidArgumentError(`piece ${number} is out of range: task ${peer.task.id} has ${count} pieces`);
    }
  }

  private countersFor(peer: Peer, trafficType: string) {
    let counters = this.pieceCounters.get(trafficType);
    if (!counters) {
      const { metrics } = this.service.deps;
      const labels = { traffic_type: trafficType, task_type: peer.task.type, host_type: peer.host.type === 'seed' ? 'super' : 'normal' };
      counters = {
        finished: metrics.downloadPieceFinished.labels(labels),
        failed: metrics.downloadPieceFinishedFailure.labels(labels),
        traffic: metrics.traffic.labels({ type: trafficType, task_type: labels.task_type, host_type: labels.host_type }),
      };
      this.pieceCounters.set(trafficType, counters);
    }
    return counters;
  }
}

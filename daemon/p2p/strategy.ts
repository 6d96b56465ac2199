/**
 * Where a daemon's pieces come from (Dragonfly's `Task::download` decision order), as an engine
 * PieceStrategy, run after the origin is stat'ed and the task opened:
 * 1. content of at most 4 MiB: straight from the origin, without the scheduler (not on a seed peer,
 *    whose copy the scheduler must know of);
 * 2. otherwise AnnouncePeer: register with the actual layout, then follow the scheduler's answers:
 *    Normal(parents) -> pieces from parents, reschedule when they run dry (at most
 *    `maxScheduleCount` rounds); NeedBackToSource -> pieces from the origin, reported as such.
 *    A Normal answer may carry a striped plan (stripe-plan.ts), and a newer one pushed while a
 *    round runs replaces the plan and adds its parents at once (round-reader.ts); any other answer
 *    arriving mid-round ends the round and is handled here as between rounds;
 * 3. whatever is still missing after that, or if the scheduler cannot be reached or breaks off at
 *    any point: from the origin (unless back-to-source is disabled). The scheduler is never on the
 *    critical path.
 */
import { GrpcStatus, type commonv2 } from '../../api/index.ts';
import type { PieceSession, PieceStrategy, TokenBucket } from '../../engine/index.ts';
import type { DfdaemonConfig } from '../config.ts';
import { BackToSourceDisabledError, SchedulerLostError } from '../errors.ts';
import type { Identity } from '../host.ts';
import type { Logger } from '../log.ts';
import type { DaemonMetrics } from '../metrics.ts';
import { pieceMessage } from '../rpc/encode.ts';
import { downloadOf, type TaskRequest } from '../tasks/request.ts';
import { unary, type SchedulerClients } from '../scheduler/clients.ts';
import { AnnounceStream } from './announce-stream.ts';
import { fetchFromOrigin } from './origin.ts';
import type { PieceClient } from './piece-client.ts';
import { PieceCollector, type CandidateParent, type UploadClients } from './piece-collector.ts';
import { runParentRound } from './parent-round.ts';
import { readDuringRound } from './round-reader.ts';
import { PlanSlot, StripePlan } from './stripe-plan.ts';

/** Dragonfly's rule (commit d5d26b4c): this small, the origin is quicker than any scheduling. */
export const DIRECT_FROM_ORIGIN_MAX_BYTES = 4 * 1024 * 1024;

export interface P2pDeps {
  readonly config: DfdaemonConfig;
  readonly identity: Identity;
  readonly schedulers: SchedulerClients;
  readonly uploadClients: UploadClients;
  readonly pieceClient: PieceClient;
  readonly limiter: TokenBucket;
  readonly metrics: DaemonMetrics;
  readonly log: Logger;
  /** The scheduler said it does not know this host: announce again. */
  readonly onHostUnknown?: () => void;
}


export class P2pDownloads {
  readonly #deps: P2pDeps;
  /** The peer id each task last registered with, so deleting the task can tell the scheduler. */
  readonly #registered = new Map<string, string>();

  constructor(deps: P2pDeps) {
    this.#deps = deps;
  }

  strategyFor(input: { request: TaskRequest; taskId: string; peerId: string; seed: boolean }): PieceStrategy {
    return (session) => this.#run(session, input.request, input.peerId, input.seed);
  }

  async #run(session: PieceSession, spec: TaskRequest, peerId: string, seed: boolean): Promise<void> {
    const order = { headStart: spec.inOrderReader };
    const { config, log, limiter } = this.#deps;
    const { task, stat } = session;
    // A seed is asked for a task (a trigger, a preheat) so that others can fetch it from here: it
    // registers even when the task is small or already stored, or the scheduler never learns of
    // its copy and sends every peer to the origin.
    if (task.complete && !seed) return;
    const mayUseOrigin = config.scheduler.enableBackToSource && !spec.disableBackToSource;
    const small = stat.contentLength <= (spec.directFromOriginMaxBytes ?? DIRECT_FROM_ORIGIN_MAX_BYTES);
    if (small && !seed && mayUseOrigin) return fetchFromOrigin(session, limiter, order);
    try {
      await this.#withScheduler(session, spec, peerId);
    } catch (error) {
      if (!(error instanceof SchedulerLostError) || session.signal?.aborted) throw error;
      log.warn('scheduler unavailable; finishing from the origin', { taskId: task.id, reason: error.message });
    }
    if (task.complete) return;
    if (!mayUseOrigin) {
      throw new BackToSourceDisabledError(`no parent could give the ${task.missingPieces().length} missing pieces of task ${task.id}, and back-to-source is disabled`);
    }
    await fetchFromOrigin(session, limiter, order);
  }

  /** Registers and follows the scheduler; returns with pieces possibly missing (the caller goes to the origin). */
  async #withScheduler(session: PieceSession, spec: TaskRequest, peerId: string): Promise<void> {
    const { config, identity, schedulers, log } = this.#deps;
    const { task } = session;
    const { addr, client } = schedulers.forTask(task.id);
    const stream = new AnnounceStream(client, { hostId: identity.hostId, taskId: task.id, peerId }, addr);
    const signal = session.signal;
    const onAbort = () => stream.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    const collector = new PieceCollector({ taskId: task.id, hostId: identity.hostId, clients: this.#deps.uploadClients, relay: config.download.relay });
    const blocked = new Set<string>([peerId]);
    const plan = new PlanSlot();
    const reportedSwitches = new Set<string>();
    try {
      stream.send({ registerPeerRequest: { download: downloadOf(spec, session.task) } });
      this.#registered.set(task.id, peerId);
      let rounds = 0;
      let started = false;
      for (;;) {
        const response = await stream.next(config.scheduler.scheduleTimeout, signal).catch((error: unknown) => {
          if (error instanceof SchedulerLostError && error.grpcCode === GrpcStatus.NOT_FOUND) this.#deps.onHostUnknown?.();
          throw error;
        });
        if (response.emptyTaskResponse) {
          stream.send({ downloadPeerStartedRequest: {} });
          stream.send({ downloadPeerFinishedRequest: { contentLength: 0, pieceCount: 0 } });
          stream.end();
          return;
        }
        if (response.needBackToSourceResponse) {
          log.info('scheduler: back to source', { taskId: task.id, reason: response.needBackToSourceResponse.description });
          return await this.#backToSource(session, stream, spec.inOrderReader);
        }
        /** This round's parents, with those the scheduler adds while it runs. */
        const parents = new Map<string, CandidateParent>();
        const follow = (normal: typeof response.normalTaskResponse, mid: boolean) => {
          const more = this.#parentsOf(normal?.candidateParents ?? []);
          for (const parent of more) parents.set(parent.peerId, parent);
          collector.add(more);
          plan.replace(StripePlan.of(normal));
          log.info(mid ? 'scheduler: new parents mid-round' : 'scheduler: candidate parents', {
            taskId: task.id,
            round: rounds + 1,
            parents: more.map((p) => p.peerId),
            stripes: plan.plan?.stripeCount,
          });
          collector.notify();
        };
        if (!started) {
          stream.send({ downloadPeerStartedRequest: {} });
          this.#reportStored(session, stream);
          started = true;
        }
        follow(response.normalTaskResponse, false);
        const stop = new AbortController();
        const reader = readDuringRound(stream, { plan: (normal) => follow(normal, true), other: () => stop.abort() });
        const result = await runParentRound(
          {
            session,
            collector,
            pieceClient: this.#deps.pieceClient,
            limiter: this.#deps.limiter,
            collectedPieceTimeoutMs: config.download.collectedPieceTimeout,
            metrics: this.#deps.metrics,
            log,
            headStart: spec.inOrderReader,
            report: {
              pieceFinished: (record, parentId) =>
                stream.send({ downloadPieceFinishedRequest: { piece: { ...pieceMessage(record, 'remote_peer'), parentId } } }),
              pieceFailed: (number, parentId) => stream.send({ downloadPieceFailedRequest: { pieceNumber: number, parentId, temporary: true } }),
            },
            plan,
            reportedSwitches,
            stop: stop.signal,
          },
          blocked,
        ).finally(() => reader.stop());
        if (result === 'complete') {
          stream.send({ downloadPeerFinishedRequest: { contentLength: task.contentLength, pieceCount: task.pieceCount } });
          stream.end();
          return;
        }
        // The answer that stopped the round is next on the stream.
        if (result === 'stopped') continue;
        if (stream.broken) throw stream.broken;
        rounds++;
        if (rounds >= config.scheduler.maxScheduleCount) {
          stream.send({ downloadPeerFailedRequest: { description: 'max schedule count exceeded' } });
          stream.end();
          log.warn('max schedule count exceeded; going back to source', { taskId: task.id, rounds });
          return;
        }
        // The parents given up on are listed so the scheduler blocklists them: all of this round's
        // (the DAG's way), or with a striped plan only those that failed, since the forest places
        // this peer again from its parents and backups, and blocking every one of them would get
        // back a plan of blocked parents (measured: five rounds gone in a millisecond, then the origin).
        const gaveUp = plan.plan ? [...parents.keys()].filter((id) => blocked.has(id)) : [...parents.keys()];
        for (const id of gaveUp) blocked.add(id);
        stream.send({
          reschedulePeerRequest: {
            candidateParents: gaveUp.map((id) => ({ id })),
            description: `${task.missingPieces().length} pieces missing and no parent can give them`,
          },
        });
      }
    } catch (error) {
      stream.cancel();
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      collector.close();
    }
  }

  /**
   * The task is gone from this daemon (deleted, evicted): LeavePeer, so the scheduler stops offering
   * this peer as a parent. Best effort: a scheduler that is down forgets the peer by GC anyway.
   */
  async leave(taskId: string): Promise<void> {
    const peerId = this.#registered.get(taskId);
    if (!peerId) return;
    this.#registered.delete(taskId);
    const { client } = this.#deps.schedulers.forTask(taskId);
    await unary(client.leavePeer.bind(client), { hostId: this.#deps.identity.hostId, taskId, peerId }, 2_000).catch((error: unknown) =>
      this.#deps.log.debug('LeavePeer failed', { taskId, peerId, error: (error as Error).message }),
    );
  }

  /** NeedBackToSource: the missing pieces from the origin, each reported, then the outcome. */
  async #backToSource(session: PieceSession, stream: AnnounceStream, headStart: boolean): Promise<void> {
    const { task } = session;
    stream.send({ downloadPeerBackToSourceStartedRequest: {} });
    this.#reportStored(session, stream);
    const reported = new Set(task.finishedPieces().map((piece) => piece.number));
    try {
      await fetchFromOrigin(session, this.#deps.limiter, {
        headStart,
        decorate: (job) => ({
          ...job,
          finished: (record) => {
            reported.add(record.number);
            stream.send({ downloadPieceBackToSourceFinishedRequest: { piece: pieceMessage(record, 'back_to_source') } });
          },
        }),
        onPieceFailed: (number, error) =>
          stream.send({
            downloadPieceBackToSourceFailedRequest: {
              pieceNumber: number,
              description: (error as Error)?.message,
              statusCode: typeof (error as { status?: unknown })?.status === 'number' ? (error as { status: number }).status : undefined,
            },
          }),
      });
    } catch (error) {
      stream.send({ downloadPeerBackToSourceFailedRequest: { description: (error as Error)?.message ?? String(error) } });
      stream.end();
      throw error;
    }
    // An origin without Range fills the task in one stream: its pieces are reported here.
    for (const piece of task.finishedPieces()) {
      if (!reported.has(piece.number)) stream.send({ downloadPieceBackToSourceFinishedRequest: { piece: pieceMessage(piece, 'back_to_source') } });
    }
    stream.send({ downloadPeerBackToSourceFinishedRequest: { contentLength: task.contentLength, pieceCount: task.pieceCount } });
    stream.end();
  }

  /** Pieces this peer already stored (an earlier run): the scheduler may offer them to others. */
  #reportStored(session: PieceSession, stream: AnnounceStream): void {
    for (const piece of session.task.finishedPieces()) {
      stream.send({ downloadPieceFinishedRequest: { piece: pieceMessage(piece, 'local_peer') } });
    }
  }

  #parentsOf(peers: readonly commonv2.Peer__Output[]): CandidateParent[] {
    const out: CandidateParent[] = [];
    for (const peer of peers) {
      const host = peer.host;
      // A parent on this very host would be ourselves under another peer id.
      if (!peer.id || !host?.ip || !host.port || host.id === this.#deps.identity.hostId) continue;
      out.push({ peerId: peer.id, host });
    }
    return out;
  }
}

/**
 * KeepAlive: a scheduler (or seed peer, or peer) holds one client stream open and writes every few
 * seconds. It is active from the first message and inactive when the stream ends or breaks, or
 * when nothing arrived for `keepAlive.timeout` (the sweep below: a sender that vanished without
 * closing its connection, or a stream held by a manager replica that died). State is in the
 * database, so every replica sees it.
 */
import { InvalidArgumentError, toGrpcError, type managerv2 } from '../../api/index.ts';
import { RecordNotFoundError } from '../errors.ts';
import type { ManagerContext } from '../context.ts';
import { clusterForScheduler, keepAliveScheduler, schedulerLeft, sweepSilent, touchHost, upsertHost, type SchedulerKey } from '../store/registry.ts';
import { optionalId, requireHostname, requireIp } from './codec.ts';
import type { grpc } from './protos.ts';
import { peerHostId, seedHostId } from './service.ts';

type Sender = { readonly kind: 'scheduler'; readonly key: SchedulerKey } | { readonly kind: 'host'; readonly hostId: string };

function sameSender(a: Sender, b: Sender): boolean {
  if (a.kind === 'scheduler' && b.kind === 'scheduler') return a.key.hostname === b.key.hostname && a.key.ip === b.key.ip && a.key.clusterId === b.key.clusterId;
  return a.kind === 'host' && b.kind === 'host' && a.hostId === b.hostId;
}

export class KeepAlives {
  readonly #context: ManagerContext;
  /** Writes still running (a message or a stream's end); awaited at close before the store closes. */
  readonly #pending = new Set<Promise<unknown>>();
  #sweeper: NodeJS.Timeout | undefined;
  #closing = false;

  constructor(context: ManagerContext) {
    this.#context = context;
  }

  /** Starts the sweep: a few times per timeout, so a silent sender is inactive at most ~1.3 timeouts later. */
  start(): void {
    const timeout = this.#context.config.keepAlive.timeout;
    const every = Math.max(200, Math.min(5_000, Math.floor(timeout / 3)));
    this.#sweeper = setInterval(() => {
      const now = this.#context.now();
      this.#track(
        sweepSilent(this.#context.store.db, now - timeout, now).then(
          (count) => count > 0 && this.#context.log.info('schedulers went silent; inactive', { count }),
          (error: unknown) => this.#context.log.warn('keepalive sweep failed', { error }),
        ),
      );
    }, every);
    this.#sweeper.unref();
  }

  /**
   * Stops the sweep; streams ending from now on (cut by the server's shutdown) are left as they
   * are: the manager stopping does not mean their senders left (another replica may take them).
   */
  stop(): void {
    this.#closing = true;
    if (this.#sweeper) clearInterval(this.#sweeper);
  }

  /** Resolves once no write is in flight; the store may close then. */
  async drained(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#pending.add(promise);
    void promise.finally(() => this.#pending.delete(promise)).catch(() => {});
    return promise;
  }

  /** Who a message is from; the first message fixes it for the stream. */
  async #senderOf(request: managerv2.KeepAliveRequest__Output): Promise<Sender> {
    const hostname = requireHostname(request.hostname);
    const ip = requireIp(request.ip);
    const now = this.#context.now();
    const requested = optionalId(request.clusterId, 'cluster_id');
    switch (request.sourceType) {
      case 'SCHEDULER_SOURCE':
        return { kind: 'scheduler', key: { hostname, ip, clusterId: await clusterForScheduler(this.#context.store.db, requested, now) } };
      case 'SEED_PEER_SOURCE':
        return { kind: 'host', hostId: seedHostId(ip, hostname) };
      case 'PEER_SOURCE': {
        // Peers do not register first; the first KeepAlive records them.
        const hostId = peerHostId(ip, hostname);
        const clusterId = await clusterForScheduler(this.#context.store.db, requested, now);
        await upsertHost(this.#context.store.db, { hostId, type: 'normal', hostname, ip, port: 0, downloadPort: 0, idc: '', location: '', clusterId }, now);
        return { kind: 'host', hostId };
      }
      default:
        throw new InvalidArgumentError(`source_type: ${String(request.sourceType)} is not a source type`);
    }
  }

  async #alive(sender: Sender, now: number): Promise<void> {
    const db = this.#context.store.db;
    if (sender.kind === 'scheduler') {
      if (!(await keepAliveScheduler(db, sender.key, now))) {
        throw new RecordNotFoundError(`scheduler ${sender.key.hostname} (${sender.key.ip}) in cluster ${sender.key.clusterId}; call UpdateScheduler first`);
      }
    } else if (!(await touchHost(db, sender.hostId, 'active', now))) {
      throw new RecordNotFoundError(`seed peer ${sender.hostId}; call UpdateSeedPeer first`);
    }
  }

  /** The grpc-js handler of the client stream. */
  handler(): grpc.handleClientStreamingCall<managerv2.KeepAliveRequest__Output, Record<string, never>> {
    return (call, callback) => {
      let sender: Sender | undefined;
      let lastSeenAt = 0;
      let finished = false;
      // Messages are handled one after another, so the stream's end is written after its last message.
      let chain: Promise<void> = Promise.resolve();
      const finish = (error: unknown) => {
        if (finished) return;
        finished = true;
        if (error === undefined) callback(null, {});
        else callback(toGrpcError(error));
      };
      const left = () => {
        if (!sender || this.#closing) return;
        const who = sender;
        const now = this.#context.now();
        const db = this.#context.store.db;
        const write = who.kind === 'scheduler' ? schedulerLeft(db, who.key, lastSeenAt, now) : touchHost(db, who.hostId, 'inactive', now);
        return write.then(
          (changed) => changed && this.#context.log.info('keepalive ended; inactive', who.kind === 'scheduler' ? { ...who.key } : { hostId: who.hostId }),
          (error: unknown) => this.#context.log.warn('cannot mark a sender inactive', { error }),
        );
      };
      call.on('data', (request: managerv2.KeepAliveRequest__Output) => {
        chain = this.#track(
          chain.then(async () => {
            if (finished) return;
            try {
              const next = await this.#senderOf(request);
              if (sender && !sameSender(sender, next)) throw new InvalidArgumentError('hostname, ip, cluster_id: one KeepAlive stream is for one sender');
              sender ??= next;
              const now = this.#context.now();
              await this.#alive(next, now);
              lastSeenAt = now;
            } catch (error) {
              // The status ends the call; the client's later writes are dropped by grpc-js.
              finish(error);
            }
          }),
        );
      });
      // 'end', 'cancelled' and 'error' may each fire for one stream; its end is handled once.
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        chain = this.#track(chain.then(left).then(() => finish(undefined)));
      };
      call.on('end', end);
      call.on('cancelled', end);
      call.on('error', end);
    };
  }
}

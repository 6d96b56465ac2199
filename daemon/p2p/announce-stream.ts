/**
 * One AnnouncePeer stream as the peer sees it: typed sends (each stamped with the peer's ids) and
 * `next()` for the scheduler's answers, bounded by `scheduleTimeout`. Once the stream broke, sends
 * are dropped and `next()` rejects: the caller then finishes without the scheduler. `peek()`,
 * `take()` and `arrival()` let a reader look at an answer before consuming it (round-reader.ts);
 * one reader at a time.
 */
import type { schedulerv2 } from '../../api/index.ts';
import type { grpc } from '../rpc/grpc.ts';
import { SchedulerLostError } from '../errors.ts';

export type AnnounceRequestBody = Omit<schedulerv2.AnnouncePeerRequest, 'hostId' | 'taskId' | 'peerId' | 'request'>;

export class AnnounceStream {
  readonly #call: grpc.ClientDuplexStream<schedulerv2.AnnouncePeerRequest, schedulerv2.AnnouncePeerResponse__Output>;
  readonly #ids: { hostId: string; taskId: string; peerId: string };
  readonly #responses: schedulerv2.AnnouncePeerResponse__Output[] = [];
  #waiters: Array<() => void> = [];
  #broken: Error | undefined;
  #ended = false;

  constructor(client: schedulerv2.SchedulerClient, ids: { hostId: string; taskId: string; peerId: string }, addr: string) {
    this.#ids = ids;
    this.#call = client.announcePeer();
    this.#call.on('data', (response: schedulerv2.AnnouncePeerResponse__Output) => {
      this.#responses.push(response);
      this.#wake();
    });
    this.#call.on('error', (error: Error & { code?: number; details?: string }) => {
      this.#broken ??= new SchedulerLostError(`scheduler ${addr}: ${error.details ?? error.message}`, { cause: error, grpcCode: error.code });
      this.#wake();
    });
    this.#call.on('end', () => {
      this.#broken ??= new SchedulerLostError(`scheduler ${addr} ended the AnnouncePeer stream`);
      this.#wake();
    });
  }

  get broken(): Error | undefined {
    return this.#broken;
  }

  send(body: AnnounceRequestBody): void {
    if (this.#broken || this.#ended) return;
    this.#call.write({ ...this.#ids, ...body });
  }

  /** The scheduler's next answer; rejects when the stream broke or nothing came within `timeoutMs`. */
  async next(timeoutMs: number, signal?: AbortSignal): Promise<schedulerv2.AnnouncePeerResponse__Output> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = this.#responses.shift();
      if (response) return response;
      if (this.#broken) throw this.#broken;
      signal?.throwIfAborted();
      const left = deadline - Date.now();
      if (left <= 0) {
        this.#broken = new SchedulerLostError(`no answer from the scheduler within ${timeoutMs} ms (scheduler.scheduleTimeout)`);
        this.#call.cancel();
        throw this.#broken;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        const onAbort = () => done();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.#waiters.push(done);
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }
      });
    }
  }

  /** The scheduler's oldest answer not consumed yet, left in place. */
  peek(): schedulerv2.AnnouncePeerResponse__Output | undefined {
    return this.#responses[0];
  }

  /** Consumes the answer `peek()` showed. */
  take(): schedulerv2.AnnouncePeerResponse__Output | undefined {
    return this.#responses.shift();
  }

  /** Resolves once an answer waits, the stream broke, or `signal` aborted; consumes nothing. */
  async arrival(signal: AbortSignal): Promise<void> {
    if (this.#responses.length > 0 || this.#broken || signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      signal.addEventListener('abort', done, { once: true });
      this.#waiters.push(done);
    });
  }

  /** Half-closes after the final report, so the scheduler sees every report before the end. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#broken) this.#call.end();
  }

  /** Drops the stream at once (abort, or giving up on the scheduler). */
  cancel(): void {
    this.#ended = true;
    this.#call.cancel();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const done of waiters) done();
  }
}

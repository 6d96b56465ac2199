/**
 * gRPC clients of the current schedulers: `scheduler.addrs`, or the manager's answer, which
 * `replace` swaps in while downloads run. A task always goes to the same scheduler (rendezvous
 * hashing of its id over the addresses, api's `ownerOf`), so every peer of a task meets in one
 * scheduler's DAG, and a scheduler joining or leaving moves only the tasks it wins or held; host
 * announces go to all of them. The list may be empty (a manager that has not answered yet): a task
 * then finishes from the origin, as with a scheduler that is down.
 */
import { ownerOf, type schedulerv2, type TlsMaterial } from '../../api/index.ts';
import { SchedulerLostError } from '../errors.ts';
import { channelCredentials, CLIENT_OPTIONS, grpc, loadProtos } from '../rpc/grpc.ts';

export class SchedulerClients {
  #addrs: readonly string[];
  readonly #clients = new Map<string, schedulerv2.SchedulerClient>();

  readonly #credentials: grpc.ChannelCredentials;

  /** `tls`: the scheduler section's material (mutual TLS to every scheduler), none by default. */
  constructor(addrs: readonly string[], tls?: TlsMaterial | undefined) {
    this.#credentials = channelCredentials(tls);
    this.#addrs = Object.freeze([...new Set(addrs)]);
  }

  get addrs(): readonly string[] {
    return this.#addrs;
  }

  /**
   * A new list; clients of schedulers that left are closed (their streams in flight end and those
   * downloads go on from the origin or their next scheduler). True when the list changed.
   */
  replace(addrs: readonly string[]): boolean {
    const next = Object.freeze([...new Set(addrs)].sort());
    if (next.length === this.#addrs.length && [...this.#addrs].sort().every((addr, i) => addr === next[i])) return false;
    this.#addrs = next;
    for (const [addr, client] of this.#clients) {
      if (!next.includes(addr)) {
        client.close();
        this.#clients.delete(addr);
      }
    }
    return true;
  }

  #client(addr: string): schedulerv2.SchedulerClient {
    let client = this.#clients.get(addr);
    if (!client) {
      const { Scheduler } = loadProtos().scheduler;
      client = new Scheduler(addr, this.#credentials, CLIENT_OPTIONS);
      this.#clients.set(addr, client);
    }
    return client;
  }

  /** The scheduler that owns a task. */
  forTask(taskId: string): { addr: string; client: schedulerv2.SchedulerClient } {
    const addr = ownerOf(taskId, this.#addrs);
    if (addr === undefined) throw new SchedulerLostError('no scheduler is known yet (the manager has not answered and nothing is cached)');
    return { addr, client: this.#client(addr) };
  }

  all(): Array<{ addr: string; client: schedulerv2.SchedulerClient }> {
    return this.#addrs.map((addr) => ({ addr, client: this.#client(addr) }));
  }

  close(): void {
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }
}

/** A unary call as a promise with a deadline. */
export function unary<Req, Res>(
  call: (request: Req, options: grpc.CallOptions, callback: grpc.requestCallback<Res>) => unknown,
  request: Req,
  timeoutMs: number,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    call(request, { deadline: Date.now() + timeoutMs }, (error, value) => (error ? reject(error) : resolve(value!)));
  });
}

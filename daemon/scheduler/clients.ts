/**
 * gRPC clients of the schedulers in `scheduler.addrs`. A task always goes to the same scheduler
 * (rendezvous hashing of its id over the addresses, api's `ownerOf`), so every peer of a task meets
 * in one scheduler's DAG, and adding or removing a scheduler moves only the tasks it wins or held;
 * host announces go to all of them.
 */
import { ownerOf, type schedulerv2 } from '../../api/index.ts';
import { CLIENT_OPTIONS, grpc, loadProtos } from '../rpc/grpc.ts';

export class SchedulerClients {
  readonly addrs: readonly string[];
  readonly #clients = new Map<string, schedulerv2.SchedulerClient>();

  constructor(addrs: readonly string[]) {
    if (addrs.length === 0) throw new RangeError('at least one scheduler address is needed');
    this.addrs = addrs;
  }

  #client(addr: string): schedulerv2.SchedulerClient {
    let client = this.#clients.get(addr);
    if (!client) {
      const { Scheduler } = loadProtos().scheduler;
      client = new Scheduler(addr, grpc.credentials.createInsecure(), CLIENT_OPTIONS);
      this.#clients.set(addr, client);
    }
    return client;
  }

  /** The scheduler that owns a task. */
  forTask(taskId: string): { addr: string; client: schedulerv2.SchedulerClient } {
    const addr = ownerOf(taskId, this.addrs)!;
    return { addr, client: this.#client(addr) };
  }

  all(): Array<{ addr: string; client: schedulerv2.SchedulerClient }> {
    return this.addrs.map((addr) => ({ addr, client: this.#client(addr) }));
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

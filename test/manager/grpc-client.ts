/** A manager.v2 client for tests: promise-returning unary calls and a KeepAlive stream handle. */
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { PROTO_FILES, PROTO_LOADER_OPTIONS, type managerv2 } from '../../api/index.ts';

export type ManagerClient = managerv2.ManagerClient;

export function managerClient(port: number): ManagerClient {
  const definition = loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, includeDirs: [...PROTO_LOADER_OPTIONS.includeDirs] });
  const { Manager } = (grpc.loadPackageDefinition(definition) as unknown as managerv2.ProtoGrpcType).manager.v2;
  return new Manager(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

type Unary<Req, Res> = (request: Req, options: grpc.CallOptions, callback: grpc.requestCallback<Res>) => unknown;

function unary<Req, Res>(client: ManagerClient, method: Unary<Req, Res>, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, request, { deadline: Date.now() + 5_000 }, (error: grpc.ServiceError | null, value?: Res) => (error ? reject(error) : resolve(value!)));
  });
}

/** The unary calls as promises, each with a 5 s deadline. */
export function calls(client: ManagerClient) {
  return {
    updateScheduler: (r: managerv2.UpdateSchedulerRequest) => unary<typeof r, managerv2.Scheduler__Output>(client, client.updateScheduler as Unary<typeof r, managerv2.Scheduler__Output>, r),
    getScheduler: (r: managerv2.GetSchedulerRequest) => unary<typeof r, managerv2.Scheduler__Output>(client, client.getScheduler as Unary<typeof r, managerv2.Scheduler__Output>, r),
    listSchedulers: (r: managerv2.ListSchedulersRequest) => unary<typeof r, managerv2.ListSchedulersResponse__Output>(client, client.listSchedulers as Unary<typeof r, managerv2.ListSchedulersResponse__Output>, r),
    listApplications: (r: managerv2.ListApplicationsRequest) => unary<typeof r, managerv2.ListApplicationsResponse__Output>(client, client.listApplications as Unary<typeof r, managerv2.ListApplicationsResponse__Output>, r),
    updateSeedPeer: (r: managerv2.UpdateSeedPeerRequest) => unary<typeof r, managerv2.SeedPeer__Output>(client, client.updateSeedPeer as Unary<typeof r, managerv2.SeedPeer__Output>, r),
  };
}

/** The gRPC status code a failed call ended with. */
export async function codeOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (error) {
    return (error as grpc.ServiceError).code;
  }
  throw new Error('the call succeeded; a failure was expected');
}

export interface KeepAliveStream {
  send(request: managerv2.KeepAliveRequest): void;
  /** Half-closes; resolves with the status code the server ended with (0 = OK). */
  end(): Promise<number>;
  /** Resolves when the server ends the stream, with its status code. */
  readonly done: Promise<number>;
}

export function keepAlive(client: ManagerClient): KeepAliveStream {
  let settle!: (code: number) => void;
  const done = new Promise<number>((resolve) => (settle = resolve));
  const stream = client.keepAlive({ deadline: Date.now() + 120_000 }, (error) => settle(error ? error.code : 0));
  return {
    send: (request) => void stream.write(request),
    end: () => {
      stream.end();
      return done;
    },
    done,
  };
}

/** Polls `check` every 50 ms until it returns true or `timeoutMs` pass. */
export async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

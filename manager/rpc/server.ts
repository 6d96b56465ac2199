/**
 * The manager.v2 gRPC server (`server.grpc`, Dragonfly's 65003). Handlers are thin over
 * ManagerService; every failure becomes a status through api's code table (a DfError by its code,
 * anything else INTERNAL and logged). A message that is not valid protobuf is refused by grpc-js
 * itself with INTERNAL before any handler runs.
 */
import { DfError, rejectUndecodable, tolerantService, toGrpcError, type Logger, type managerv2 } from '../../api/index.ts';
import type { ManagerContext } from '../context.ts';
import { EventFold } from './events-fold.ts';
import { reportEventsHandler } from './events.ts';
import { KeepAlives } from './keepalive.ts';
import { grpc, loadManagerProto } from './protos.ts';
import { ManagerService } from './service.ts';

/** How long calls in flight get at shutdown; KeepAlive streams never end by themselves, so they are cut. */
export const GRPC_SHUTDOWN_GRACE_MS = 2_000;

const SERVER_OPTIONS: grpc.ServerOptions = Object.freeze<grpc.ServerOptions>({
  // Undecodable request bytes get INVALID_ARGUMENT, not grpc-js's INTERNAL (with tolerantService below).
  interceptors: [rejectUndecodable],
  // Every manager.v2 request is small; a large one is a broken or hostile client.
  'grpc.max_receive_message_length': 1024 * 1024,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
});

export interface ManagerGrpcServer {
  readonly port: number;
  close(): Promise<void>;
}

function guardUnary<Req, Res>(log: Logger, name: string, body: (request: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => body(call.request))
      .then(
        (value) => callback(null, value),
        (error: unknown) => {
          if (error instanceof DfError) log.debug(`${name} failed`, { code: error.code, error: error.message });
          else log.error(`${name} failed`, { error });
          callback(toGrpcError(error));
        },
      );
  };
}

export async function startGrpcServer(context: ManagerContext): Promise<ManagerGrpcServer> {
  const { Manager } = loadManagerProto();
  const service = new ManagerService(context);
  const keepAlives = new KeepAlives(context);
  const events = new EventFold(context);
  const log = context.log.child({ component: 'grpc' });
  const server = new grpc.Server(SERVER_OPTIONS);
  const handlers: managerv2.ManagerHandlers = {
    UpdateScheduler: guardUnary(log, 'UpdateScheduler', (request) => service.updateScheduler(request)),
    GetScheduler: guardUnary(log, 'GetScheduler', (request) => service.getScheduler(request)),
    ListSchedulers: guardUnary(log, 'ListSchedulers', (request) => service.listSchedulers(request)),
    ListApplications: guardUnary(log, 'ListApplications', (request) => service.listApplications(request)),
    UpdateSeedPeer: guardUnary(log, 'UpdateSeedPeer', (request) => service.updateSeedPeer(request)),
    DeleteSeedPeer: guardUnary(log, 'DeleteSeedPeer', (request) => service.deleteSeedPeer(request)),
    KeepAlive: keepAlives.handler(),
    ReportEvents: reportEventsHandler(context, events),
  };
  server.addService(tolerantService(Manager.service), handlers);
  const { listenIP, port: wanted } = context.config.server.grpc;
  const address = `${listenIP.includes(':') ? `[${listenIP}]` : listenIP}:${wanted}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  keepAlives.start();
  events.start();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      keepAlives.stop();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, GRPC_SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await keepAlives.drained();
      // What schedulers reported last is written before the store closes.
      await events.close();
    })();
    return closing;
  };
  return { port, close };
}

/** The scheduler.v2.Scheduler gRPC server: thin handlers over HostService and PeerService. */
import * as grpc from '@grpc/grpc-js';
import { rejectUndecodable, tolerantService, toGrpcError, type schedulerv2 } from '../../api/index.ts';
import type { Logger } from '../log.ts';
import { announcePeerHandler } from './announce-peer.ts';
import type { HostService } from './host-service.ts';
import type { PeerService } from './peer-service.ts';
import type { LoadedProtos } from './protos.ts';
import { createPreheatDownloader, preheatTaskHandler } from './preheat.ts';
import { hostAddress } from './seed-peer.ts';
import { createTaskDeleter, deleteTaskHandler, listTaskPeers } from './task-peers.ts';

/** A unary handler: the service result, or its error mapped through api's status tables. */
function unary<Req, Res>(fn: (request: Req) => Res): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    let response: Res;
    try {
      response = fn(call.request);
    } catch (error) {
      callback(toGrpcError(error));
      return;
    }
    callback(null, response);
  };
}

export interface GrpcServer {
  readonly port: number;
  /** Stops accepting calls, waits up to `graceMs` for calls in flight, then cuts the rest. */
  close(graceMs: number): Promise<void>;
}

export async function startGrpcServer(options: {
  readonly protos: LoadedProtos;
  readonly listenIP: string;
  readonly port: number;
  readonly hosts: HostService;
  readonly peers: PeerService;
  readonly log: Logger;
  /** Server credentials (mutual TLS with `server.tls`) and those of calls to daemons (`seedPeer.tls`); insecure by default. */
  readonly credentials?: { readonly server: grpc.ServerCredentials; readonly daemons: grpc.ChannelCredentials } | undefined;
}): Promise<GrpcServer> {
  const { protos, hosts, peers, log } = options;
  const server = new grpc.Server({
    // Undecodable request bytes get INVALID_ARGUMENT, not grpc-js's INTERNAL (with tolerantService below).
    interceptors: [rejectUndecodable],
    // Peers keep one AnnouncePeer stream open per download: let idle ones live, probe dead ones.
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.keepalive_permit_without_calls': 1,
  });
  // Its own channels: closed with the server, after the calls in flight.
  const credentials = options.credentials ?? { server: grpc.ServerCredentials.createInsecure(), daemons: grpc.credentials.createInsecure() };
  const preheats = createPreheatDownloader(protos.dfdaemon.dfdaemon.v2.DfdaemonUpload, credentials.daemons);
  const deleter = createTaskDeleter(protos.dfdaemon.dfdaemon.v2.DfdaemonUpload, credentials.daemons);
  const handlers: schedulerv2.SchedulerHandlers = {
    AnnouncePeer: announcePeerHandler(peers, log),
    AnnounceHost: unary((request) => {
      hosts.announceHost(request);
      return {};
    }),
    ListHosts: unary((request) => hosts.listHosts(request)),
    LeaveHost: unary((request) => {
      hosts.leaveHost(request);
      return {};
    }),
    StatTask: unary((request) => hosts.statTask(request)),
    StatPeer: unary((request) => hosts.statPeer(request)),
    LeavePeer: unary((request) => {
      hosts.leavePeer(request);
      return {};
    }),
    PreheatTask: preheatTaskHandler({ resources: peers.deps.resources, downloader: preheats, log: log.child({ component: 'preheat' }) }),
    ListTaskPeers: unary((request) => listTaskPeers(peers.deps.resources, request)),
    DeleteTask: deleteTaskHandler({ resources: peers.deps.resources, deleter, log, now: peers.deps.now, detach: (peer) => peers.detach(peer) }),
  };
  server.addService(tolerantService(protos.scheduler.scheduler.v2.Scheduler.service), handlers);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(hostAddress(options.listenIP, options.port), credentials.server, (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  return {
    port,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          preheats.close();
          deleter.close();
          resolve();
        });
      }),
  };
}

/**
 * ListTaskPeers and DeleteTask: where a task is cached (the hosts with a peer of it that has not
 * left) and removing it there. DeleteTask asks each such host's `DfdaemonUpload/DeleteTask`, all at
 * once, and answers one result per host; a host that says NOT_FOUND no longer has the task, which
 * is what was asked, so it counts as deleted. A task this scheduler does not know answers an empty
 * list: "cached nowhere here" is an answer, not an error, for a manager asking every scheduler.
 */
import * as grpc from '@grpc/grpc-js';
import { toGrpcError, type dfdaemonv2, type schedulerv2 } from '../../api/index.ts';
import { PeerState } from '../resource/fsm.ts';
import type { Host } from '../resource/host.ts';
import type { Peer } from '../resource/peer.ts';
import type { Resources } from '../resource/resources.ts';
import type { Logger } from '../log.ts';
import { taskId as checkTaskId } from './codec.ts';
import { hostAddress } from './seed-peer.ts';

/** One DeleteTask call to a daemon; a host that does not answer in this time is reported failed. */
export const DELETE_TASK_TIMEOUT_MS = 10_000;

/** The task's peers that have not left, one per host (the most recently updated wins). */
export function taskPeers(resources: Resources, taskId: string): Peer[] {
  const task = resources.tasks.get(taskId);
  if (!task) return [];
  const byHost = new Map<string, Peer>();
  for (const peer of task.peers()) {
    if (peer.state === PeerState.Leave) continue;
    const known = byHost.get(peer.host.id);
    if (!known || known.updatedAt < peer.updatedAt) byHost.set(peer.host.id, peer);
  }
  return [...byHost.values()].sort((a, b) => (a.host.id < b.host.id ? -1 : a.host.id > b.host.id ? 1 : 0));
}

export function listTaskPeers(resources: Resources, request: schedulerv2.ListTaskPeersRequest__Output): schedulerv2.ListTaskPeersResponse {
  const id = checkTaskId(request.taskId);
  return {
    peers: taskPeers(resources, id).map((peer) => ({ hostId: peer.host.id, hostname: peer.host.info.hostname, ip: peer.host.info.ip, peerId: peer.id, state: peer.state })),
  };
}

export interface TaskDeleter {
  /** Resolves when the host deleted the task; rejects with the gRPC error otherwise. */
  deleteTask(host: Host, taskId: string): Promise<void>;
  close(): void;
}

type UploadClientConstructor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => dfdaemonv2.DfdaemonUploadClient;

/** One channel per host address, reused and closed with the scheduler. */
export function createTaskDeleter(DfdaemonUpload: UploadClientConstructor, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()): TaskDeleter {
  const clients = new Map<string, dfdaemonv2.DfdaemonUploadClient>();
  return {
    deleteTask(host, taskId) {
      const address = hostAddress(host.info.ip, host.info.port);
      let client = clients.get(address);
      if (!client) {
        client = new DfdaemonUpload(address, credentials);
        clients.set(address, client);
      }
      const upload = client;
      return new Promise<void>((resolve, reject) => {
        upload.DeleteTask({ taskId }, { deadline: Date.now() + DELETE_TASK_TIMEOUT_MS }, (error) => (error ? reject(error) : resolve()));
      });
    },
    close() {
      for (const client of clients.values()) client.close();
      clients.clear();
    },
  };
}

export interface DeleteTaskDeps {
  readonly resources: Resources;
  readonly deleter: TaskDeleter;
  readonly log: Logger;
  readonly now: () => number;
  /** Stops scheduling a peer whose host deleted the task, so no child is sent to it. */
  readonly detach: (peer: Peer) => void;
}

/** Asks every host with the task to delete it; the peers of hosts that did leave at once. */
export async function deleteTask(deps: DeleteTaskDeps, request: schedulerv2.DeleteTaskRequest__Output): Promise<schedulerv2.DeleteTaskResponse> {
  const id = checkTaskId(request.taskId);
  const peers = taskPeers(deps.resources, id);
  const hosts = await Promise.all(
    peers.map(async (peer): Promise<schedulerv2.DeleteTaskHostResult> => {
      const head = { hostId: peer.host.id, hostname: peer.host.info.hostname, ip: peer.host.info.ip };
      try {
        await deps.deleter.deleteTask(peer.host, id);
      } catch (error) {
        const status = error as grpc.ServiceError;
        if (status.code !== grpc.status.NOT_FOUND) {
          const description = status.details || status.message || String(error);
          deps.log.warn('task delete failed on a host', { taskId: id, hostId: peer.host.id, code: status.code, description });
          return { ...head, ok: false, description };
        }
      }
      deps.detach(peer);
      if (peer.state !== PeerState.Leave) deps.resources.leavePeer(peer, deps.now());
      return { ...head, ok: true };
    }),
  );
  deps.log.info('task deleted on hosts', { taskId: id, hosts: hosts.length, failed: hosts.filter((host) => !host.ok).length });
  return { hosts };
}

type DeleteCall = grpc.ServerUnaryCall<schedulerv2.DeleteTaskRequest__Output, schedulerv2.DeleteTaskResponse>;

export function deleteTaskHandler(deps: DeleteTaskDeps): (call: DeleteCall, callback: grpc.sendUnaryData<schedulerv2.DeleteTaskResponse>) => void {
  return (call, callback) => {
    deleteTask(deps, call.request).then(
      (response) => callback(null, response),
      (error: unknown) => callback(toGrpcError(error)),
    );
  };
}

/** Hosts, tasks and peers in memory, and the seed ring over the seed hosts that announced themselves. */
import { PeerEvent, PeerState } from './fsm.ts';
import { Host, type HostInfo } from './host.ts';
import { Peer, type PeerOptions } from './peer.ts';
import { HashRing } from './seed-ring.ts';
import { Task, type TaskInit } from './task.ts';

export class Resources {
  readonly hosts = new Map<string, Host>();
  readonly tasks = new Map<string, Task>();
  readonly peers = new Map<string, Peer>();
  readonly seedRing: HashRing;

  constructor(seedRing = new HashRing()) {
    this.seedRing = seedRing;
  }

  /** Creates or refreshes a host; seed hosts join the ring, a host that stops being one leaves it. */
  announceHost(info: HostInfo, announceIntervalMs: number | undefined, now: number): Host {
    let host = this.hosts.get(info.id);
    if (host) host.update(info, announceIntervalMs, now);
    else {
      host = new Host(info, announceIntervalMs, now);
      this.hosts.set(host.id, host);
    }
    if (info.type === 'seed') this.seedRing.add(host.id);
    else this.seedRing.remove(host.id);
    return host;
  }

  /** Forgets a host: its peers leave (and are collected by peer GC), it leaves the seed ring. */
  deleteHost(host: Host, now: number): void {
    for (const peerId of host.peerIds) {
      const peer = this.peers.get(peerId);
      if (peer) this.leavePeer(peer, now);
    }
    this.hosts.delete(host.id);
    this.seedRing.remove(host.id);
  }

  /** The seed host owning this task on the ring. */
  seedHostFor(taskId: string): Host | undefined {
    const id = this.seedRing.pick(taskId);
    return id === undefined ? undefined : this.hosts.get(id);
  }

  createTask(init: TaskInit, now: number): Task {
    const task = new Task(init, now);
    this.tasks.set(task.id, task);
    return task;
  }

  createPeer(id: string, task: Task, host: Host, options: PeerOptions, now: number): Peer {
    const peer = new Peer(id, task, host, options, now);
    this.peers.set(id, peer);
    task.storePeer(peer);
    host.peerIds.add(id);
    return peer;
  }

  /** Moves the peer to Leave (if it is not there yet) and stops its scheduling; GC deletes it. */
  leavePeer(peer: Peer, now: number): void {
    if (peer.state !== PeerState.Leave) peer.fire(PeerEvent.Leave, now);
    peer.stream = undefined;
  }

  /** Removes the peer from its task's DAG, its host and the index. */
  deletePeer(peer: Peer): void {
    peer.task.deletePeer(peer);
    peer.host.peerIds.delete(peer.id);
    this.peers.delete(peer.id);
  }

  deleteTask(task: Task): void {
    for (const peer of task.peers()) this.deletePeer(peer);
    this.tasks.delete(task.id);
  }
}

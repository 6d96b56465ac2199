/**
 * What this scheduler tells the manager about its cluster (manager.v2 ReportEvents): hosts that
 * arrive or go, and each peer's state and bytes split by source (the origin, a seed peer's host,
 * another peer), so the manager can index tasks and the console can show downloads live.
 *
 * The peer service only marks a peer changed and adds a piece's bytes (two calls, no I/O); every
 * `flushIntervalMs` the reporter sends one batch with each changed peer once, at its latest
 * numbers, so a peer is reported at most twice a second however fast its pieces come. Hosts are
 * found by comparing the host table with what was reported. Memory is bounded: at most
 * `maxPendingPeers` peers wait for a batch, and while the manager is away (or its stream is
 * backed up) batches are dropped and counted, never queued.
 */
import type * as grpc from '@grpc/grpc-js';
import { canonicalTaskUrl, DEFAULT_FILTERED_QUERY_PARAMS, type managerv2 } from '../api/index.ts';
import type { Logger } from './log.ts';
import { PeerState } from './resource/fsm.ts';
import type { Host } from './resource/host.ts';
import type { Peer } from './resource/peer.ts';
import type { Resources } from './resource/resources.ts';

export const EVENTS_REPORTER_DEFAULTS = Object.freeze({ flushIntervalMs: 500, maxPendingPeers: 10_000, backoffMs: 1_000, maxBackoffMs: 30_000 });

/** What the peer service calls; the reporter implements it, and nothing is called without a manager. */
export interface PeerEventSink {
  /** The peer's state may have changed: send its numbers in the next batch. */
  peerChanged(peer: Peer): void;
  /** A piece finished: `parentId` empty (or `backToSource`) means from the origin. */
  pieceFinished(peer: Peer, length: number, parentId: string | undefined, backToSource: boolean): void;
}

export interface ReporterSender {
  readonly hostname: string;
  readonly ip: string;
  readonly clusterId: number;
}

interface Progress {
  finished: number;
  origin: number;
  seedPeer: number;
  peer: number;
}

const STATES: Partial<Record<string, string>> = {
  [PeerState.Running]: 'running',
  [PeerState.BackToSource]: 'back_to_source',
  [PeerState.Succeeded]: 'succeeded',
  [PeerState.Failed]: 'failed',
  [PeerState.Pending]: 'running',
  [PeerState.ReceivedEmpty]: 'running',
  [PeerState.ReceivedTiny]: 'running',
  [PeerState.ReceivedSmall]: 'running',
  [PeerState.ReceivedNormal]: 'running',
};

/** The task URL without signatures (filtered query params) or credentials: fit to leave the scheduler. */
export function publicTaskUrl(url: string, filteredQueryParams: readonly string[]): string {
  try {
    const parsed = new URL(canonicalTaskUrl(url, [...new Set([...DEFAULT_FILTERED_QUERY_PARAMS, ...filteredQueryParams])]));
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '';
  }
}

function hostEvent(host: Host, kind: 'announced' | 'left', at: number): managerv2.HostEvent {
  const info = host.info;
  return {
    kind,
    hostId: host.id,
    type: info.type,
    hostname: info.hostname,
    ip: info.ip,
    port: info.port,
    downloadPort: info.downloadPort,
    proxyPort: info.proxyPort,
    idc: info.idc,
    location: info.location,
    version: info.version,
    at,
  };
}

export class EventsReporter implements PeerEventSink {
  readonly #resources: Resources;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #progress = new WeakMap<Peer, Progress>();
  readonly #changed = new Map<string, Peer>();
  /** Hosts reported as announced (and not yet as left), with their object to tell a re-announce. */
  readonly #known = new Map<string, Host>();
  #dropped = 0;
  #client: (() => managerv2.ManagerClient) | undefined;
  #sender: (() => ReporterSender) | undefined;
  #stream: grpc.ClientWritableStream<managerv2.EventBatch> | undefined;
  #blocked = false;
  #retryAt = 0;
  #backoff: number = EVENTS_REPORTER_DEFAULTS.backoffMs;
  #timer: NodeJS.Timeout | undefined;

  constructor(resources: Resources, log: Logger, now: () => number = Date.now) {
    this.#resources = resources;
    this.#log = log;
    this.#now = now;
  }

  peerChanged(peer: Peer): void {
    if (!this.#timer) return;
    if (this.#changed.size >= EVENTS_REPORTER_DEFAULTS.maxPendingPeers && !this.#changed.has(peer.id)) {
      this.#dropped++;
      return;
    }
    this.#changed.set(peer.id, peer);
  }

  pieceFinished(peer: Peer, length: number, parentId: string | undefined, backToSource: boolean): void {
    if (!this.#timer) return;
    let progress = this.#progress.get(peer);
    if (!progress) {
      progress = { finished: 0, origin: 0, seedPeer: 0, peer: 0 };
      this.#progress.set(peer, progress);
    }
    progress.finished += length;
    if (backToSource || !parentId) progress.origin += length;
    else if (this.#isSeedParent(parentId)) progress.seedPeer += length;
    else progress.peer += length;
    this.peerChanged(peer);
  }

  /** Starts sending on `client()` (the manager link's current one, asked at each new stream); `sender` says who this scheduler is now. */
  start(client: () => managerv2.ManagerClient, sender: () => ReporterSender): void {
    if (this.#timer) return;
    this.#client = client;
    this.#sender = sender;
    this.#timer = setInterval(() => this.flush(), EVENTS_REPORTER_DEFAULTS.flushIntervalMs);
    this.#timer.unref();
  }

  /** Sends what is pending and ends the stream. */
  close(): void {
    if (!this.#timer) return;
    this.flush();
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#stream?.end();
    this.#stream = undefined;
  }

  /** Builds and sends one batch (or counts it dropped); called by the timer. */
  flush(): void {
    const now = this.#now();
    if (this.#changed.size === 0 && this.#dropped === 0 && !this.#hostsMayHaveChanged()) return;
    const stream = this.#open(now);
    if (!stream || this.#blocked) {
      // Hosts are not marked reported: they go in the first batch that is sent.
      this.#dropped += this.#changed.size;
      this.#changed.clear();
      return;
    }
    const hosts = this.#hostChanges(now);
    const peers: managerv2.PeerProgressEvent[] = [];
    for (const peer of this.#changed.values()) {
      const event = this.#peerEvent(peer, now);
      if (event) peers.push(event);
    }
    this.#changed.clear();
    if (hosts.length === 0 && peers.length === 0 && this.#dropped === 0) return;
    const sender = this.#sender!();
    const batch: managerv2.EventBatch = { hostname: sender.hostname, ip: sender.ip, schedulerClusterId: sender.clusterId, hosts, peers, dropped: this.#dropped };
    this.#dropped = 0;
    if (!stream.write(batch)) {
      this.#blocked = true;
      stream.once('drain', () => (this.#blocked = false));
    }
  }

  #isSeedParent(parentId: string): boolean {
    const parent = this.#resources.peers.get(parentId);
    // A parent that already left is told by its id: seed peers' ids end in "-seed" (api hostIdOf/peerIdOf).
    return parent ? parent.host.type === 'seed' : parentId.endsWith('-seed');
  }

  #peerEvent(peer: Peer, now: number): managerv2.PeerProgressEvent | undefined {
    const state = STATES[peer.state];
    if (state === undefined) return undefined;
    const task = peer.task;
    const url = publicTaskUrl(task.url, task.filteredQueryParams);
    if (!url) return undefined;
    const progress = this.#progress.get(peer) ?? { finished: 0, origin: 0, seedPeer: 0, peer: 0 };
    const info = peer.host.info;
    return {
      taskId: task.id,
      url,
      digest: task.digest ?? '',
      contentLength: task.contentLength,
      peerId: peer.id,
      hostId: peer.host.id,
      hostname: info.hostname,
      ip: info.ip,
      hostType: info.type,
      state,
      finishedBytes: progress.finished,
      originBytes: progress.origin,
      seedPeerBytes: progress.seedPeer,
      peerBytes: progress.peer,
      at: now,
    };
  }

  /** A cheap check before opening a stream: the host table differs from what was reported. */
  #hostsMayHaveChanged(): boolean {
    if (this.#resources.hosts.size !== this.#known.size) return true;
    for (const [id, host] of this.#known) if (this.#resources.hosts.get(id) !== host) return true;
    return false;
  }

  /** Hosts that appeared or went since the last batch. */
  #hostChanges(now: number): managerv2.HostEvent[] {
    const events: managerv2.HostEvent[] = [];
    for (const [id, host] of this.#known) {
      if (this.#resources.hosts.get(id) !== host) {
        this.#known.delete(id);
        if (!this.#resources.hosts.has(id)) events.push(hostEvent(host, 'left', now));
      }
    }
    for (const host of this.#resources.hosts.values()) {
      if (this.#known.has(host.id)) continue;
      this.#known.set(host.id, host);
      events.push(hostEvent(host, 'announced', now));
    }
    return events;
  }

  /** The open stream, or a new one unless a failure's backoff still runs. */
  #open(now: number): grpc.ClientWritableStream<managerv2.EventBatch> | undefined {
    if (this.#stream) return this.#stream;
    if (now < this.#retryAt || !this.#client) return undefined;
    const openedAt = now;
    const stream = this.#client().reportEvents((error) => {
      if (this.#stream !== stream) return;
      this.#stream = undefined;
      this.#blocked = false;
      // The manager may have lost what it knew: every host is announced again on the next stream.
      this.#known.clear();
      if (!error) return;
      // A stream that lived a while was healthy: the next failure starts the backoff afresh.
      if (this.#now() - openedAt > EVENTS_REPORTER_DEFAULTS.maxBackoffMs) this.#backoff = EVENTS_REPORTER_DEFAULTS.backoffMs;
      this.#retryAt = this.#now() + this.#backoff;
      this.#log.warn('manager event stream failed; events are dropped until it reopens', { inMs: this.#backoff, error: error.message });
      this.#backoff = Math.min(this.#backoff * 2, EVENTS_REPORTER_DEFAULTS.maxBackoffMs);
    });
    this.#stream = stream;
    return stream;
  }
}

/**
 * Piece discovery (Dragonfly's `PieceCollector`): a SyncPieces stream to every candidate parent,
 * each announcing the parent's finished pieces and then every new one as it finishes, so a parent
 * still downloading (a seed peer fetching from the origin) serves what it has. The collector keeps,
 * per piece, which parents have it and where their piece servers are; `changed()` wakes whoever
 * waits for more. With `relay`, parents also announce pieces they are still receiving (marked
 * `receiving`, no digest), replaced by the finished announcement once the parent verified them.
 * That announcement is the only place a relayed piece's digest comes from (the relayed body carries
 * none): `verifiedDigest` waits for it, and every receiving announcement carries a way to ask.
 */
import type { commonv2, dfdaemonv2, TlsMaterial } from '../../api/index.ts';
import { channelCredentials, CLIENT_OPTIONS, grpc, loadProtos } from '../rpc/grpc.ts';
import { IdleCache, PARENT_IDLE_CLOSE_MS } from './idle-cache.ts';
import type { AnnouncedPiece, ParentAddress } from './piece-client.ts';

export interface CandidateParent {
  readonly peerId: string;
  readonly host: commonv2.Host__Output;
}

export type ParentSyncState = 'syncing' | 'done' | 'failed';

/**
 * How long a child waits, after a relayed body ended, for its parent to announce the piece as
 * verified. The parent sends the last byte only once it recorded the piece, and announces it in
 * the same turn, so the announcement is normally there within milliseconds; seconds cover a busy
 * machine. None by then: the piece fails and is fetched elsewhere.
 */
export const RELAY_DIGEST_TIMEOUT_MS = 5_000;

interface ParentEntry {
  readonly parent: CandidateParent;
  state: ParentSyncState;
  call?: grpc.ClientReadableStream<dfdaemonv2.SyncPiecesResponse__Output>;
  error?: string;
}

/** A parent's DfdaemonUpload client and the SyncPieces calls open on it. */
interface UploadClient {
  readonly client: dfdaemonv2.DfdaemonUploadClient;
  calls: number;
}

/**
 * DfdaemonUpload clients by address, shared by every download of this daemon. A parent's client is
 * closed once no call has been open on it for `idleMs`, and opened again on the next call.
 */
export class UploadClients {
  readonly #clients: IdleCache<UploadClient>;

  /** `tls`: upload.client's material (mutual TLS to every parent), none by default. */
  constructor(options: { idleMs?: number; tls?: TlsMaterial | undefined } = {}) {
    const credentials = channelCredentials(options.tls);
    this.#clients = new IdleCache<UploadClient>({
      idleMs: options.idleMs ?? PARENT_IDLE_CLOSE_MS,
      open: (address) => {
        const { DfdaemonUpload } = loadProtos().dfdaemon;
        // A channel of its own (not grpc-js's process-wide subchannel pool), so closing it closes
        // the connection now instead of at the pool's next sweep.
        return { client: new DfdaemonUpload(address, credentials, { ...CLIENT_OPTIONS, 'grpc.use_local_subchannel_pool': 1 }), calls: 0 };
      },
      busy: (entry) => entry.calls > 0,
      close: (entry) => entry.client.close(),
    });
  }

  /** SyncPieces on the parent at ip:port; its client counts as busy until the call ends. */
  syncPieces(ip: string, port: number, request: dfdaemonv2.SyncPiecesRequest): grpc.ClientReadableStream<dfdaemonv2.SyncPiecesResponse__Output> {
    const address = addressOf(ip, port);
    const entry = this.#clients.use(address);
    const call = entry.client.syncPieces(request);
    entry.calls++;
    // 'status' ends every call: finished, failed or cancelled.
    call.once('status', () => {
      entry.calls--;
      this.#clients.touch(address);
    });
    return call;
  }

  /** True while a client for this parent is open. */
  has(ip: string, port: number): boolean {
    return this.#clients.has(addressOf(ip, port));
  }

  close(): Promise<void> {
    return this.#clients.close();
  }
}

function addressOf(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export class PieceCollector {
  readonly #taskId: string;
  readonly #hostId: string;
  readonly #clients: UploadClients;
  readonly #relay: boolean;
  readonly #parents = new Map<string, ParentEntry>();
  /** piece number -> parent id -> what the parent announced. */
  readonly #pieces = new Map<number, Map<string, { piece: AnnouncedPiece; address: ParentAddress }>>();
  #wake: Array<() => void> = [];
  readonly #listeners = new Set<(peerId: string, number: number) => void>();
  /** `${peerId}/${number}` -> who waits for that parent to announce that piece as verified. */
  readonly #digestWaiters = new Map<string, Set<(digest: string | undefined) => void>>();
  #closed = false;

  /** `relay`: ask parents to announce pieces they are still receiving too (cut-through relay). */
  constructor(init: { taskId: string; hostId: string; clients: UploadClients; relay?: boolean | undefined }) {
    this.#taskId = init.taskId;
    this.#hostId = init.hostId;
    this.#clients = init.clients;
    this.#relay = init.relay ?? false;
  }

  /** Starts syncing with parents not synced yet; parents already known keep their stream. */
  add(parents: readonly CandidateParent[]): void {
    for (const parent of parents) {
      if (this.#parents.has(parent.peerId) || this.#closed) continue;
      const entry: ParentEntry = { parent, state: 'syncing' };
      this.#parents.set(parent.peerId, entry);
      this.#sync(entry);
    }
  }

  parent(peerId: string): CandidateParent | undefined {
    return this.#parents.get(peerId)?.parent;
  }

  stateOf(peerId: string): ParentSyncState | undefined {
    return this.#parents.get(peerId)?.state;
  }

  /** Parents announcing piece `number`, with where to fetch it. */
  holders(number: number): Array<{ parent: CandidateParent; piece: AnnouncedPiece; address: ParentAddress }> {
    const holders = this.#pieces.get(number);
    if (!holders) return [];
    const out = [];
    for (const [peerId, value] of holders) {
      const entry = this.#parents.get(peerId);
      if (entry) out.push({ parent: entry.parent, ...value });
    }
    return out;
  }

  /** Whether a parent for which `wanted(peerId)` announced piece `number`; allocates nothing, for scans. */
  announcedBy(number: number, wanted: (peerId: string) => boolean): boolean {
    const holders = this.#pieces.get(number);
    if (holders) for (const peerId of holders.keys()) if (this.#parents.has(peerId) && wanted(peerId)) return true;
    return false;
  }

  /** Forgets that a parent was receiving a piece (it no longer is: it answered 404). */
  forgetReceiving(number: number, peerId: string): void {
    const holders = this.#pieces.get(number);
    if (holders?.get(peerId)?.piece.receiving) holders.delete(peerId);
  }

  /** Forgets what a parent announced (it failed us): its pieces are no longer offered. */
  drop(peerId: string): void {
    const entry = this.#parents.get(peerId);
    if (!entry) return;
    entry.call?.cancel();
    if (entry.state === 'syncing') entry.state = 'failed';
    for (const holders of this.#pieces.values()) holders.delete(peerId);
    this.#settleDigests(peerId);
    this.#notify();
  }

  /**
   * The digest `peerId` announces for piece `number` once it verified and recorded it: at once
   * when already announced, else when the announcement comes. Undefined when it does not come
   * within `timeoutMs`, the parent's stream ends or fails, the parent is dropped, or `signal` aborts.
   */
  verifiedDigest(peerId: string, number: number, timeoutMs: number, signal: AbortSignal): Promise<string | undefined> {
    const known = this.#pieces.get(number)?.get(peerId)?.piece;
    if (known && !known.receiving && known.digest) return Promise.resolve(known.digest);
    if (this.#closed || this.#parents.get(peerId)?.state !== 'syncing' || signal.aborted) return Promise.resolve(undefined);
    const key = `${peerId}/${number}`;
    let waiters = this.#digestWaiters.get(key);
    if (!waiters) this.#digestWaiters.set(key, (waiters = new Set()));
    const all = waiters;
    return new Promise((resolve) => {
      const done = (digest: string | undefined): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        all.delete(done);
        if (all.size === 0 && this.#digestWaiters.get(key) === all) this.#digestWaiters.delete(key);
        resolve(digest);
      };
      const onAbort = (): void => done(undefined);
      const timer = setTimeout(onAbort, timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      all.add(done);
    });
  }

  /** Parents not in `excluded` whose sync has not failed: those a piece may still come from. */
  usable(excluded: ReadonlySet<string>): CandidateParent[] {
    const out: CandidateParent[] = [];
    for (const [peerId, entry] of this.#parents) if (entry.state !== 'failed' && !excluded.has(peerId)) out.push(entry.parent);
    return out;
  }

  /** Parents not in `excluded`, also those whose sync failed (what they announced stays fetchable). */
  known(excluded: ReadonlySet<string>): string[] {
    return [...this.#parents.keys()].filter((peerId) => !excluded.has(peerId));
  }

  /** True while some parent not in `excluded` may still announce pieces. */
  syncing(excluded: ReadonlySet<string>): boolean {
    for (const [peerId, entry] of this.#parents) if (entry.state === 'syncing' && !excluded.has(peerId)) return true;
    return false;
  }

  /** Resolves at the next announce or stream end, or after `timeoutMs`. */
  changed(timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      this.#wake.push(done);
    });
  }

  /** Calls `listener` with every piece a parent announces (arriving or finished); returns the unsubscribe. */
  onAnnounce(listener: (peerId: string, number: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Wakes the waiters (a piece finished or failed elsewhere changes what is worth doing). */
  notify(): void {
    this.#notify();
  }

  close(): void {
    this.#closed = true;
    for (const entry of this.#parents.values()) entry.call?.cancel();
    for (const peerId of this.#parents.keys()) this.#settleDigests(peerId);
    this.#notify();
  }

  #sync(entry: ParentEntry): void {
    const { host } = entry.parent;
    const call = this.#clients.syncPieces(host.ip, host.port, { hostId: this.#hostId, taskId: this.#taskId, interestedPieceNumbers: [], relay: this.#relay });
    entry.call = call;
    call.on('data', (response: dfdaemonv2.SyncPiecesResponse__Output) => {
      if (entry.state !== 'syncing') return;
      let holders = this.#pieces.get(response.number);
      if (!holders) this.#pieces.set(response.number, (holders = new Map()));
      const receiving = this.#relay && response.receiving;
      const { peerId } = entry.parent;
      // A finished announcement is never replaced by a later "receiving" one.
      if (receiving && holders.get(peerId)?.piece.receiving === false) return;
      const piece: AnnouncedPiece = receiving
        ? {
            number: response.number,
            offset: response.offset,
            length: response.length,
            digest: '',
            receiving,
            verifiedDigest: (signal) => this.verifiedDigest(peerId, response.number, RELAY_DIGEST_TIMEOUT_MS, signal),
          }
        : { number: response.number, offset: response.offset, length: response.length, digest: response.digest, receiving };
      holders.set(peerId, { piece, address: { peerId, ip: response.ip || host.ip, port: response.tcpPort } });
      if (!receiving) this.#settleDigests(peerId, response.number, response.digest);
      for (const listener of this.#listeners) listener(entry.parent.peerId, response.number);
      this.#notify();
    });
    call.on('error', (error: Error & { details?: string }) => {
      if (entry.state === 'syncing') {
        entry.state = 'failed';
        entry.error = error.details ?? error.message;
      }
      this.#settleDigests(entry.parent.peerId);
      this.#notify();
    });
    call.on('end', () => {
      if (entry.state === 'syncing') entry.state = 'done';
      this.#settleDigests(entry.parent.peerId);
      this.#notify();
    });
  }

  /**
   * Answers who waits for a verified digest from `peerId`: for piece `number` with `digest` (it
   * was announced), or for every piece with undefined (nothing more will come from that parent).
   */
  #settleDigests(peerId: string, number?: number, digest?: string): void {
    const keys = number === undefined ? [...this.#digestWaiters.keys()].filter((k) => k.startsWith(`${peerId}/`)) : [`${peerId}/${number}`];
    for (const key of keys) {
      const waiters = this.#digestWaiters.get(key);
      if (!waiters) continue;
      this.#digestWaiters.delete(key);
      for (const done of [...waiters]) done(digest || undefined);
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = [];
    for (const done of wake) done();
  }
}

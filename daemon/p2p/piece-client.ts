/**
 * Fetches one piece from a parent's piece server and hands the engine a PieceBody whose
 * `expectedDigest` is what the parent announced in SyncPieces: the engine hashes the bytes as they
 * are written and refuses a piece that does not match, so a parent that serves corrupt bytes is
 * caught before anything records it.
 *
 * With the native addon loaded, each piece goes over a connection of its own through the engine's
 * raw client (engine/source/raw-range.ts): headers parsed in JS, the body moved socket -> crc32 ->
 * task file by addon.receiveToFile on a native thread, never a JS buffer. Without it (DF_NO_ADDON),
 * for an answer that client does not take as it is, or from a parent whose pieces arrive slower
 * than the engine's KEEP_ALIVE_BELOW_BYTES_PER_SECOND (link-rate.ts says why), HTTP/1.1
 * keep-alive through one undici pool per parent address, closed once that parent has been idle
 * for `idleMs` and opened again on demand. Either way the same answers give the same errors.
 *
 * With `keepAlive` (download.keepAlive) finished pieces from every parent, slow or fast, go over
 * kept-alive, pipelined raw connections (engine/source/raw-pool.ts) whose bodies the addon's
 * receiveToFileKeepAlive moves natively and leaves the socket for the next answer: no handshake
 * and no JS copy per piece. A parent that does not keep alive goes back to the rules above.
 *
 * A piece the parent is still receiving (cut-through relay, daemon/upload/relay.ts) is asked with
 * `X-Dragonfly-Relay: 1` and travels by the same rules as a finished one (its answer has the same
 * framing): a relay on a slow link would pay a handshake per piece as dearly as a finished piece.
 * Its digest is the one the parent announces over SyncPieces once it verified the piece, awaited
 * after the body ended.
 *
 * With `tls` (upload.client's material) every parent is reached over mutual TLS: its piece server
 * must chain to the CA and we present our certificate. A TLS socket has no plain fd for the addon,
 * so there is no connection per piece (a handshake per piece, and nothing native to gain): pieces
 * go over kept-alive TLS connections, the raw pool's with `keepAlive` (the addon's receive then
 * runs its JS twin on them, addon/native.ts), else undici's.
 */
import type { ConnectionOptions } from 'node:tls';
import { Pool } from 'undici';
import {
  type LinkRates,
  isPlainBody,
  linkRates,
  nativeReceiveToFile,
  timedBody,
  RawPool,
  RawRangeBody,
  requestRange,
  StorageError,
  type DirectBody,
  type ExpectedDigest,
  type PieceBody,
  type RawAnswer,
  type ReceiveToFile,
} from '../../engine/index.ts';
import { anyNameInCluster, type TlsMaterial } from '../../api/index.ts';
import { ParentPieceError } from '../errors.ts';
import { PIECE_DIGEST_HEADER } from '../upload/piece-server.ts';
import { RELAY_HEADER } from '../upload/relay.ts';
import { IdleCache, PARENT_IDLE_CLOSE_MS } from './idle-cache.ts';

export interface ParentAddress {
  /** The parent's peer id, reported to the scheduler as the piece's parent. */
  readonly peerId: string;
  readonly ip: string;
  /** Its piece server port (SyncPiecesResponse.tcp_port). */
  readonly port: number;
}

export interface AnnouncedPiece {
  readonly number: number;
  readonly offset: number;
  readonly length: number;
  /** Empty while `receiving`. */
  readonly digest: string;
  /** Still arriving at the parent (announced only to a child that asked for relay). */
  readonly receiving?: boolean | undefined;
  /**
   * With `receiving`: the digest the parent announces over SyncPieces once it verified and
   * recorded the piece (piece-collector.ts), undefined when none comes in time.
   */
  readonly verifiedDigest?: ((signal: AbortSignal) => Promise<string | undefined>) | undefined;
}

export class PieceClient {
  readonly #pools: IdleCache<Pool>;
  readonly #timeoutMs: number;
  readonly #directReceive: ReceiveToFile | false;
  readonly #rates: LinkRates;
  /** Kept-alive, pipelined raw connections per parent and the addon receive that leaves them open. */
  readonly #kept: { readonly raw: RawPool; readonly receive: ReceiveToFile } | undefined;
  readonly #tls: ConnectionOptions | undefined;

  /**
   * `directReceive`: the receiveToFile of the direct path; default the native addon's when it is
   * loaded, false: always undici. `idleMs` (default PARENT_IDLE_CLOSE_MS): a parent's pool is
   * closed after this long with no request. `tls`: mutual TLS to every parent's piece server.
   */
  constructor(options: {
    timeoutMs: number;
    connectionsPerParent?: number;
    directReceive?: ReceiveToFile | false;
    keepAlive?: ReceiveToFile | false;
    rates?: LinkRates;
    idleMs?: number;
    tls?: TlsMaterial | undefined;
  }) {
    this.#timeoutMs = options.timeoutMs;
    const { tls } = options;
    this.#tls = tls && { ca: tls.ca, cert: tls.cert, key: tls.key, checkServerIdentity: anyNameInCluster };
    const connections = options.connectionsPerParent ?? 8;
    this.#directReceive = options.directReceive ?? nativeReceiveToFile();
    this.#rates = options.rates ?? linkRates;
    if (this.#directReceive && options.keepAlive) {
      this.#kept = { raw: new RawPool({ tls: this.#tls }), receive: options.keepAlive };
    }
    this.#pools = new IdleCache<Pool>({
      idleMs: options.idleMs ?? PARENT_IDLE_CLOSE_MS,
      open: (origin) => new Pool(origin, { connections, keepAliveTimeout: 30_000, pipelining: 1, ...(this.#tls && { connect: this.#tls }) }),
      // size counts requests whose body is still being read, so a slow piece keeps its pool.
      busy: (pool) => pool.stats.size > 0,
      close: (pool) => pool.destroy().catch(() => {}),
    });
  }

  /** True while a keep-alive pool to this parent is open. */
  hasPool(ip: string, port: number): boolean {
    return this.#pools.has(this.#originOf(ip, port));
  }

  /** True once this parent is known to be slow (engine's link-rate.ts): its pieces then go over kept-alive connections. */
  isSlow(ip: string, port: number): boolean {
    return this.#rates.isSlow(this.#originOf(ip, port));
  }

  async fetch(parent: ParentAddress, taskId: string, piece: AnnouncedPiece, signal: AbortSignal): Promise<PieceBody> {
    const origin = this.#originOf(parent.ip, parent.port);
    const done = this.#rates.start(origin);
    try {
      const body = await this.#fetch(origin, parent, taskId, piece, signal);
      return { ...body, body: timedBody(body.body, piece.length, done) };
    } catch (error) {
      done(undefined);
      throw error;
    }
  }

  async #fetch(origin: string, parent: ParentAddress, taskId: string, piece: AnnouncedPiece, signal: AbortSignal): Promise<PieceBody> {
    const kept = this.#kept?.raw.keepsAlive(new URL(origin)) ? this.#kept : undefined;
    // Over TLS only kept connections: a connection per piece would pay a handshake per piece.
    if (this.#directReceive && (kept || (!this.#tls && !this.isSlow(parent.ip, parent.port)))) {
      const direct = await this.#fetchDirect(origin, parent, taskId, piece, signal, this.#directReceive, kept);
      if (direct) return direct;
    }
    if (piece.receiving) return this.#fetchRelay(origin, parent, taskId, piece, signal);
    const pool = this.#pools.use(origin);
    let answer;
    try {
      answer = await pool.request({
        path: `/pieces/${taskId}/${piece.number}`,
        method: 'GET',
        signal,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new ParentPieceError(parent.peerId, `cannot fetch piece ${piece.number}: ${(error as Error).message}`, { cause: error });
    }
    if (answer.statusCode !== 200) {
      void answer.body.dump();
      throw new ParentPieceError(parent.peerId, `answered ${answer.statusCode} for piece ${piece.number}`, { status: answer.statusCode });
    }
    const length = Number(answer.headers['content-length']);
    if (length !== piece.length) {
      void answer.body.dump();
      throw new ParentPieceError(parent.peerId, `sent ${answer.headers['content-length']} bytes for piece ${piece.number} of ${piece.length}`);
    }
    return { body: mapErrors(answer.body, parent.peerId, piece.number), source: parent.peerId, expectedDigest: piece.digest };
  }

  /**
   * The piece over a connection of its own, its body left in the socket for receiveToFile. The
   * statuses and lengths that undici's answer would fail on fail the same way here; an answer this
   * client cannot take as it is (an informational status, a transfer coding) returns undefined and
   * the piece is fetched again through undici. A `receiving` piece is asked for as a relay.
   */
  async #fetchDirect(
    origin: string,
    parent: ParentAddress,
    taskId: string,
    piece: AnnouncedPiece,
    signal: AbortSignal,
    receive: ReceiveToFile,
    kept: { readonly raw: RawPool; readonly receive: ReceiveToFile } | undefined,
  ): Promise<PieceBody | undefined> {
    let answer: RawAnswer;
    try {
      const headers: Record<string, string> = piece.receiving ? { [RELAY_HEADER]: '1' } : {};
      const asked = { url: new URL(`${origin}/pieces/${taskId}/${piece.number}`), headers, timeoutMs: this.#timeoutMs, signal };
      answer = kept ? await kept.raw.request(asked) : await requestRange(asked);
    } catch (error) {
      if (signal.aborted) throw error;
      throw new ParentPieceError(parent.peerId, `cannot fetch piece ${piece.number}: ${(error as Error).message}`, { cause: error });
    }
    if (answer.statusCode < 200) {
      answer.socket.destroy();
      return undefined;
    }
    if (answer.statusCode !== 200) {
      answer.socket.destroy();
      throw new ParentPieceError(parent.peerId, `answered ${answer.statusCode} for piece ${piece.number}`, { status: answer.statusCode });
    }
    if (Number(answer.headers['content-length']) !== piece.length) {
      answer.socket.destroy();
      throw new ParentPieceError(parent.peerId, `sent ${answer.headers['content-length']} bytes for piece ${piece.number} of ${piece.length}`);
    }
    if (!isPlainBody(answer, piece.length, 200)) {
      answer.socket.destroy();
      return undefined;
    }
    const raw = new RawRangeBody(answer, { length: piece.length, timeoutMs: this.#timeoutMs, signal, receive, receiveKeepAlive: kept?.receive });
    const expectedDigest = piece.receiving ? relayDigest(answer.headers[PIECE_DIGEST_HEADER], parent, piece, signal) : piece.digest;
    return { body: new ParentDirectBody(raw, parent.peerId, piece.number, signal), source: parent.peerId, expectedDigest };
  }

  /**
   * A relayed piece through undici (no addon, or an answer the raw client does not take as it is).
   * A body cut short fails the piece like any broken body; a digest that is not announced in time
   * fails it in the engine's check.
   */
  async #fetchRelay(origin: string, parent: ParentAddress, taskId: string, piece: AnnouncedPiece, signal: AbortSignal): Promise<PieceBody> {
    const pool = this.#pools.use(origin);
    let answer;
    try {
      answer = await pool.request({
        path: `/pieces/${taskId}/${piece.number}`,
        method: 'GET',
        headers: { [RELAY_HEADER]: '1' },
        signal,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new ParentPieceError(parent.peerId, `cannot fetch piece ${piece.number}: ${(error as Error).message}`, { cause: error });
    }
    if (answer.statusCode !== 200) {
      void answer.body.dump();
      throw new ParentPieceError(parent.peerId, `answered ${answer.statusCode} for relayed piece ${piece.number}`, { status: answer.statusCode });
    }
    const length = Number(answer.headers['content-length']);
    if (length !== piece.length) {
      void answer.body.dump();
      throw new ParentPieceError(parent.peerId, `sent piece ${piece.number} as ${answer.headers['content-length']} bytes of ${piece.length}`);
    }
    const expectedDigest = relayDigest(answer.headers[PIECE_DIGEST_HEADER], parent, piece, signal);
    return { body: mapErrors(answer.body, parent.peerId, piece.number), source: parent.peerId, expectedDigest };
  }

  /** Drops the pool of a parent that is gone. */
  async forget(ip: string, port: number): Promise<void> {
    const origin = this.#originOf(ip, port);
    this.#rates.forget(origin);
    await this.#pools.delete(origin);
  }

  #originOf(ip: string, port: number): string {
    return originOf(ip, port, this.#tls !== undefined);
  }

  async close(): Promise<void> {
    this.#kept?.raw.close();
    await this.#pools.close();
  }
}

function originOf(ip: string, port: number, tls: boolean): string {
  return `${tls ? 'https' : 'http'}://${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}

/**
 * What a relay answer must hash to: its digest header when the parent had finished the piece by
 * the time it answered; else the digest the parent announces once verified, awaited after the body.
 */
function relayDigest(header: string | string[] | undefined, parent: ParentAddress, piece: AnnouncedPiece, signal: AbortSignal): ExpectedDigest {
  if (typeof header === 'string') return header;
  return async () => {
    const digest = await piece.verifiedDigest?.(signal);
    signal.throwIfAborted();
    if (digest === undefined) throw new ParentPieceError(parent.peerId, `did not announce relayed piece ${piece.number} as verified`);
    return digest;
  };
}

function brokeOff(parentId: string, number: number, error: unknown): ParentPieceError {
  return new ParentPieceError(parentId, `broke off piece ${number}: ${(error as Error).message}`, { cause: error });
}

async function* mapErrors(body: AsyncIterable<Uint8Array>, parentId: string, number: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  try {
    yield* body;
  } catch (error) {
    if ((error as Error)?.name === 'AbortError' || signal?.aborted) throw error;
    throw brokeOff(parentId, number, error);
  }
}

/**
 * A raw piece body with the parent's failures as ParentPieceError, as undici's body gets them from
 * mapErrors: a parent that breaks off, stalls or sends short is avoided. An abort stays an abort,
 * and a failed write to the task file (StorageError) stays the local error it is.
 */
class ParentDirectBody implements DirectBody, AsyncIterable<Uint8Array> {
  readonly #body: RawRangeBody;
  readonly #parentId: string;
  readonly #number: number;
  readonly #signal: AbortSignal;

  constructor(body: RawRangeBody, parentId: string, number: number, signal: AbortSignal) {
    this.#body = body;
    this.#parentId = parentId;
    this.#number = number;
    this.#signal = signal;
  }

  async receiveInto(fd: number, position: number, length: number, onWritten?: (written: number) => void): Promise<{ bytes: number; crc32: number }> {
    try {
      return await this.#body.receiveInto(fd, position, length, onWritten);
    } catch (error) {
      if (this.#signal.aborted || error instanceof StorageError) throw error;
      throw brokeOff(this.#parentId, this.#number, error);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return mapErrors(this.#body, this.#parentId, this.#number, this.#signal)[Symbol.asyncIterator]();
  }
}

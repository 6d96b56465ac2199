/**
 * Fetches one piece from a parent's piece server over HTTP/1.1 keep-alive (one undici pool per
 * parent address) and hands the engine a PieceBody whose `expectedDigest` is what the parent
 * announced in SyncPieces: the engine hashes the bytes as they are written and refuses a piece
 * that does not match, so a parent that serves corrupt bytes is caught before anything records it.
 */
import { Pool } from 'undici';
import type { PieceBody } from '../../engine/index.ts';
import { ParentPieceError } from '../errors.ts';

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
  readonly digest: string;
}

export class PieceClient {
  readonly #pools = new Map<string, Pool>();
  readonly #timeoutMs: number;
  readonly #connectionsPerParent: number;

  constructor(options: { timeoutMs: number; connectionsPerParent?: number }) {
    this.#timeoutMs = options.timeoutMs;
    this.#connectionsPerParent = options.connectionsPerParent ?? 8;
  }

  async fetch(parent: ParentAddress, taskId: string, piece: AnnouncedPiece, signal: AbortSignal): Promise<PieceBody> {
    const origin = `http://${parent.ip.includes(':') ? `[${parent.ip}]` : parent.ip}:${parent.port}`;
    let pool = this.#pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { connections: this.#connectionsPerParent, keepAliveTimeout: 30_000, pipelining: 1 });
      this.#pools.set(origin, pool);
    }
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

  /** Drops the pool of a parent that is gone. */
  async forget(ip: string, port: number): Promise<void> {
    const origin = `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
    const pool = this.#pools.get(origin);
    this.#pools.delete(origin);
    await pool?.destroy().catch(() => {});
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy().catch(() => {})));
  }
}

async function* mapErrors(body: AsyncIterable<Uint8Array>, parentId: string, number: number): AsyncIterable<Uint8Array> {
  try {
    yield* body;
  } catch (error) {
    if ((error as Error)?.name === 'AbortError') throw error;
    throw new ParentPieceError(parentId, `broke off piece ${number}: ${(error as Error).message}`, { cause: error });
  }
}

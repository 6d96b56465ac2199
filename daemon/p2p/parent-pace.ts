/**
 * How fast each parent has been sending us pieces, and so how long the pieces we asked of it may
 * take before its silence means a stall: shared by the stripe follower (a stripe parent) and the
 * stall watch of a round without a plan (any parent).
 */
import { isDirectBody, type DirectBody, type PieceBody } from '../../engine/index.ts';

/**
 * The native receive paths write a piece into the task file without reporting bytes on the way, so
 * while one is in flight its parent counts as alive for twice as long as its recent pieces took,
 * and at least as long as the piece takes at this rate (a parent not measured yet): a slow link
 * that still moves is not taken for a stalled one.
 */
export const DIRECT_RECEIVE_FLOOR_BYTES_PER_SECOND = 4 * 1024 * 1024;

/**
 * A parent asked for pieces sends them one after another: its upload limiter and a pipelined
 * connection queue whole pieces, so a piece asked of it may wait for the ones before it (ours and
 * its other children's) before its first byte. Bytes asked for are a stall only after this many
 * times what the pieces we have in flight with it take at its recent rate.
 */
export const ASKED_QUEUE_FACTOR = 2;

/** Weight of the newest piece in a parent's time per byte. */
const PIECE_TIME_WEIGHT = 0.3;

/** What `length` bytes take at DIRECT_RECEIVE_FLOOR_BYTES_PER_SECOND: a piece's time before any is measured. */
export const floorMs = (length: number) => (length * 1000) / DIRECT_RECEIVE_FLOOR_BYTES_PER_SECOND;

export class ParentPace {
  /** parent -> recent milliseconds per byte of its pieces, from answer to last byte. */
  readonly #msPerByte = new Map<string, number>();

  /** A piece of `bytes` from `parentId` took `ms` from its answer to its last byte. */
  pieceTook(parentId: string, bytes: number, ms: number): void {
    if (!(bytes > 0) || !(ms >= 0)) return;
    const sample = ms / bytes;
    const before = this.#msPerByte.get(parentId);
    this.#msPerByte.set(parentId, before === undefined ? sample : before * (1 - PIECE_TIME_WEIGHT) + sample * PIECE_TIME_WEIGHT);
  }

  /** How long a native receive of `length` bytes from `parentId` counts as a sign of life. */
  directGraceMs(parentId: string, length: number): number {
    return Math.max(floorMs(length), 2 * this.recentMs(parentId, length));
  }

  /** What `length` bytes from `parentId` took at its recent rate; 0 before its first piece. */
  recentMs(parentId: string, length: number): number {
    return length * (this.#msPerByte.get(parentId) ?? 0);
  }

  /** How long `count` pieces of `pieceLength` asked of `parentId` take one after another. */
  queueMs(parentId: string, count: number, pieceLength: number): number {
    return count * Math.max(floorMs(pieceLength), this.recentMs(parentId, pieceLength));
  }
}

/**
 * `piece`'s body, telling `alive` of every chunk as it arrives; a native receive (no chunks on the
 * way) is announced at its start as alive for `directGraceMs`, then at each growth the receive
 * thread publishes: a parent sharing its uplink with many children is slow, not stalled.
 */
export function watchedBody(piece: PieceBody, directGraceMs: number, alive: (aheadMs?: number) => void): PieceBody {
  const { body } = piece;
  const iterate = async function* (): AsyncIterable<Uint8Array> {
    for await (const chunk of body) {
      alive();
      yield chunk;
    }
  };
  if (!isDirectBody(body)) return { ...piece, body: iterate() };
  const direct: DirectBody & AsyncIterable<Uint8Array> = {
    receiveInto: async (fd, position, size, onWritten) => {
      alive(directGraceMs);
      // The receive tells how far it got while it runs (every few ms): each growth is a sign of life.
      const result = await body.receiveInto(fd, position, size, (written) => {
        alive();
        onWritten?.(written);
      });
      alive();
      return result;
    },
    [Symbol.asyncIterator]: () => iterate()[Symbol.asyncIterator](),
  };
  return { ...piece, body: direct };
}

/**
 * Cut-through relay: a piece this peer is still receiving, sent to a child that asked for it
 * (`X-Dragonfly-Relay: 1`) as its bytes land at their offsets in the task file. The answer looks
 * like a finished piece's (exact Content-Length, the length also in `X-Dragonfly-Piece-Length`)
 * but carries no digest: this peer knows it only once its own crc32 check passed, and the child
 * takes it from the finished-piece announcement this peer then sends over SyncPieces. The bytes go
 * from the task file with the piece sender (sendfile where the addon is loaded), each stretch once
 * the writer's watermark passed it, through the upload rate limiter.
 *
 * The last byte is held back until the piece is recorded here: when the attempt fails instead
 * (digest mismatch, short body, the task closes) the connection is destroyed before it, so the
 * child always sees a short body for a piece that did not pass, and fetches it elsewhere.
 */
import type { ServerResponse } from 'node:http';
import { DfError } from '../../api/index.ts';
import type { PieceReceipt, PieceSender, TaskView, TokenBucket } from '../../engine/index.ts';
import { socketOf } from '../http/respond.ts';

export const RELAY_HEADER = 'x-dragonfly-relay';
export const PIECE_LENGTH_HEADER = 'x-dragonfly-piece-length';

/** Bytes kept from the child until the piece is recorded here: one is enough to make a cut body short. */
const HELD_BACK_BYTES = 1;

/**
 * Least bytes one send carries while the piece still arrives: each send is a native transfer of
 * its own (a thread, two descriptors), and a native receive here reports every 15 ms, so at fast
 * rates this keeps a piece to a few dozen sends; at 100 Mbit/s it delays the child ~10 ms.
 */
const RELAY_MIN_SEND_BYTES = 128 * 1024;

/** True when the request opted in to cut-through relay. */
export function wantsRelay(headers: Record<string, string | string[] | undefined>): boolean {
  return headers[RELAY_HEADER] === '1';
}

/** The piece failed its check here (or its download stopped): the relayed body was cut. */
export class RelayCutError extends DfError {
  constructor(number: number) {
    super('DF_ERR_UNAVAILABLE', `piece ${number} did not pass its check here; its relayed body was cut`);
    this.name = 'RelayCutError';
  }
}

export interface RelayInit {
  readonly res: ServerResponse;
  readonly task: TaskView;
  readonly receipt: PieceReceipt;
  readonly sender: PieceSender;
  readonly limiter: TokenBucket;
  /** Offset header name of a piece answer. */
  readonly offsetHeader: string;
  readonly signal: AbortSignal;
}

/**
 * How far the child may have the piece: everything written once it is recorded here, else the
 * watermark short of the held-back tail.
 */
export function relayable(receipt: Pick<PieceReceipt, 'state' | 'written' | 'length'>): number {
  if (receipt.state === 'recorded') return receipt.length;
  return Math.min(receipt.written, Math.max(0, receipt.length - HELD_BACK_BYTES));
}

/** Sends the piece as it arrives; resolves the bytes sent once the last one went out. */
export async function relayPiece(init: RelayInit): Promise<number> {
  const { res, task, receipt, signal } = init;
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': receipt.length,
    [PIECE_LENGTH_HEADER]: receipt.length,
    [init.offsetHeader]: receipt.offset,
  });
  // Headers must reach the socket before the file bytes; the sender flushes what is queued.
  res.flushHeaders();
  const socket = await socketOf(res, signal);
  let sent = 0;
  while (sent < receipt.length) {
    if (receipt.state === 'failed') throw new RelayCutError(receipt.number);
    const ready = relayable(receipt);
    const allIn = ready === receipt.length || receipt.written === receipt.length;
    if (ready > sent && (allIn || ready - sent >= RELAY_MIN_SEND_BYTES)) {
      await init.limiter.take(ready - sent, signal);
      const moved = await init.sender.send(socket, task.dataPath, receipt.offset + sent, ready - sent, signal);
      // A file shorter than its watermark says: nothing sane to send, and looping would spin.
      if (moved <= 0) throw new RelayCutError(receipt.number);
      sent += moved;
      continue;
    }
    await receipt.changed(receipt.written, signal);
    signal.throwIfAborted();
  }
  res.end();
  return sent;
}

/**
 * Cut-through relay: a piece this peer is still receiving, streamed to a child that asked for it
 * (`X-Dragonfly-Relay: 1`) as its bytes land at their offsets in the task file. The answer is
 * chunked (its full length in `X-Dragonfly-Piece-Length`), because the piece's digest is known only
 * once this peer's own crc32 check passed and the piece is recorded: it goes in the
 * `X-Dragonfly-Piece-Digest` trailer. When the attempt fails here (short body, digest mismatch, the
 * task closes), the body is cut before its end, so the child drops what it got and fetches the
 * piece elsewhere. Bytes are read from the task file up to the writer's watermark and written
 * through the response (sendfile does not fit chunked framing).
 */
import { open } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { once } from 'node:events';
import { DfError } from '../../api/index.ts';
import type { PieceReceipt, TaskView, TokenBucket } from '../../engine/index.ts';

export const RELAY_HEADER = 'x-dragonfly-relay';
export const PIECE_LENGTH_HEADER = 'x-dragonfly-piece-length';

/** Bytes read from the task file per write to the child. */
const RELAY_CHUNK_BYTES = 256 * 1024;

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
  readonly limiter: TokenBucket;
  /** Digest and offset header names of a piece answer. */
  readonly digestHeader: string;
  readonly offsetHeader: string;
  readonly signal: AbortSignal;
}

/** Streams the piece as it arrives; resolves the bytes sent once the digest trailer is sent. */
export async function relayPiece(init: RelayInit): Promise<number> {
  const { res, task, receipt, signal } = init;
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'transfer-encoding': 'chunked',
    trailer: init.digestHeader,
    [PIECE_LENGTH_HEADER]: receipt.length,
    [init.offsetHeader]: receipt.offset,
  });
  res.flushHeaders();
  const handle = await open(task.dataPath, 'r');
  try {
    let sent = 0;
    const buffer = Buffer.allocUnsafe(Math.min(RELAY_CHUNK_BYTES, Math.max(1, receipt.length)));
    while (sent < receipt.length) {
      await receipt.changed(sent, signal);
      signal.throwIfAborted();
      if (receipt.state === 'failed') throw new RelayCutError(receipt.number);
      while (sent < receipt.written) {
        const want = Math.min(buffer.byteLength, receipt.written - sent);
        await init.limiter.take(want, signal);
        const { bytesRead } = await handle.read(buffer, 0, want, receipt.offset + sent);
        if (bytesRead <= 0) throw new RelayCutError(receipt.number);
        sent += bytesRead;
        // A copy: the buffer is reused while the socket may still hold the chunk.
        if (!res.write(Buffer.from(buffer.subarray(0, bytesRead)))) await once(res, 'drain', { signal });
      }
    }
    while (receipt.state === 'receiving') {
      await receipt.changed(receipt.length, signal);
      signal.throwIfAborted();
    }
    const record = task.piece(receipt.number);
    if (receipt.state !== 'recorded' || !record) throw new RelayCutError(receipt.number);
    res.addTrailers({ [init.digestHeader]: record.digest });
    res.end();
    return sent;
  } finally {
    await handle.close();
  }
}

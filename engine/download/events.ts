/** What a download tells its caller while it runs: a discriminated union on `type`. */
import type { PieceRecord } from '../store/task.ts';

export type DownloadEvent =
  | {
      readonly type: 'started';
      readonly taskId: string;
      readonly contentLength: number;
      readonly pieceLength: number;
      readonly pieceCount: number;
      /** Bytes already in the store from an earlier run, verified. */
      readonly resumedBytes: number;
      /** The pieces those bytes are: a daemon tells its client which pieces it already has. */
      readonly resumedPieces: readonly PieceRecord[];
      readonly rangeSupported: boolean;
    }
  /** Bytes arrived from the source (negative when a failed attempt's bytes are thrown away). */
  | { readonly type: 'bytes'; readonly count: number }
  | { readonly type: 'piece'; readonly piece: PieceRecord }
  | { readonly type: 'retry'; readonly pieceNumber: number; readonly attempt: number; readonly delayMs: number; readonly error: unknown }
  | { readonly type: 'finished'; readonly taskId: string; readonly contentLength: number };

export type DownloadEventListener = (event: DownloadEvent) => void;

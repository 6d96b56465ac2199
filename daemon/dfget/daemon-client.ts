/**
 * dfget asking the local dfdaemon (DfdaemonDownload on its unix socket) to download for it. The
 * daemon writes the output; dfget follows its stream for progress and turns a failed call back into
 * the same one-line error the standalone path prints (the daemon's message is the engine's).
 */
import { connect } from 'node:net';
import { lstat } from 'node:fs/promises';
import type { commonv2, dfdaemonv2 } from '../../api/index.ts';
import { CLIENT_OPTIONS, errorDetailOf, grpc, loadProtos, type ErrorDetail } from '../rpc/grpc.ts';
import type { DfgetArgs } from './args.ts';

/** True when something accepts connections on the socket: a daemon to ask. */
export async function daemonAnswers(socketPath: string, timeoutMs = 1_000): Promise<boolean> {
  const info = await lstat(socketPath).catch(() => undefined);
  if (!info?.isSocket()) return false;
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    const done = (alive: boolean) => {
      socket.destroy();
      resolve(alive);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(timeoutMs, () => done(false));
  });
}

export interface DaemonProgress {
  onStarted(contentLength: number, presentBytes: number): void;
  onPiece(piece: commonv2.Piece__Output): void;
}

/** A failed daemon call: the status, the daemon's message, and what the origin said if it was asked. */
export class DaemonCallError extends Error {
  readonly grpcCode: number | undefined;
  readonly detail: ErrorDetail | undefined;
  constructor(message: string, grpcCode: number | undefined, detail: ErrorDetail | undefined, cause: unknown) {
    super(message, { cause });
    this.name = 'DaemonCallError';
    this.grpcCode = grpcCode;
    this.detail = detail;
  }
}

export function downloadRequestOf(args: DfgetArgs): dfdaemonv2.DownloadTaskRequest {
  return {
    download: {
      url: args.url,
      digest: args.digest,
      type: 'STANDARD',
      tag: args.tag,
      application: args.application,
      priority: 'LEVEL6',
      filteredQueryParams: args.filteredQueryParams ? [...args.filteredQueryParams] : [],
      requestHeader: { ...args.headers },
      pieceLength: args.pieceLength,
      outputPath: args.output,
      timeoutMs: args.timeoutMs,
      overwrite: args.overwrite,
      concurrentPieceCount: args.concurrentPieceCount,
    },
  };
}

/** Runs the download through the daemon; resolves when the daemon wrote the output. */
export async function downloadViaDaemon(args: DfgetArgs, progress: DaemonProgress, signal: AbortSignal): Promise<void> {
  const { DfdaemonDownload } = loadProtos().dfdaemon;
  const client = new DfdaemonDownload(`unix:${args.endpoint}`, grpc.credentials.createInsecure(), CLIENT_OPTIONS);
  try {
    const call = client.downloadTask(downloadRequestOf(args));
    const onAbort = () => call.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const message of call as AsyncIterable<dfdaemonv2.DownloadTaskResponse__Output>) {
        const started = message.downloadTaskStartedResponse;
        if (started) {
          progress.onStarted(started.contentLength, started.pieces.reduce((sum, piece) => sum + piece.length, 0));
        }
        const piece = message.downloadPieceFinishedResponse?.piece;
        if (piece) progress.onPiece(piece);
      }
    } catch (error) {
      const status = error as Partial<grpc.StatusObject>;
      const detail = errorDetailOf(error);
      const message =
        detail?.message ??
        (status.code === grpc.status.UNAVAILABLE
          ? `lost the connection to dfdaemon at ${args.endpoint}: ${status.details ?? (error as Error).message}`
          : (status.details ?? (error as Error).message));
      throw new DaemonCallError(message, status.code, detail, error);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  } finally {
    client.close();
  }
}

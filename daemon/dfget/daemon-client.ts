/**
 * dfget asking the local dfdaemon (DfdaemonDownload on its unix socket) to download for it. The
 * daemon writes the output; dfget follows its stream for progress and turns a failed call back into
 * the same one-line error the standalone path prints (the daemon's message is the engine's).
 */
import { connect } from 'node:net';
import { lstat } from 'node:fs/promises';
import type { commonv2, dfdaemonv2 } from '../../api/index.ts';
import type { ErrorDetail, grpc } from '../rpc/grpc.ts';
import { downloadOf, type TaskRequest } from '../tasks/request.ts';

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

/** Runs the download through the daemon; resolves when the daemon wrote the output. */
export async function downloadViaDaemon(request: TaskRequest, endpoint: string, progress: DaemonProgress, signal: AbortSignal): Promise<void> {
  // gRPC (~100 ms of imports) only once a daemon answered: dfget without one never loads it.
  const rpc = await import('../rpc/grpc.ts');
  const { DfdaemonDownload } = rpc.loadProtos().dfdaemon;
  const client = new DfdaemonDownload(`unix:${endpoint}`, rpc.grpc.credentials.createInsecure(), rpc.CLIENT_OPTIONS);
  try {
    const call = client.downloadTask({ download: downloadOf(request) });
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
      const detail = rpc.errorDetailOf(error);
      const message =
        detail?.message ??
        (status.code === rpc.grpc.status.UNAVAILABLE
          ? `lost the connection to dfdaemon at ${endpoint}: ${status.details ?? (error as Error).message}`
          : (status.details ?? (error as Error).message));
      throw new DaemonCallError(message, status.code, detail, error);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  } finally {
    client.close();
  }
}

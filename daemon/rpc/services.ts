/**
 * The daemon's gRPC handlers: DfdaemonUpload (TCP, peers and the scheduler) and DfdaemonDownload
 * (unix socket, dfget). Thin: decode and validate, call TaskService, encode. Every failure, thrown
 * or rejected, becomes a status through one function (grpcErrorOf); none can take the process down.
 */
import type { commonv2, dfdaemonv2 } from '../../api/index.ts';
import type { PieceRecord } from '../../engine/index.ts';
import { ClientGoneError, NotFoundError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { TrafficType } from '../metrics.ts';
import type { StartedInfo } from '../tasks/task-manager.ts';
import type { TaskService } from '../tasks/task-service.ts';
import { pieceMessage, taskMessage } from './encode.ts';
import { grpc, grpcErrorOf } from './grpc.ts';
import { taskRequestOfDownload } from '../tasks/request.ts';
import { checkTaskId } from './validate.ts';

export interface ServiceContext {
  readonly service: TaskService;
  readonly log: Logger;
  readonly hostId: string;
  /** Advertised address and piece-server port, sent with every SyncPieces answer. */
  readonly ip: string;
  readonly pieceServerPort: () => number;
  readonly seed: boolean;
  /** upload.disableShared: a leech announces no pieces to anyone. */
  readonly shared: boolean;
  /** The host as announced, for SyncHost. */
  readonly host: () => commonv2.Host;
}

type StreamCall<Req, Res> = grpc.ServerWritableStream<Req, Res>;

/** Runs a handler body; anything it throws or rejects ends the call with a mapped status. */
function guardUnary<Req, Res>(log: Logger, name: string, body: (request: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => body(call.request))
      .then(
        (value) => callback(null, value),
        (error: unknown) => {
          log.debug(`${name} failed`, { error });
          callback(grpcErrorOf(error));
        },
      );
  };
}

function guardStream<Req, Res>(log: Logger, name: string, body: (call: StreamCall<Req, Res>, signal: AbortSignal) => Promise<void>): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const abort = new AbortController();
    call.on('cancelled', () => abort.abort(new ClientGoneError('the client cancelled the call')));
    call.on('error', () => abort.abort(new ClientGoneError('the call broke')));
    Promise.resolve()
      .then(() => body(call, abort.signal))
      .then(
        () => {
          if (!abort.signal.aborted) call.end();
        },
        (error: unknown) => {
          if (abort.signal.aborted) return;
          log.debug(`${name} failed`, { error });
          call.emit('error', grpcErrorOf(error));
        },
      );
  };
}

/** The DownloadTask stream both services share: started, then one message per finished piece. */
function downloadTask(ctx: ServiceContext, options: { output: boolean; detached: boolean }) {
  return guardStream<dfdaemonv2.DownloadTaskRequest__Output, dfdaemonv2.DownloadTaskResponse>(ctx.log, 'DownloadTask', async (call, signal) => {
    const request = taskRequestOfDownload(call.request.download, { output: options.output });
    const head = (info: { taskId: string; peerId: string }) => ({ hostId: ctx.hostId, taskId: info.taskId, peerId: info.peerId });
    let peer = { taskId: '', peerId: '' };
    await ctx.service.download(
      request,
      {
        onStarted: (info: StartedInfo) => {
          peer = info;
          call.write({
            ...head(info),
            downloadTaskStartedResponse: {
              contentLength: info.contentLength,
              pieces: info.pieces.map((piece) => pieceMessage(piece, 'local_peer')),
              isFinished: info.pieces.length === info.pieceCount,
            },
          });
        },
        onPiece: (record: PieceRecord, traffic: TrafficType) => {
          call.write({ ...head(peer), downloadPieceFinishedResponse: { piece: pieceMessage(record, traffic) } });
        },
      },
      { signal, detached: options.detached, seed: ctx.seed },
    );
  });
}

export function uploadHandlers(ctx: ServiceContext): dfdaemonv2.DfdaemonUploadHandlers {
  return {
    // The scheduler triggers a seed peer with this; the download goes on if the scheduler hangs up.
    DownloadTask: downloadTask(ctx, { output: false, detached: true }),
    SyncPieces: guardStream<dfdaemonv2.SyncPiecesRequest__Output, dfdaemonv2.SyncPiecesResponse>(ctx.log, 'SyncPieces', async (call, signal) => {
      const taskId = checkTaskId(call.request.taskId);
      if (!ctx.shared) throw new NotFoundError('this peer does not share its tasks (upload.disableShared)');
      await ctx.service.syncPieces(
        taskId,
        call.request.interestedPieceNumbers ?? [],
        (piece) =>
          call.write({
            number: piece.number,
            offset: piece.offset,
            length: piece.length,
            digest: piece.digest,
            ip: ctx.ip,
            tcpPort: ctx.pieceServerPort(),
          }),
        signal,
        call.request.relay
          ? (range) => call.write({ number: range.number, offset: range.offset, length: range.length, digest: '', ip: ctx.ip, tcpPort: ctx.pieceServerPort(), receiving: true })
          : undefined,
      );
    }),
    StatTask: guardUnary(ctx.log, 'StatTask', async (request: dfdaemonv2.StatTaskRequest__Output) =>
      taskMessage(await ctx.service.stat(checkTaskId(request.taskId)), true),
    ),
    DeleteTask: guardUnary(ctx.log, 'DeleteTask', async (request: dfdaemonv2.DeleteTaskRequest__Output) => {
      await ctx.service.delete(checkTaskId(request.taskId));
      return {};
    }),
    SyncHost: guardStream<dfdaemonv2.SyncHostRequest__Output, commonv2.Host>(ctx.log, 'SyncHost', async (call, signal) => {
      // The host's live load, once a second, until the caller hangs up.
      while (!signal.aborted) {
        call.write(ctx.host());
        await new Promise((resolve) => setTimeout(resolve, 1000).unref());
      }
    }),
  };
}

export function downloadHandlers(ctx: ServiceContext): dfdaemonv2.DfdaemonDownloadHandlers {
  return {
    DownloadTask: downloadTask(ctx, { output: true, detached: false }),
    StatTask: guardUnary(ctx.log, 'StatTask', async (request: dfdaemonv2.StatTaskRequest__Output) =>
      taskMessage(await ctx.service.stat(checkTaskId(request.taskId)), true),
    ),
    DeleteTask: guardUnary(ctx.log, 'DeleteTask', async (request: dfdaemonv2.DeleteTaskRequest__Output) => {
      await ctx.service.delete(checkTaskId(request.taskId));
      return {};
    }),
  };
}

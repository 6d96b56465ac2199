/**
 * The AnnouncePeer stream handler: decode each request, hand it to the peer's session, encode what
 * the session sends. Requests of one stream are handled one at a time, in order: while a register
 * or reschedule waits for parents, later reports of that stream wait too (as Dragonfly's Recv loop
 * does); other streams are not held up.
 */
import type * as grpc from '@grpc/grpc-js';
import { toGrpcError, type schedulerv2 } from '../../api/index.ts';
import type { Logger } from '../log.ts';
import { decodeAnnouncePeerRequest } from './codec.ts';
import { encodeAnnounceResponse } from './encode.ts';
import type { PeerService } from './peer-service.ts';
import type { HandleResult } from './peer-session.ts';

type AnnounceCall = grpc.ServerDuplexStream<schedulerv2.AnnouncePeerRequest__Output, schedulerv2.AnnouncePeerResponse>;

/** Requests queued behind a scheduling wait before the stream stops reading (HTTP/2 flow control then holds the client). */
export const MAX_QUEUED_REQUESTS = 1024;

export function announcePeerHandler(service: PeerService, log: Logger): (call: AnnounceCall) => void {
  return (call) => {
    let finished = false;
    const session = service.openSession(
      (response) => {
        if (!finished) call.write(encodeAnnounceResponse(response));
      },
      (error) => finish(error),
    );
    const queue: schedulerv2.AnnouncePeerRequest__Output[] = [];
    let head = 0;
    let busy = false;
    let clientDone = false;

    const finish = (error?: unknown) => {
      if (finished) return;
      finished = true;
      queue.length = 0;
      if (error === undefined) {
        session.close(clientDone ? 'ended' : 'finished');
        call.end();
      } else {
        service.deps.metrics.announcePeerFailure.inc();
        const status = toGrpcError(error);
        log.info('AnnouncePeer stream ends with an error', { peerId: session.peer?.id, code: status.code, details: status.details });
        session.close('error');
        call.emit('error', status);
      }
    };

    const settle = (result: void | 'close') => {
      busy = false;
      if (result === 'close') finish();
      else pump();
    };

    const pump = () => {
      while (!busy && !finished && head < queue.length) {
        const request = queue[head++]!;
        if (head === queue.length) {
          queue.length = 0;
          head = 0;
        }
        let result: HandleResult;
        try {
          result = session.handle(decodeAnnouncePeerRequest(request));
        } catch (error) {
          finish(error);
          return;
        }
        if (result === 'close') {
          finish();
          return;
        }
        if (result instanceof Promise) {
          busy = true;
          result.then(settle, (error: unknown) => {
            busy = false;
            finish(error);
          });
          return;
        }
      }
      if (call.isPaused() && !finished) call.resume();
      // The client half-closed and everything it sent is handled.
      if (clientDone && !busy && head >= queue.length) finish();
    };

    call.on('data', (request: schedulerv2.AnnouncePeerRequest__Output) => {
      if (finished) return;
      queue.push(request);
      if (busy && queue.length - head >= MAX_QUEUED_REQUESTS) call.pause();
      pump();
    });
    call.on('end', () => {
      clientDone = true;
      pump();
    });
    call.on('cancelled', () => {
      if (finished) return;
      finished = true;
      queue.length = 0;
      session.close('ended');
    });
    call.on('error', () => {
      // Emitted by grpc-js for transport failures and by `finish` itself; the session is closed either way.
      if (!finished) {
        finished = true;
        session.close('ended');
      }
    });
  };
}

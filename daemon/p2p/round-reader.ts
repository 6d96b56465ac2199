/**
 * Reads the AnnouncePeer stream while a round runs. The scheduler may push a NormalTaskResponse at
 * any time (it re-attached this peer because a parent left, failed or was demoted): it is consumed
 * here and applied at once, without ending the round. Any other answer is left unread at the head
 * of the stream and the round is asked to stop, so the strategy's loop reads it next and handles it
 * as between rounds; reading stops there. A stream that breaks is left alone: the round goes on and
 * the loop sees the break once the round is over, as without this reader.
 *
 * Exactly one reader consumes the stream at a time: this one from `readDuringRound` until `stop()`
 * resolves, the strategy's `next()` only outside that span.
 */
import type { schedulerv2 } from '../../api/index.ts';
import type { AnnounceStream } from './announce-stream.ts';

export interface RoundReaderHandlers {
  /** A new plan and parents from the scheduler, mid-round. */
  plan(response: schedulerv2.NormalTaskResponse__Output): void;
  /** Some other answer waits at the head of the stream: the round should end. Called at most once. */
  other(response: schedulerv2.AnnouncePeerResponse__Output): void;
}

export interface RoundReader {
  /** Stops reading; once resolved, nothing more is consumed here. */
  stop(): Promise<void>;
}

export function readDuringRound(stream: AnnounceStream, handlers: RoundReaderHandlers): RoundReader {
  const stopped = new AbortController();
  const reading = (async () => {
    while (!stopped.signal.aborted) {
      const head = stream.peek();
      if (!head) {
        if (stream.broken) return;
        await stream.arrival(stopped.signal);
        continue;
      }
      if (!head.normalTaskResponse) return handlers.other(head);
      stream.take();
      handlers.plan(head.normalTaskResponse);
    }
  })();
  return {
    stop: async () => {
      stopped.abort();
      await reading;
    },
  };
}

/**
 * Pieces straight from the origin, through the daemon's download bandwidth limit. From an origin
 * the engine measured as slow, one piece at a time (SLOW_LINK_PIECES_IN_FLIGHT): its pieces then
 * complete in order at the link's full rate, and a seed peer can pass each on that much sooner.
 */
import { linkRates, SLOW_LINK_PIECES_IN_FLIGHT, type LinkRates, type PieceJob, type PieceSession, type PieceStrategy, type TokenBucket } from '../../engine/index.ts';

/** A job that waits for the limiter before each attempt: the bucket is charged per piece. */
export function limitedJob(job: PieceJob, limiter: TokenBucket): PieceJob {
  if (limiter.unlimited) return job;
  return {
    ...job,
    fetch: async (range, signal) => {
      await limiter.take(range.length, signal);
      return job.fetch(range, signal);
    },
  };
}

export async function fetchFromOrigin(
  session: PieceSession,
  limiter: TokenBucket,
  hooks: {
    decorate?: (job: PieceJob) => PieceJob;
    onPieceFailed?: (number: number, error: unknown) => void;
    rates?: LinkRates;
    /** Someone reads the content in order: the first piece is fetched alone. */
    headStart?: boolean | undefined;
  } = {},
): Promise<void> {
  if (session.task.complete) return;
  // An origin without Range can only be read whole, in order: no per-piece jobs to limit.
  if (!session.stat.rangeSupported) return session.fetchMissingFromOrigin();
  const decorate = hooks.decorate ?? ((job: PieceJob) => job);
  const queue = new SlowLinkQueue(session.task.missingPieces(), originKey(session.url), hooks.rates ?? linkRates);
  await session.runPieces(
    (signal) => queue.next(signal, (n) => decorate(limitedJob(session.originJob(n), limiter))),
    (number, error) => {
      queue.release();
      hooks.onPieceFailed?.(number, error);
      return false;
    },
    { headStart: hooks.headStart },
  );
}

function originKey(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/**
 * The missing pieces in order, at most SLOW_LINK_PIECES_IN_FLIGHT handed out at once while the
 * origin (`key` in `rates`) is slow; as many as the engine asks for otherwise.
 */
export class SlowLinkQueue {
  readonly #queue: number[];
  readonly #key: string;
  readonly #rates: LinkRates;
  #inFlight = 0;
  #wake: (() => void) | undefined;

  constructor(numbers: readonly number[], key: string, rates: LinkRates) {
    this.#queue = [...numbers];
    this.#key = key;
    this.#rates = rates;
  }

  async next(signal: AbortSignal, job: (number: number) => PieceJob): Promise<PieceJob | undefined> {
    while (this.#queue.length > 0 && this.#inFlight >= SLOW_LINK_PIECES_IN_FLIGHT && this.#rates.isSlow(this.#key)) {
      if (signal.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        };
        // Also looks again now and then: the origin may have turned fast.
        const timer = setTimeout(done, 1_000);
        signal.addEventListener('abort', done, { once: true });
        const previous = this.#wake;
        this.#wake = () => {
          previous?.();
          done();
        };
      });
    }
    const number = this.#queue.shift();
    if (number === undefined) return undefined;
    this.#inFlight++;
    const inner = job(number);
    return {
      ...inner,
      finished: async (record) => {
        this.release();
        await inner.finished?.(record);
      },
    };
  }

  /** A piece handed out is done (finished or failed): the next one may go. */
  release(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

export function originStrategy(limiter: TokenBucket): PieceStrategy {
  return (session) => fetchFromOrigin(session, limiter);
}

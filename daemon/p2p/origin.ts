/** Pieces straight from the origin, through the daemon's download bandwidth limit. */
import { queueOf, type PieceJob, type PieceSession, type PieceStrategy, type TokenBucket } from '../../engine/index.ts';

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
  hooks: { decorate?: (job: PieceJob) => PieceJob; onPieceFailed?: (number: number, error: unknown) => void } = {},
): Promise<void> {
  if (session.task.complete) return;
  // An origin without Range can only be read whole, in order: no per-piece jobs to limit.
  if (!session.stat.rangeSupported) return session.fetchMissingFromOrigin();
  const decorate = hooks.decorate ?? ((job: PieceJob) => job);
  await session.runPieces(
    queueOf(session.task.missingPieces(), (n) => decorate(limitedJob(session.originJob(n), limiter))),
    hooks.onPieceFailed &&
      ((number, error) => {
        hooks.onPieceFailed!(number, error);
        return false;
      }),
  );
}

export function originStrategy(limiter: TokenBucket): PieceStrategy {
  return (session) => fetchFromOrigin(session, limiter);
}

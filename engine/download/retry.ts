/** Retry with exponential backoff and jitter, as a wrapper around any attempt. */
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  /** Attempts after the first. */
  retries: number;
  /**
   * Past `retries`, keep retrying while the first failure is younger than this: a source that is
   * down for a while (a restart, a 503 burst) costs time, not the download. 0: `retries` only.
   */
  windowMs?: number;
  baseDelayMs: number;
  maxDelayMs: number;
  signal?: AbortSignal | undefined;
  isRetryable: (error: unknown) => boolean;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  now?: () => number;
}

export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number, random = Math.random): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
  // Half fixed, half random: retries of many pieces do not hit the origin in lock-step.
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

export async function withRetry<T>(attempt: (attemptNumber: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const now = options.now ?? Date.now;
  let firstFailureAt: number | undefined;
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      firstFailureAt ??= now();
      const inWindow = now() - firstFailureAt < (options.windowMs ?? 0);
      if ((n >= options.retries && !inWindow) || !options.isRetryable(error) || options.signal?.aborted) throw error;
      const delay = backoffDelay(n, options.baseDelayMs, options.maxDelayMs);
      options.onRetry?.(error, n + 1, delay);
      await sleep(delay, undefined, { signal: options.signal });
    }
  }
}

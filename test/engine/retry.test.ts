/** withRetry's two bounds, as a table on a controlled clock: a count of retries, and a window past it. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { withRetry } from '../../engine/index.ts';

class Transient extends Error {}

/** Runs an attempt that fails `failures` times (each failure advancing the clock by `attemptMs`). */
async function run(options: { retries: number; windowMs: number; failures: number; attemptMs: number; fatalAt?: number }) {
  let clock = 0;
  let attempts = 0;
  const outcome = await withRetry(
    async () => {
      attempts++;
      clock += options.attemptMs;
      if (attempts === options.fatalAt) throw new Error('fatal');
      if (attempts <= options.failures) throw new Transient('503');
      return 'ok';
    },
    { retries: options.retries, windowMs: options.windowMs, baseDelayMs: 0, maxDelayMs: 0, now: () => clock, isRetryable: (error) => error instanceof Transient },
  ).catch((error: Error) => error.message);
  return { outcome, attempts };
}

const cases: Array<[string, Parameters<typeof run>[0], { outcome: string; attempts: number }]> = [
  ['no window: the count alone', { retries: 2, windowMs: 0, failures: 5, attemptMs: 100 }, { outcome: '503', attempts: 3 }],
  ['within the count', { retries: 2, windowMs: 0, failures: 2, attemptMs: 100 }, { outcome: 'ok', attempts: 3 }],
  // First failure at t=100; failures at 200..1000 are within 1 s of it, the one at 1100 is not.
  ['the window keeps retrying past the count', { retries: 2, windowMs: 1_000, failures: 8, attemptMs: 100 }, { outcome: 'ok', attempts: 9 }],
  ['a failure once the first is window-old ends it', { retries: 2, windowMs: 1_000, failures: 50, attemptMs: 100 }, { outcome: '503', attempts: 11 }],
  ['the count still applies when the window is short', { retries: 4, windowMs: 150, failures: 50, attemptMs: 100 }, { outcome: '503', attempts: 5 }],
  ['an error not worth retrying ends it inside the window', { retries: 2, windowMs: 10_000, failures: 50, attemptMs: 100, fatalAt: 6 }, { outcome: 'fatal', attempts: 6 }],
];

for (const [name, options, expected] of cases) {
  test(`withRetry: ${name}`, async () => {
    assert.deepEqual(await run(options), expected);
  });
}

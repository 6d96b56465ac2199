/** The token bucket with a hand-driven clock: charges per piece, debt, refill, burst cap. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../engine/index.ts';

function clocked(bytesPerSecond: number, burstBytes?: number) {
  let now = 0;
  const bucket = new TokenBucket({ bytesPerSecond, burstBytes, now: () => now });
  return { bucket, advance: (ms: number) => (now += ms) };
}

test('a take within the burst passes at once; past it, the wait is the debt at the rate', () => {
  const { bucket } = clocked(1000);
  assert.equal(bucket.reserve(600), 0);
  assert.equal(bucket.reserve(400), 0);
  assert.equal(bucket.reserve(500), 500, '500 bytes of debt at 1000 B/s');
  assert.equal(bucket.reserve(1000), 1500, 'later takers wait behind the earlier debt');
});

test('tokens refill with time, up to the burst only', () => {
  const { bucket, advance } = clocked(1000, 2000);
  assert.equal(bucket.reserve(2000), 0);
  advance(500);
  assert.equal(bucket.reserve(500), 0);
  advance(60_000);
  assert.equal(bucket.reserve(2500), 500, 'an idle minute buys no more than the burst');
});

test('a piece larger than the bucket is allowed and paid for afterwards', () => {
  const { bucket, advance } = clocked(1000, 100);
  assert.equal(bucket.reserve(4000), 3900);
  advance(3900);
  assert.equal(bucket.reserve(100), 100);
});

test('0 and Infinity mean no limit', async () => {
  for (const rate of [0, Infinity]) {
    const bucket = new TokenBucket({ bytesPerSecond: rate });
    assert.equal(bucket.unlimited, true);
    assert.equal(bucket.reserve(1e15), 0);
    await bucket.take(1e15);
  }
  assert.throws(() => new TokenBucket({ bytesPerSecond: -1 }), RangeError);
});

test('take waits out the debt and stops on abort', async () => {
  const bucket = new TokenBucket({ bytesPerSecond: 1_000_000, burstBytes: 1 });
  const controller = new AbortController();
  const waiting = bucket.take(10_000_000, controller.signal);
  controller.abort(new Error('stop'));
  await assert.rejects(waiting, { name: 'AbortError' });
});

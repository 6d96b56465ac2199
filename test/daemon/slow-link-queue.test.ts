/** Origin pieces one or two at a time once the origin is known to be slow (daemon/p2p/origin.ts). */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { SlowLinkQueue } from '../../daemon/index.ts';
import { LinkRates, SLOW_LINK_PIECES_IN_FLIGHT, type PieceJob } from '../../engine/index.ts';

const job = (number: number): PieceJob => ({ number, fetch: async () => Promise.reject(new Error('not fetched here')) });

function ratesWith(key: string, bytesPerSecond: number): LinkRates {
  let now = 0;
  const rates = new LinkRates(() => now);
  const done = rates.start(key);
  now += 1000;
  done(bytesPerSecond);
  return rates;
}

test('a fast (or unknown) origin gets every piece the engine asks for, in order', async () => {
  const queue = new SlowLinkQueue([0, 1, 2, 3], 'origin:80', ratesWith('origin:80', 1e9));
  const signal = new AbortController().signal;
  const numbers = [];
  for (let i = 0; i < 4; i++) numbers.push((await queue.next(signal, job))!.number);
  assert.deepEqual(numbers, [0, 1, 2, 3]);
  assert.equal(await queue.next(signal, job), undefined);
});

test('a slow origin gets SLOW_LINK_PIECES_IN_FLIGHT at once; a finished piece lets the next one go', async () => {
  const queue = new SlowLinkQueue([0, 1, 2, 3], 'origin:80', ratesWith('origin:80', 1e6));
  const signal = new AbortController().signal;
  const handed: PieceJob[] = [];
  for (let i = 0; i < SLOW_LINK_PIECES_IN_FLIGHT; i++) handed.push((await queue.next(signal, job))!);
  let third: PieceJob | undefined;
  const waiting = queue.next(signal, job).then((j) => (third = j));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(third, undefined, 'held while the first pieces are in flight');
  await handed[0]!.finished!({ number: 0 } as never);
  await waiting;
  assert.equal(third!.number, SLOW_LINK_PIECES_IN_FLIGHT);
});

test('an abort ends the wait with no job', async () => {
  const queue = new SlowLinkQueue([0, 1, 2, 3, 4], 'origin:80', ratesWith('origin:80', 1e6));
  const controller = new AbortController();
  for (let i = 0; i < SLOW_LINK_PIECES_IN_FLIGHT; i++) await queue.next(controller.signal, job);
  const waiting = queue.next(controller.signal, job);
  controller.abort();
  assert.equal(await waiting, undefined);
});

/** How a round splits its pieces in flight over its parents (daemon/p2p/parent-selector.ts). Pure. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { parentShares } from '../../daemon/index.ts';

const MBIT = 1_000_000;
const parent = (peerId: string, maxTx: number, tx: number) => ({ peerId, host: { network: { maxTxBandwidth: maxTx, txBandwidth: tx } } as never });
const shares = (...args: Parameters<typeof parentShares>) => Object.fromEntries(parentShares(...args));

test('an idle parent gets every piece in flight; parents the scheduler already loaded get none', () => {
  // The seed and an earlier peer already serve a child each (projected tx over their max): 10% idle.
  const parents = [parent('fresh', 100 * MBIT, 0), parent('busy-peer', 100 * MBIT, 268 * MBIT), parent('seed', 100 * MBIT, 268 * MBIT)];
  assert.deepEqual(shares(parents, 8), { fresh: 8, 'busy-peer': 0, seed: 0 });
  assert.deepEqual(shares(parents, 1), { fresh: 1, 'busy-peer': 0, seed: 0 });
});

test('equal parents split evenly; what rounding leaves goes to the first ones (the scheduler ranks best first)', () => {
  const parents = [parent('a', 0, 0), parent('b', 0, 0), parent('c', 0, 0)];
  assert.deepEqual(shares(parents, 8), { a: 3, b: 3, c: 2 });
  assert.deepEqual(shares(parents, 2), { a: 1, b: 1, c: 0 });
});

test('shares follow idle bandwidth and always add up to the concurrency', () => {
  const parents = [parent('a', 100 * MBIT, 25 * MBIT), parent('b', 100 * MBIT, 75 * MBIT)];
  assert.deepEqual(shares(parents, 8), { a: 6, b: 2 });
  for (const concurrency of [1, 3, 8, 16]) {
    const total = Object.values(shares([...parents, parent('c', 100 * MBIT, 90 * MBIT)], concurrency)).reduce((sum, n) => sum + n, 0);
    assert.equal(total, concurrency, `concurrency ${concurrency}`);
  }
  assert.deepEqual(shares([], 8), {});
});

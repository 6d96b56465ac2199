import assert from 'node:assert/strict';
import { test } from 'vitest';
import { median, stripeSlots } from '../scheduling/slots.ts';

test('median: the middle value, the mean of the middle two, 0 for none', () => {
  const cases: readonly [readonly number[], number][] = [
    [[], 0],
    [[5], 5],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[10e9, 1e9, 1e9, 1e9], 1e9],
  ];
  for (const [values, expected] of cases) assert.equal(median(values), expected, `median of ${values.join(',')}`);
});

test('slots: k per median uplink, rounded, clamped to [1, 4k]', () => {
  const M = 1e9;
  // [k, maxTx, median, slots]
  const cases: readonly [number, number, number, number][] = [
    [4, M, M, 4], // the median host feeds one child per stripe
    [4, 2 * M, M, 8],
    [4, 1.5 * M, M, 6],
    [4, 0.5 * M, M, 2],
    [4, 0.1 * M, M, 1], // round(0.4) = 0, but a member feeds at least one
    [4, 0, M, 1],
    [4, 100 * M, M, 16], // capped at 4k
    [4, 4.2 * M, M, 16],
    [2, 1.25 * M, M, 3], // round(2.5) = 3
    [2, 1.2 * M, M, 2],
    [16, M, M, 16],
    [16, 10 * M, M, 64],
    [4, M, 0, 4], // nobody announced a bandwidth: everyone is a median host
    [4, 0, 0, 4],
  ];
  for (const [k, maxTx, med, expected] of cases) assert.equal(stripeSlots(k, maxTx, med), expected, `k=${k} maxTx=${maxTx} median=${med}`);
});

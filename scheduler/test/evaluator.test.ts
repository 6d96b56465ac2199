import assert from 'node:assert/strict';
import { test } from 'vitest';
import { PeerState } from '../resource/fsm.ts';
import { CostWindow } from '../resource/peer.ts';
import {
  bandwidthDurationScore,
  concurrencyScore,
  evaluateParents,
  hostTypeScore,
  idcAffinityScore,
  isBadCost,
  isBadParent,
  loadQualityScore,
  locationAffinityScore,
  parentScore,
  peakBandwidthUsageScore,
  type Load,
} from '../scheduling/evaluator.ts';
import { World } from './fixtures.ts';

const G = 1e9;
const MiB = 1024 * 1024;
const load = (extra: Partial<Load> = {}): Load => ({ maxTxBandwidth: 10 * G, txBandwidth: 0, uploadContentLength: 0, concurrentUploadPieceCount: 0, ...extra });
const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} != ${expected}`);

test('peak bandwidth usage: 1 - tx/maxTx, 0 when saturated or unknown', () => {
  const cases: readonly [Partial<Load>, number][] = [
    [{}, 1],
    [{ txBandwidth: 2.5 * G }, 0.75],
    [{ txBandwidth: 10 * G }, 0],
    [{ txBandwidth: 12 * G }, 0],
    [{ maxTxBandwidth: 0 }, 0],
  ];
  for (const [extra, expected] of cases) close(peakBandwidthUsageScore(load(extra)), expected, JSON.stringify(extra));
});

test('bandwidth duration: 1 - bytes*8/maxTx/60s, 1 with nothing uploaded, 0 when unknown', () => {
  const cases: readonly [Partial<Load>, number][] = [
    [{}, 1],
    [{ uploadContentLength: 15 * G / 8 * 60 / 10 }, 0.85], // 15% of 60 s of a 10 Gbps link
    [{ uploadContentLength: 75 * G }, 0], // 600 Gbit >= 10 Gbps * 60 s
    [{ maxTxBandwidth: 0, uploadContentLength: 1 }, 0],
    [{ maxTxBandwidth: 0 }, 0],
  ];
  for (const [extra, expected] of cases) close(bandwidthDurationScore(load(extra)), expected, JSON.stringify(extra));
});

test('concurrency: 1 while pieces fit maxTx/(16 MiB*8), then the ratio inverted; 0 on slow links', () => {
  const link = 16 * MiB * 8 * 10; // exactly 10 pieces of 16 MiB per second
  const cases: readonly [Partial<Load>, number][] = [
    [{ maxTxBandwidth: link }, 1],
    [{ maxTxBandwidth: link, concurrentUploadPieceCount: 10 }, 1],
    [{ maxTxBandwidth: link, concurrentUploadPieceCount: 20 }, 0.5],
    [{ maxTxBandwidth: link, concurrentUploadPieceCount: 40 }, 0.25],
    [{ maxTxBandwidth: 16 * MiB * 8 }, 0], // needs <= 1 piece
    [{ maxTxBandwidth: 0 }, 0],
  ];
  for (const [extra, expected] of cases) close(concurrencyScore(load(extra)), expected, JSON.stringify(extra));
});

test('load quality weights 0.5 / 0.3 / 0.2', () => {
  close(loadQualityScore(load()), 1, 'idle');
  close(loadQualityScore(load({ maxTxBandwidth: 0 })), 0, 'unknown link');
  close(loadQualityScore(load({ txBandwidth: 5 * G })), 0.5 * 0.5 + 0.3 + 0.2, 'half busy');
});

test('IDC and location affinity', () => {
  const idc: readonly [string, string, number][] = [['a', 'a', 1], ['A', 'a', 1], ['a', 'b', 0], ['', '', 0], ['a', '', 0]];
  for (const [p, c, expected] of idc) assert.equal(idcAffinityScore(p, c), expected, `idc ${p}/${c}`);
  const location: readonly [string, string, number][] = [
    ['cn|bj|hd', 'cn|bj|hd', 1],
    ['CN|bj', 'cn|BJ', 1],
    ['China|Beijing|Haidian|Zone-A|Cluster-1', 'China|Beijing|Chaoyang|Zone-B|Cluster-2', 0.4],
    ['a|b|c|d|e|f', 'a|b|c|d|e|g', 1], // only 5 elements count
    ['a|b', 'x|b', 0],
    ['a', '', 0],
  ];
  for (const [p, c, expected] of location) close(locationAffinityScore(p, c), expected, `location ${p}/${c}`);
});

test('host type: seeds 1 while ReceivedNormal/Running, else 0; normal peers 0.5', () => {
  const cases: readonly [string, PeerState, number][] = [
    ['seed', PeerState.Running, 1],
    ['seed', PeerState.ReceivedNormal, 1],
    ['seed', PeerState.BackToSource, 0],
    ['seed', PeerState.Succeeded, 0],
    ['normal', PeerState.Succeeded, 0.5],
    ['normal', PeerState.Running, 0.5],
  ];
  for (const [type, state, expected] of cases) assert.equal(hostTypeScore(type as 'seed', state), expected, `${type} ${state}`);
});

test('total = 0.6 load + 0.2 idc + 0.1 location + 0.1 host type', () => {
  const parent = { load: load(), idc: 'x', location: 'a|b', hostType: 'normal' as const, state: PeerState.Succeeded };
  close(parentScore(parent, { idc: 'x', location: 'a|b' }), 0.6 + 0.2 + 0.1 + 0.05, 'all match');
  close(parentScore(parent, { idc: 'y', location: 'a|c' }), 0.6 + 0 + 0.02 + 0.05, 'partial');
  close(parentScore({ ...parent, load: load({ maxTxBandwidth: 0 }) }, { idc: '', location: '' }), 0.05, 'nothing known');
});

test('evaluateParents orders by score: idle and near beat busy and far', () => {
  const w = new World();
  const child = w.peer('child', PeerState.ReceivedNormal, { hostExtra: { idc: 'dc1', location: 'cn|bj' } });
  const busy = w.peer('busy', PeerState.Succeeded, { hostExtra: { txBandwidth: 9 * G, idc: 'dc1' } });
  const far = w.peer('far', PeerState.Succeeded, { hostExtra: { idc: 'dc9', location: 'us' } });
  const best = w.peer('best', PeerState.Succeeded, { hostExtra: { idc: 'dc1', location: 'cn|bj' } });
  assert.deepEqual(evaluateParents([busy, far, best], child).map((p) => p.id), ['best', 'far', 'busy']);
});

/** The bad-cost rule computed from a plain array: the reference the O(1) window must agree with. */
function referenceIsBad(costs: number[], capacity: number): boolean {
  const window = costs.slice(-capacity);
  if (window.length < 2) return false;
  const last = window[window.length - 1]!;
  const before = window.slice(0, -1);
  const mean = before.reduce((a, b) => a + b, 0) / before.length;
  if (window.length < capacity) return last > mean * 20;
  const std = Math.sqrt(before.reduce((a, b) => a + (b - mean) ** 2, 0) / before.length);
  return last > mean + 3 * std;
}

function windowOf(costs: number[], capacity = 2000): CostWindow {
  const window = new CostWindow(capacity);
  for (const cost of costs) window.push(cost);
  return window;
}

test('bad parent by piece costs: 20x the mean while the window fills, mean + 3 sigma once full', () => {
  const steady = Array.from({ length: 1999 }, (_, i) => 100 + (i % 5));
  const cases: readonly [string, number[], boolean][] = [
    ['no cost', [], false],
    ['one cost, however slow', [1_000_000], false],
    ['second cost 20x', [10, 200], false],
    ['second cost over 20x', [10, 201], true],
    ['slow but under 20x', [10, 10, 10, 150], false],
    ['window full, last within 3 sigma', [...steady, 104], false],
    ['window full, last 10% over (past 3 sigma of a steady peer)', [...steady, 120], true],
    ['window full after eviction, steady', [...Array.from({ length: 500 }, () => 1), ...steady, 103], false],
  ];
  for (const [name, costs, bad] of cases) {
    assert.equal(referenceIsBad(costs, 2000), bad, `reference: ${name}`);
    assert.equal(isBadCost(windowOf(costs).stats()), bad, name);
  }
});

test('bad parent by state: not yet serving or gone', () => {
  const bad: PeerState[] = [PeerState.Pending, PeerState.ReceivedEmpty, PeerState.ReceivedTiny, PeerState.ReceivedSmall, PeerState.ReceivedNormal, PeerState.Failed, PeerState.Leave];
  for (const state of Object.values(PeerState)) assert.equal(isBadParent(state, undefined), bad.includes(state), state);
});

test('the cost window agrees with the reference on random costs', () => {
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let run = 0; run < 30; run++) {
    const costs = Array.from({ length: 1 + Math.floor(random() * 60) }, () => Math.floor(random() * (random() < 0.1 ? 5000 : 100)));
    for (const capacity of [5, 50, 2000]) assert.equal(isBadCost(windowOf(costs, capacity).stats()), referenceIsBad(costs, capacity), `${capacity}: ${costs}`);
  }
  const window = windowOf([1, 2, 3, 4, 5, 6], 4);
  assert.deepEqual(window.values(), [3, 4, 5, 6]);
  // Growing past its first allocation keeps every cost in order.
  const costs = Array.from({ length: 100 }, (_, i) => i);
  assert.deepEqual(windowOf(costs, 2000).values(), costs);
  assert.deepEqual(windowOf(costs, 40).values(), costs.slice(60));
});

/**
 * The swarm harness's arithmetic and options, without namespaces: floors, the payload overhead,
 * the kill trigger's fraction, the choice of victims, fast and slow groups, and the new flags.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { parseSwarmArgs, UsageError } from '../../bench/swarm/args.ts';
import { chooseVictims, receivedFraction } from '../../bench/swarm/disrupt.ts';
import { floorsOf, payloadOverheadFactor } from '../../bench/swarm/floors.ts';
import { peerRateBps } from '../../bench/swarm/session.ts';

const MiB = 2 ** 20;

test('floors: the slower of the peer link and the origin link sets the floor', () => {
  const cases = [
    { size: 256 * MiB, peer: 100e6, origin: 100e6, link: 21.47483648, boundBy: 'peer' },
    { size: 256 * MiB, peer: 200e6, origin: 50e6, link: 42.94967296, boundBy: 'origin' },
    { size: 256 * MiB, peer: 50e6, origin: 100e6, link: 42.94967296, boundBy: 'peer' },
    { size: 16 * MiB, peer: 100e6, origin: 1e9, link: 1.34217728, boundBy: 'peer' },
  ] as const;
  for (const c of cases) {
    const floors = floorsOf(c.size, c.peer, c.origin);
    assert.ok(Math.abs(floors.linkSeconds - c.link) < 1e-9, `${JSON.stringify(c)}: ${floors.linkSeconds}`);
    assert.equal(floors.boundBy, c.boundBy);
    assert.ok(Math.abs(floors.payloadSeconds / floors.linkSeconds - payloadOverheadFactor()) < 1e-12);
  }
});

test('payload overhead: 1514-byte frames carry 1448 payload bytes (about 1.046); other MTUs follow', () => {
  assert.ok(Math.abs(payloadOverheadFactor() - 1514 / 1448) < 1e-12);
  assert.equal(payloadOverheadFactor().toFixed(3), '1.046');
  assert.ok(Math.abs(payloadOverheadFactor(9000) - 9014 / 8948) < 1e-12);
  assert.ok(Math.abs(payloadOverheadFactor(1500, { ethernetBytes: 14, ipv4Bytes: 20, tcpBytes: 20, tcpTimestampBytes: 0 }) - 1514 / 1460) < 1e-12);
});

test('kill trigger: the peers\' received bytes over what they need, every peer the file in full frames', () => {
  const zero = { txBytes: 0, rxBytes: 0 };
  const need = 10 * MiB * payloadOverheadFactor();
  const before = [zero, zero, { txBytes: 0, rxBytes: 100 }, zero];
  const now = [{ txBytes: 0, rxBytes: 5 * need }, zero, { txBytes: 0, rxBytes: 100 + need }, { txBytes: 0, rxBytes: 0 }];
  // Hosts 2 and 3 are the peers: one has everything, the other nothing; the origin's bytes do not count.
  assert.ok(Math.abs(receivedFraction(before, now, [2, 3], 10 * MiB) - 0.5) < 1e-12);
});

test('victims: distinct, in range, sorted, as many as asked (capped at the peers)', () => {
  for (let round = 0; round < 50; round++) {
    const victims = chooseVictims(16, 4);
    assert.equal(victims.length, 4);
    assert.equal(new Set(victims).size, 4);
    assert.ok(victims.every((v) => Number.isInteger(v) && v >= 0 && v < 16));
    assert.deepEqual(victims, [...victims].sort((a, b) => a - b));
  }
  assert.deepEqual(chooseVictims(3, 5), [0, 1, 2]);
  // A fixed "random" source picks deterministically: always the first remaining index.
  assert.deepEqual(chooseVictims(5, 2, () => 0), [0, 1]);
});

test('slow peers are the last K, at their own rate', () => {
  const options = { peers: 4, rateBps: 100e6, slowPeers: 1, slowRateBps: 50e6 };
  assert.deepEqual([0, 1, 2, 3].map((i) => peerRateBps(options, i)), [100e6, 100e6, 100e6, 50e6]);
  assert.deepEqual([0, 1].map((i) => peerRateBps({ peers: 2, rateBps: 100e6 }, i)), [100e6, 100e6]);
});

test('--slow-peers/--slow-rate and --kill-peers/--kill-at: parsed, and refused when they make no sense', () => {
  const args = parseSwarmArgs(['--peers', '16', '--slow-peers', '4', '--slow-rate', '50mbit', '--kill-peers', '4', '--kill-at', '0.4']);
  assert.equal(args.slowPeers, 4);
  assert.equal(args.slowRateBps, 50e6);
  assert.equal(args.killPeers, 4);
  assert.equal(args.killAt, 0.4);
  const plain = parseSwarmArgs([]);
  assert.equal(plain.slowPeers, 0);
  assert.equal(plain.slowRateBps, undefined);
  assert.equal(plain.killPeers, 0);
  const refused = [
    ['--slow-peers', '2'],
    ['--slow-rate', '10mbit'],
    ['--slow-peers', '2', '--slow-rate', '200mbit'],
    ['--peers', '4', '--slow-peers', '5', '--slow-rate', '10mbit'],
    ['--peers', '4', '--kill-peers', '4'],
    ['--kill-peers', '1', '--kill-at', '1'],
    ['--kill-peers', '1', '--kill-at', '0'],
    ['--kill-peers', '1', '--kill-at', 'half'],
    ['--kill-at', '0.5'],
  ];
  for (const argv of refused) assert.throws(() => parseSwarmArgs(argv), (error: unknown) => error instanceof UsageError && error.code === 'DF_ERR_BENCH_USAGE', argv.join(' '));
});

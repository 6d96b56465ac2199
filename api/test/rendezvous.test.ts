import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ownerOf, rendezvousWeight } from '../index.ts';

const KEYS = Array.from({ length: 10_000 }, (_, i) => createHash('sha256').update(`task-${i}`).digest('hex'));

function owners(nodes: readonly string[]): string[] {
  return KEYS.map((key) => ownerOf(key, nodes)!);
}

describe('rendezvousWeight', () => {
  test('is the first 8 bytes of sha256(node NUL key), big-endian', () => {
    const cases: Array<[string, string]> = [
      ['10.0.0.1:8002', 'abc'],
      ['', ''],
      ['a', 'bc'],
      ['ab', 'c'],
    ];
    for (const [node, key] of cases) {
      const hex = createHash('sha256').update(`${node}\0${key}`).digest('hex').slice(0, 16);
      assert.equal(rendezvousWeight(node, key), BigInt(`0x${hex}`), `${node} / ${key}`);
    }
    assert.notEqual(rendezvousWeight('a', 'bc'), rendezvousWeight('ab', 'c'));
  });
});

describe('ownerOf', () => {
  test('table: empty list, one node, duplicates, order', () => {
    const cases: Array<[string, readonly string[], string | undefined]> = [
      ['k', [], undefined],
      ['k', ['only'], 'only'],
      ['k', ['only', 'only'], 'only'],
    ];
    for (const [key, nodes, want] of cases) assert.equal(ownerOf(key, nodes), want, JSON.stringify(nodes));
    const nodes = ['s1:8002', 's2:8002', 's3:8002', 's4:8002'];
    for (const key of KEYS.slice(0, 200)) {
      const want = ownerOf(key, nodes);
      assert.equal(ownerOf(key, [...nodes].reverse()), want);
      assert.equal(ownerOf(key, [nodes[2]!, nodes[0]!, nodes[3]!, nodes[1]!]), want);
    }
  });

  test('the owner has the highest weight of all nodes', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e'];
    for (const key of KEYS.slice(0, 500)) {
      const owner = ownerOf(key, nodes)!;
      for (const node of nodes) assert.ok(rendezvousWeight(owner, key) >= rendezvousWeight(node, key));
    }
  });

  test('equal weights go to the smaller node string, whatever the order', () => {
    const flat = (): bigint => 7n;
    const byNode = (node: string): bigint => (node === 'z' ? 9n : 7n);
    const cases: Array<[readonly string[], (node: string, key: string) => bigint, string]> = [
      [['b', 'a', 'c'], flat, 'a'],
      [['c', 'b', 'a'], flat, 'a'],
      [['z', 'a'], byNode, 'z'],
      [['m', 'z', 'b'], byNode, 'z'],
    ];
    for (const [nodes, weight, want] of cases) assert.equal(ownerOf('k', nodes, weight), want, nodes.join());
  });

  test('is deterministic', () => {
    const nodes = ['s1', 's2', 's3'];
    assert.deepEqual(owners(nodes), owners([...nodes]));
  });

  test('spreads 10,000 keys evenly: each of 4 nodes gets 20-30%', () => {
    const nodes = ['10.0.0.1:8002', '10.0.0.2:8002', '10.0.0.3:8002', '10.0.0.4:8002'];
    const counts = new Map<string, number>();
    for (const owner of owners(nodes)) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    assert.deepEqual([...counts.keys()].sort(), nodes);
    for (const [node, count] of counts) assert.ok(count >= 2000 && count <= 3000, `${node}: ${count}`);
  });

  test('adding a node moves only the keys it wins, about 1/(n+1) of them', () => {
    for (const n of [1, 3, 4, 7]) {
      const nodes = Array.from({ length: n }, (_, i) => `node-${i}`);
      const before = owners(nodes);
      const after = owners([...nodes, 'new-node']);
      let moved = 0;
      for (let i = 0; i < KEYS.length; i++) {
        if (before[i] === after[i]) continue;
        moved++;
        assert.equal(after[i], 'new-node', `key ${i} moved from ${before[i]} to ${after[i]}`);
      }
      const expected = KEYS.length / (n + 1);
      assert.ok(Math.abs(moved - expected) < expected * 0.1, `n=${n}: ${moved} moved, expected about ${expected}`);
    }
  });

  test('removing a node moves only the keys it owned', () => {
    const nodes = ['s1', 's2', 's3', 's4', 's5'];
    const before = owners(nodes);
    const after = owners(nodes.filter((node) => node !== 's3'));
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === 's3') assert.notEqual(after[i], 's3');
      else assert.equal(after[i], before[i], `key ${i} moved though its owner ${before[i]} stayed`);
    }
  });
});

import assert from 'node:assert/strict';
import { test } from 'vitest';
import { Dag, DagError } from '../resource/dag.ts';

function dagOf(vertices: string[], edges: [string, string][]): Dag<string> {
  const dag = new Dag<string>();
  for (const v of vertices) dag.addVertex(v, v);
  for (const [from, to] of edges) dag.addEdge(from, to);
  return dag;
}

test('canAddEdge: self-loops, duplicates, missing vertices and cycles are refused', () => {
  const dag = dagOf(['a', 'b', 'c', 'd'], [['a', 'b'], ['b', 'c']]);
  const cases: readonly [string, string, boolean][] = [
    ['a', 'a', false], // self-loop
    ['a', 'b', false], // exists
    ['c', 'a', false], // a -> b -> c -> a
    ['b', 'a', false], // a -> b -> a
    ['c', 'b', false],
    ['a', 'c', true], // a shortcut is no cycle
    ['c', 'd', true],
    ['d', 'a', true],
    ['a', 'x', false], // missing
    ['x', 'a', false],
  ];
  for (const [from, to, ok] of cases) assert.equal(dag.canAddEdge(from, to), ok, `${from} -> ${to}`);
  assert.throws(() => dag.addEdge('c', 'a'), DagError);
});

test('a long chain refuses its closing edge', () => {
  const ids = Array.from({ length: 500 }, (_, i) => `p${i}`);
  const dag = dagOf(ids, ids.slice(1).map((id, i) => [ids[i]!, id]));
  assert.equal(dag.canAddEdge('p499', 'p0'), false);
  assert.equal(dag.canAddEdge('p0', 'p499'), true);
});

test('degrees, edge deletion and vertex deletion', () => {
  const dag = dagOf(['a', 'b', 'c'], [['a', 'c'], ['b', 'c']]);
  assert.equal(dag.inDegree('c'), 2);
  assert.equal(dag.outDegree('a'), 1);
  dag.deleteInEdges('c');
  assert.equal(dag.inDegree('c'), 0);
  assert.equal(dag.outDegree('a'), 0);
  dag.addEdge('c', 'a');
  dag.addEdge('c', 'b');
  dag.deleteOutEdges('c');
  assert.equal(dag.inDegree('a'), 0);
  dag.addEdge('a', 'b');
  dag.deleteVertex('a');
  assert.equal(dag.has('a'), false);
  assert.equal(dag.inDegree('b'), 0);
  assert.equal(dag.size, 2);
  assert.deepEqual(dag.values().sort(), ['b', 'c']);
  assert.equal(dag.inDegree('a'), undefined);
  assert.throws(() => dag.addVertex('b', 'b'), DagError);
});

test('randomValues: distinct, bounded, and covering every vertex over many draws', () => {
  const dag = dagOf(Array.from({ length: 100 }, (_, i) => `v${i}`), []);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const sample = dag.randomValues(15);
    assert.equal(sample.length, 15);
    assert.equal(new Set(sample).size, 15);
    for (const v of sample) seen.add(v);
  }
  assert.equal(seen.size, 100);
  assert.equal(dag.randomValues(500).length, 100);
  assert.equal(new Set(dag.randomValues(80)).size, 80);
  assert.deepEqual(new Dag<string>().randomValues(3), []);
  // Removal keeps sampling dense.
  for (let i = 0; i < 90; i++) dag.deleteVertex(`v${i}`);
  assert.deepEqual(dag.randomValues(15).sort(), Array.from({ length: 10 }, (_, i) => `v${90 + i}`).sort());
});

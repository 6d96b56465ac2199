import assert from 'node:assert/strict';
import { test } from 'vitest';
import { taskIdOf } from '../../api/index.ts';
import { HashRing } from '../resource/seed-ring.ts';

const TASKS = Array.from({ length: 10_000 }, (_, i) => taskIdOf({ url: `https://example.com/layer/${i}` }));

function owners(ring: HashRing): Map<string, string> {
  return new Map(TASKS.map((task) => [task, ring.pick(task)!]));
}

test('an empty ring picks nobody; one member gets everything', () => {
  const ring = new HashRing();
  assert.equal(ring.pick(TASKS[0]!), undefined);
  ring.add('seed-a');
  assert.ok(TASKS.every((task) => ring.pick(task) === 'seed-a'));
});

test('distribution: each of 4 seeds owns 25% +- 7 points of 10,000 tasks', () => {
  const ring = new HashRing();
  for (const id of ['seed-a', 'seed-b', 'seed-c', 'seed-d']) ring.add(id);
  const counts = new Map<string, number>();
  for (const owner of owners(ring).values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  assert.equal(counts.size, 4);
  for (const [id, count] of counts) assert.ok(Math.abs(count / TASKS.length - 0.25) < 0.07, `${id}: ${count}`);
});

test('stability: adding a 5th seed moves only tasks to it (about 1/5); removing it moves them back', () => {
  const ring = new HashRing();
  for (const id of ['seed-a', 'seed-b', 'seed-c', 'seed-d']) ring.add(id);
  const before = owners(ring);
  ring.add('seed-e');
  const after = owners(ring);
  let moved = 0;
  for (const [task, owner] of after) {
    if (owner !== before.get(task)) {
      moved++;
      assert.equal(owner, 'seed-e', 'a task moved between old seeds');
    }
  }
  assert.ok(moved / TASKS.length > 0.12 && moved / TASKS.length < 0.28, `moved ${moved}`);
  ring.remove('seed-e');
  assert.deepEqual(owners(ring), before);
});

test('the same members in any order build the same ring', () => {
  const a = new HashRing();
  const b = new HashRing();
  for (const id of ['x', 'y', 'z']) a.add(id);
  for (const id of ['z', 'x', 'y', 'x']) b.add(id);
  assert.equal(b.size, 3);
  assert.deepEqual(owners(a), owners(b));
  assert.throws(() => new HashRing(0), RangeError);
});

/** The striped plan a scheduler sends (daemon/p2p/stripe-plan.ts). Pure, table-driven. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { PlanSlot, StripePlan } from '../p2p/stripe-plan.ts';

const answer = (stripeCount: number, stripeParents: Array<[number, string, string[]]>) => ({
  stripeCount,
  stripeParents: stripeParents.map(([stripe, parentId, backupIds]) => ({ stripe, parentId, backupIds })),
});

test('an answer without a usable plan gives none: any parent for any piece, as from a Dragonfly scheduler', () => {
  const cases: Array<[string, Parameters<typeof StripePlan.of>[0]]> = [
    ['no answer', undefined],
    ['stripe_count 0 (a Dragonfly scheduler)', answer(0, [])],
    ['stripe_count 0 with stripes named', answer(0, [[0, 'a', []]])],
    ['stripe_count 1', answer(1, [[0, 'a', ['b']]])],
    ['stripe_count 4, no stripe_parents', answer(4, [])],
  ];
  for (const [name, response] of cases) assert.equal(StripePlan.of(response), undefined, name);
});

test('stripeOf is the piece number mod the stripe count', () => {
  const plan = StripePlan.of(answer(3, [[0, 'a', []]]))!;
  const cases: Array<[number, number]> = [
    [0, 0],
    [1, 1],
    [2, 2],
    [3, 0],
    [7, 1],
    [299, 2],
  ];
  for (const [piece, stripe] of cases) assert.equal(plan.stripeOf(piece), stripe, `piece ${piece}`);
});

test('parents in order, primary first; entries for stripes out of range, repeated stripes, repeated or empty ids are ignored', () => {
  const plan = StripePlan.of(
    answer(2, [
      [0, 'a', ['s', 'b']],
      [1, 'b', ['s', 's', '']],
      [1, 'x', []],
      [2, 'y', []],
    ]),
  )!;
  const cases: Array<[number, string[], string | undefined]> = [
    [0, ['a', 's', 'b'], 'a'],
    [1, ['b', 's'], 'b'],
    [2, [], undefined],
  ];
  for (const [stripe, parents, current] of cases) {
    assert.deepEqual(plan.parents(stripe), parents, `stripe ${stripe}`);
    assert.equal(plan.current(stripe), current, `stripe ${stripe}`);
  }
  assert.deepEqual(plan.stripes(), [0, 1]);
});

test('switchFrom walks a stripe through its backups to exhaustion; leaving a parent that is not current changes nothing', () => {
  const plan = StripePlan.of(answer(2, [[0, 'a', ['s', 'b']], [1, 'b', ['s']]]))!;
  const steps: Array<[stripe: number, from: string, next: string | undefined, current0: string | undefined, current1: string | undefined]> = [
    [0, 'x', 'a', 'a', 'b'],
    [0, 'a', 's', 's', 'b'],
    [0, 'a', 's', 's', 'b'],
    [1, 'b', 's', 's', 's'],
    [0, 's', 'b', 'b', 's'],
    [0, 'b', undefined, undefined, 's'],
    [0, 'b', undefined, undefined, 's'],
    [1, 's', undefined, undefined, undefined],
    [3, 'a', undefined, undefined, undefined],
  ];
  for (const [i, [stripe, from, next, current0, current1]] of steps.entries()) {
    assert.equal(plan.switchFrom(stripe, from), next, `step ${i}: switchFrom(${stripe}, ${from})`);
    assert.equal(plan.current(0), current0, `step ${i}: stripe 0`);
    assert.equal(plan.current(1), current1, `step ${i}: stripe 1`);
  }
  assert.deepEqual(plan.stripes(), []);
});

test('stripesOf and later follow the current parents', () => {
  const plan = StripePlan.of(answer(3, [[0, 's', ['a']], [1, 's', ['b', 'a']], [2, 'c', ['s']]]))!;
  const cases: Array<[string, () => unknown, unknown]> = [
    ['stripesOf(s)', () => plan.stripesOf('s'), [0, 1]],
    ['stripesOf(a)', () => plan.stripesOf('a'), []],
    ['later(1)', () => plan.later(1), ['b', 'a']],
    ['after switchFrom(1, s): stripesOf(s)', () => (plan.switchFrom(1, 's'), plan.stripesOf('s')), [0]],
    ['later(1)', () => plan.later(1), ['a']],
    ['stripesOf(b)', () => plan.stripesOf('b'), [1]],
    ['after switchFrom(2, c): stripesOf(s)', () => (plan.switchFrom(2, 'c'), plan.stripesOf('s')), [0, 2]],
    ['later(2)', () => plan.later(2), []],
  ];
  for (const [name, run, expected] of cases) assert.deepEqual(run(), expected, name);
});

test('a newer plan replaces the one in force whole, and its version tells readers', () => {
  const slot = new PlanSlot();
  const currentOf = (stripe: number) => slot.plan?.current(stripe);
  assert.equal(slot.version, 0);
  assert.equal(currentOf(0), undefined);
  const first = StripePlan.of(answer(2, [[0, 'a', ['s']], [1, 'b', ['s']]]))!;
  first.switchFrom(0, 'a');
  const steps: Array<[StripePlan | undefined, number, string | undefined]> = [
    [first, 1, 's'],
    [StripePlan.of(answer(2, [[0, 'a', ['c']]])), 2, 'a'],
    [undefined, 3, undefined],
  ];
  for (const [plan, version, current0] of steps) {
    slot.replace(plan);
    assert.equal(slot.plan, plan);
    assert.equal(slot.version, version);
    assert.equal(currentOf(0), current0);
  }
});

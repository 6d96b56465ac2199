import assert from 'node:assert/strict';
import { test } from 'vitest';
import { MAX_BACKUPS, StripeForest, type MemberPlan } from '../scheduling/forest.ts';

const ROOT = 'seed';
const name = (i: number) => `m${String(i).padStart(2, '0')}`;

/** A forest with `slots[i]` for member i, joined in order; also what each join reported. */
function grow(stripes: number, rootSlots: number, slots: readonly number[]) {
  const forest = new StripeForest(stripes, { id: ROOT, slots: rootSlots });
  const reports = slots.map((s, i) => forest.join({ id: name(i), slots: s }));
  return { forest, reports };
}

const plans = (forest: StripeForest, ids: readonly string[]) => new Map<string, MemberPlan | undefined>(ids.map((id) => [id, forest.planOf(id)]));

/** Members whose parent differs between two snapshots in some stripe (members gone from `after` are skipped). */
function moved(before: Map<string, MemberPlan | undefined>, after: Map<string, MemberPlan | undefined>): string[] {
  const ids: string[] = [];
  for (const [id, plan] of after) {
    const old = before.get(id);
    if (plan && old && plan.parents.some((p, s) => p.parentId !== old.parents[s]!.parentId)) ids.push(id);
  }
  return ids.sort();
}

/** The root's share of stripe s as the module documents it. */
const rootShare = (stripes: number, slots: number, s: number) => Math.max(1, Math.floor(slots / stripes) + (s < slots % stripes ? 1 : 0));

/**
 * The forest's invariants: one parent per stripe that lists the member as a child, children only in
 * the forwarding stripe (so interior sets are disjoint), every parent walk reaching the root at
 * the reported depth, and no one over its slots in a stripe whose slots cover all members.
 */
function assertSound(forest: StripeForest, ids: readonly string[], slotsOf: (id: string) => number, rootSlots: number, what: string, withinSlots = true) {
  const k = forest.stripes;
  assert.equal(forest.size, ids.length, `${what}: size`);
  const interior = Array.from({ length: k }, () => new Set<string>());
  for (const id of ids) {
    const plan = forest.planOf(id)!;
    assert.deepEqual(plan.parents.map((p) => p.stripe), [...Array(k).keys()], `${what}: ${id} has one entry per stripe`);
    for (let s = 0; s < k; s++) {
      const parent = forest.parentOf(id, s)!;
      assert.equal(plan.parents[s]!.parentId, parent, `${what}: ${id} plan agrees with parentOf`);
      assert.ok(forest.childrenOf(parent, s).includes(id), `${what}: ${parent} lists ${id} in stripe ${s}`);
      const path = [id];
      for (let at = parent; at !== ROOT; at = forest.parentOf(at, s)!) {
        assert.ok(!path.includes(at) && path.length <= ids.length, `${what}: cycle through ${at} in stripe ${s}`);
        path.push(at);
      }
      assert.equal(forest.depthOf(id, s), path.length, `${what}: depth of ${id} in stripe ${s}`);
      if (forest.childrenOf(id, s).length > 0) {
        assert.equal(plan.forwardingStripe, s, `${what}: ${id} has children only in its forwarding stripe`);
        interior[s]!.add(id);
      }
    }
  }
  for (let s = 0; s < k; s++) for (let t = s + 1; t < k; t++) assert.ok([...interior[s]!].every((id) => !interior[t]!.has(id)), `${what}: stripes ${s} and ${t} share a forwarder`);
  for (let s = 0; s < k && withinSlots; s++) {
    const forwarders = ids.filter((id) => forest.planOf(id)!.forwardingStripe === s);
    const capacity = rootShare(k, rootSlots, s) + forwarders.reduce((sum, id) => sum + slotsOf(id), 0);
    if (capacity < ids.length) continue;
    assert.ok(forest.childrenOf(ROOT, s).length <= rootShare(k, rootSlots, s), `${what}: root over its share in stripe ${s}`);
    for (const id of ids) assert.ok(forest.childrenOf(id, s).length <= slotsOf(id), `${what}: ${id} over its ${slotsOf(id)} slots in stripe ${s}`);
  }
}

/** The least depth any forest can have: level 1 holds the root's smallest share, each further level `slots` times the one above. */
function depthBound(stripes: number, rootSlots: number, slots: number, members: number): number {
  let depth = 0;
  let placed = 0;
  for (let level = rootShare(stripes, rootSlots, stripes - 1); placed < members; level *= slots) {
    placed += level;
    depth++;
  }
  return depth;
}

test('equal members: a sound forest at every join, as shallow as their slots allow', () => {
  // [stripes, root slots, member slots, members, max depth]
  const cases: readonly [number, number, number, number, number][] = [
    [1, 1, 1, 4, 4], // nobody can feed two: a chain
    [1, 2, 2, 4, 2],
    [1, 2, 2, 8, 3],
    [1, 2, 2, 16, 4],
    [1, 2, 2, 33, 5],
    [2, 2, 2, 4, 3],
    [2, 2, 2, 8, 4],
    [2, 2, 2, 16, 5],
    [2, 2, 2, 33, 6],
    [4, 4, 4, 4, 2],
    [4, 4, 4, 8, 3],
    [4, 4, 4, 16, 3],
    [4, 4, 4, 33, 4],
  ];
  for (const [k, rootSlots, slots, n, depth] of cases) {
    const what = `k=${k} root=${rootSlots} ${n}x${slots}`;
    const forest = new StripeForest(k, { id: ROOT, slots: rootSlots });
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      forest.join({ id: name(i), slots });
      ids.push(name(i));
      assertSound(forest, ids, () => slots, rootSlots, `${what} after ${i + 1}`);
    }
    assert.equal(forest.maxDepth, depth, `${what}: max depth`);
    assert.equal(depth, depthBound(k, rootSlots, slots, n), `${what}: the least depth possible`);
    const forwarders = [...Array(k).keys()].map((s) => ids.filter((id) => forest.planOf(id)!.forwardingStripe === s).length);
    assert.ok(Math.max(...forwarders) - Math.min(...forwarders) <= 1, `${what}: forwarders spread evenly (${forwarders})`);
  }
});

test('two stripes, four members of two slots: the whole forest', () => {
  const { forest, reports } = grow(2, 2, [2, 2, 2, 2]);
  // m01 pushes m00 off the root's only stripe-1 slot; m03 pushes m02 (m01's last-joined leaf) below itself.
  assert.deepEqual(reports, [[], ['m00'], [], ['m02']]);
  const edges = (s: number) => {
    const found: string[] = [];
    const walk = (id: string): void => forest.childrenOf(id, s).forEach((child) => (found.push(`${id}>${child}`), walk(child)));
    walk(ROOT);
    return found;
  };
  assert.deepEqual(edges(0), ['seed>m00', 'm00>m01', 'm00>m02', 'm02>m03']);
  assert.deepEqual(edges(1), ['seed>m01', 'm01>m00', 'm01>m03', 'm03>m02']);
  const expected: Record<string, MemberPlan> = {
    m00: { forwardingStripe: 0, parents: [{ stripe: 0, parentId: ROOT, backupIds: [] }, { stripe: 1, parentId: 'm01', backupIds: ['m03', ROOT] }] },
    m01: { forwardingStripe: 1, parents: [{ stripe: 0, parentId: 'm00', backupIds: ['m02', ROOT] }, { stripe: 1, parentId: ROOT, backupIds: [] }] },
    m02: { forwardingStripe: 0, parents: [{ stripe: 0, parentId: 'm00', backupIds: [ROOT] }, { stripe: 1, parentId: 'm03', backupIds: ['m01', ROOT] }] },
    m03: { forwardingStripe: 1, parents: [{ stripe: 0, parentId: 'm02', backupIds: ['m00', ROOT] }, { stripe: 1, parentId: 'm01', backupIds: [ROOT] }] },
  };
  for (const [id, plan] of Object.entries(expected)) assert.deepEqual(forest.planOf(id), plan, id);
  assert.equal(forest.planOf(ROOT), undefined);
  assert.equal(forest.planOf('nobody'), undefined);
  assert.equal(forest.maxDepth, 3);
  assert.equal(forest.depthOf(ROOT, 1), 0);
});

test('joins report exactly the members they move, and nothing when a slot was free', () => {
  const { forest, reports } = grow(4, 4, Array(33).fill(4));
  const replay = new StripeForest(4, { id: ROOT, slots: 4 });
  const ids: string[] = [];
  for (let i = 0; i < 33; i++) {
    const before = plans(replay, ids);
    const reported = replay.join({ id: name(i), slots: 4 });
    assert.deepEqual(reported, moved(before, plans(replay, ids)), `join ${name(i)}`);
    ids.push(name(i));
  }
  // m01 to m03 each push down the leaf in the root's one slot of their stripe, and the members that
  // overcommitted the root there before move to the newcomer's free slots; m04 finds a free slot
  // under m00; m05 to m07 push down a leaf of their stripe's full forwarder and take its excess.
  assert.deepEqual(reports.slice(0, 8), [[], ['m00'], ['m00', 'm01'], ['m00', 'm01', 'm02'], [], ['m04'], ['m04', 'm05'], ['m04', 'm05', 'm06']]);
  assert.deepEqual(plans(replay, ids), plans(forest, ids));
});

test('unequal slots: wide members feed more, one-slot members feed one', () => {
  const slots = Array.from({ length: 24 }, (_, i) => (i % 4 < 2 ? 1 : 8));
  const { forest } = grow(2, 2, slots);
  const ids = slots.map((_, i) => name(i));
  const slotsOf = (id: string) => slots[ids.indexOf(id)]!;
  assertSound(forest, ids, slotsOf, 2, 'unequal');
  const fed = (id: string) => forest.childrenOf(id, forest.planOf(id)!.forwardingStripe!).length;
  const narrow = ids.filter((id) => slotsOf(id) === 1).map(fed);
  const wide = ids.filter((id) => slotsOf(id) === 8).map(fed);
  assert.ok(Math.max(...narrow) <= 1, `narrow ${narrow}`);
  assert.ok(wide.reduce((a, b) => a + b) > 2 * narrow.reduce((a, b) => a + b), `wide ${wide} vs narrow ${narrow}`);
  assert.ok(Math.max(...wide) > 1);
});

test('remove: the removed member\'s children re-attach, and only what the rules move is reported', () => {
  const sixteen = () => grow(4, 4, Array(16).fill(4)).forest;
  const demoted = () => {
    const forest = sixteen();
    forest.demote('m13');
    return forest;
  };
  // [what, forest, removed, expected report]; m04 and m15 move exactly their children, grandchildren stay.
  const cases: readonly [string, () => StripeForest, string, string[]][] = [
    ['a forwarder of stripe 0 feeding leaves', sixteen, 'm04', ['m05', 'm06', 'm07', 'm11']],
    ['the last forwarder of stripe 3, feeding leaves', sixteen, 'm15', ['m01', 'm13', 'm14']],
    // m12 takes the root's slot, m08 m12's free one, m04 pushes m14 (m12's last-joined leaf) below itself.
    ['the root child of stripe 0, feeding forwarders', sixteen, 'm00', ['m01', 'm04', 'm08', 'm12', 'm14']],
    ['a leaf of a plain tree', () => grow(1, 2, [2, 2, 2, 2]).forest, 'm03', []],
    ['a demoted member, which feeds no one', demoted, 'm13', []],
  ];
  for (const [what, build, id, expected] of cases) {
    const forest = build();
    const ids = Array.from({ length: forest.size }, (_, i) => name(i));
    const stripe = forest.planOf(id)!.forwardingStripe ?? 0;
    const children = forest.childrenOf(id, stripe);
    const grandchildren = children.flatMap((c) => forest.childrenOf(c, stripe).map((g) => [g, c] as const));
    const before = plans(forest, ids);
    const reported = forest.remove(id);
    const rest = ids.filter((other) => other !== id);
    assert.equal(forest.has(id), false, what);
    assert.deepEqual(reported, moved(before, plans(forest, rest)), `${what}: reported is what moved`);
    assert.deepEqual(reported, expected, what);
    assert.ok(children.every((c) => reported.includes(c)), `${what}: every child re-attached`);
    for (const [g, c] of grandchildren) if (!reported.includes(g)) assert.equal(forest.parentOf(g, stripe), c, `${what}: ${g} stays under ${c}`);
    assertSound(forest, rest, () => (forest.stripes === 1 ? 2 : 4), forest.stripes === 1 ? 2 : 4, what);
    assert.deepEqual(forest.remove(id), [], `${what}: removing again`);
  }
});

test('demote: the slow member keeps its parents, feeds no one and is never chosen again', () => {
  const { forest } = grow(4, 4, Array(16).fill(4));
  const ids = Array.from({ length: 16 }, (_, i) => name(i));
  const before = plans(forest, ids);
  const former = forest.childrenOf('m00', 0);
  const reported = forest.demote('m00');
  assert.deepEqual(reported, moved(before, plans(forest, ids)));
  assert.ok(former.every((c) => reported.includes(c)) && former.length > 0, `former children ${former} reported`);
  assert.deepEqual(forest.planOf('m00')!.parents.map((p) => p.parentId), before.get('m00')!.parents.map((p) => p.parentId));
  assert.equal(forest.planOf('m00')!.forwardingStripe, undefined);
  assert.deepEqual(forest.demote('m00'), [], 'demoting again');
  for (let i = 16; i < 40; i++) {
    forest.join({ id: name(i), slots: 4 });
    ids.push(name(i));
  }
  assertSound(forest, ids, () => 4, 4, 'after demote and joins');
  for (let s = 0; s < 4; s++) assert.deepEqual(forest.childrenOf('m00', s), [], `feeds no one in stripe ${s}`);
  for (const id of ids) for (const p of forest.planOf(id)!.parents) assert.ok(!p.backupIds.includes('m00'), `${id} backs up on m00`);
  assert.equal(forest.planOf('m00')!.forwardingStripe, undefined);
  assert.equal(forest.reparent('m01', 0, 'm00'), false);
});

test('reparent: to the root or another forwarder of the stripe, never into a cycle, a leaf or a demoted member', () => {
  const { forest } = grow(4, 4, Array(16).fill(4));
  forest.demote('m12');
  const childOf = (id: string, s: number) => forest.childrenOf(id, s)[0]!;
  const forwarderBelowM00 = forest.childrenOf('m00', 0).find((c) => forest.planOf(c)!.forwardingStripe === 0)!;
  // [child, stripe, new parent, applied, why]
  const cases: readonly [string, number, string, boolean, string][] = [
    ['m05', 0, ROOT, true, 'the root, past its share'],
    ['m05', 0, 'm08', true, 'another forwarder of the stripe'],
    ['m05', 0, 'm08', true, 'the parent it already has'],
    ['m00', 0, forwarderBelowM00, false, 'its own subtree'],
    ['m00', 0, childOf(forwarderBelowM00, 0), false, 'deeper in its own subtree'],
    ['m04', 0, 'm04', false, 'itself'],
    ['m05', 0, 'm12', false, 'a demoted member'],
    ['m05', 0, 'm01', false, 'a leaf of the stripe'],
    ['m05', 0, 'nobody', false, 'an unknown parent'],
    ['nobody', 0, ROOT, false, 'an unknown child'],
    [ROOT, 0, 'm04', false, 'the root as child'],
    ['m05', 4, ROOT, false, 'a stripe past the last'],
    ['m05', 0.5, ROOT, false, 'a fractional stripe'],
  ];
  for (const [child, stripe, parent, applied, why] of cases) {
    const before = forest.parentOf(child, stripe);
    assert.equal(forest.reparent(child, stripe, parent), applied, why);
    assert.equal(forest.parentOf(child, stripe), applied ? parent : before, `${why}: parent afterwards`);
  }
  assert.ok(forest.childrenOf('m08', 0).includes('m05') && !forest.childrenOf(ROOT, 0).includes('m05'));
});

test('backups: forwarders outside the member\'s subtree, then the root last, never the primary', () => {
  const { forest } = grow(4, 4, Array(33).fill(4));
  forest.demote('m09');
  for (let i = 0; i < 33; i++) {
    const id = name(i);
    for (const { stripe, parentId, backupIds } of forest.planOf(id)!.parents) {
      const what = `${id} stripe ${stripe}`;
      assert.ok(backupIds.length <= MAX_BACKUPS, what);
      assert.equal(new Set(backupIds).size, backupIds.length, `${what}: no repeats`);
      if (parentId !== ROOT) assert.equal(backupIds.at(-1), ROOT, `${what}: root last`);
      for (const backup of backupIds) {
        assert.ok(backup !== parentId && backup !== id && backup !== 'm09', `${what}: ${backup}`);
        for (let at = backup; at !== ROOT; at = forest.parentOf(at, stripe)!) assert.notEqual(at, id, `${what}: ${backup} is below it`);
        if (backup !== ROOT) assert.equal(forest.planOf(backup)!.forwardingStripe, stripe, `${what}: ${backup} forwards in the stripe`);
      }
      if (parentId !== ROOT) assert.equal(backupIds.length, MAX_BACKUPS, `${what}: a forwarder beside the root`);
    }
  }
});

test('overcommitment is undone at the next change that finds a free slot', () => {
  const { forest } = grow(4, 4, Array(16).fill(4));
  const spare = forest.childrenOf('m12', 0).length; // m12 has the one free slot of stripe 0
  assert.equal(spare, 3);
  assert.equal(forest.reparent('m05', 0, ROOT), true);
  assert.deepEqual(forest.childrenOf(ROOT, 0), ['m00', 'm05'], 'the root is past its share');
  // m16 passes over the overcommitted root, pushes down m00's last leaf and takes m05 into a free slot.
  assert.deepEqual(forest.join({ id: 'm16', slots: 4 }), ['m01', 'm05']);
  assert.deepEqual(forest.childrenOf(ROOT, 0), ['m00']);
  assert.equal(forest.parentOf('m05', 0), 'm16');
  assert.equal(forest.parentOf('m16', 0), 'm00');
});

/** Joins, removes, demotes and reparents picked by a fixed pseudo-random sequence, checked after each step. */
function churn(stripes: number, rootSlots: number, seed: number) {
  let state = seed;
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const forest = new StripeForest(stripes, { id: ROOT, slots: rootSlots });
  const slots = new Map<string, number>();
  const log: string[][] = [];
  for (let step = 0; step < 150; step++) {
    const ids = [...slots.keys()];
    const pick = () => ids[Math.floor(random() * ids.length)]!;
    const before = plans(forest, ids);
    const roll = random();
    let reported: string[];
    let kind: string;
    if (roll < 0.55 || ids.length < 3) {
      kind = 'join';
      const id = name(step);
      slots.set(id, 1 + Math.floor(random() * 8));
      reported = forest.join({ id, slots: slots.get(id)! });
    } else if (roll < 0.8) {
      kind = 'remove';
      const id = pick();
      slots.delete(id);
      reported = forest.remove(id);
    } else if (roll < 0.9) {
      kind = 'demote';
      reported = forest.demote(pick());
    } else {
      kind = 'reparent';
      const [child, stripe, parent] = [pick(), Math.floor(random() * stripes), random() < 0.3 ? ROOT : pick()];
      const from = forest.parentOf(child, stripe);
      reported = forest.reparent(child, stripe, parent) && from !== parent ? [child] : [];
    }
    const now = [...slots.keys()];
    const what = `k=${stripes} seed ${seed} step ${step} (${kind})`;
    assert.deepEqual(reported, moved(before, plans(forest, now)), `${what}: reported is what moved`);
    // A reparent may overcommit, and a demoted member stays put through its own demotion.
    assertSound(forest, now, (id) => slots.get(id)!, rootSlots, what, kind === 'join' || kind === 'remove');
    log.push(reported);
  }
  return { log, plans: [...plans(forest, [...slots.keys()])] };
}

test('churn: every step reports exactly what moved and leaves a sound forest; the same steps give the same forest', () => {
  const cases: readonly [number, number, number][] = [[1, 2, 1], [2, 3, 2], [3, 5, 3], [4, 4, 4], [5, 1, 5]];
  for (const [stripes, rootSlots, seed] of cases) assert.deepEqual(churn(stripes, rootSlots, seed), churn(stripes, rootSlots, seed));
});

test('bad arguments throw, naming what was wrong', () => {
  const forest = () => {
    const f = new StripeForest(2, { id: ROOT, slots: 2 });
    f.join({ id: 'a', slots: 2 });
    return f;
  };
  const cases: readonly [string, () => unknown, RegExp][] = [
    ['no stripes', () => new StripeForest(0, { id: ROOT, slots: 1 }), /stripes must be an integer >= 1, got 0/],
    ['fractional stripes', () => new StripeForest(1.5, { id: ROOT, slots: 1 }), /stripes must be an integer >= 1, got 1.5/],
    ['root without slots', () => new StripeForest(2, { id: ROOT, slots: 0 }), /root.slots must be an integer >= 1, got 0/],
    ['joining twice', () => forest().join({ id: 'a', slots: 2 }), /member.id a is already in the forest/],
    ['joining as the root', () => forest().join({ id: ROOT, slots: 2 }), /member.id seed is already in the forest/],
    ['member without slots', () => forest().join({ id: 'b', slots: 0 }), /member.slots must be an integer >= 1, got 0/],
    ['removing the root', () => forest().remove(ROOT), /seed is the root, which cannot be removed/],
    ['demoting the root', () => forest().demote(ROOT), /seed is the root, which cannot be demoted/],
    ['depth of a stranger', () => forest().depthOf('nobody', 0), /id nobody is not in the forest/],
    ['depth in no stripe', () => forest().depthOf('a', 2), /stripe must be an integer in \[0, 2\), got 2/],
  ];
  for (const [what, call, message] of cases) assert.throws(call, (e: unknown) => e instanceof RangeError && message.test(e.message), what);
  const f = forest();
  assert.deepEqual(f.remove('nobody'), []);
  assert.deepEqual(f.demote('nobody'), []);
  assert.equal(f.parentOf('nobody', 0), undefined);
  assert.deepEqual(f.childrenOf('nobody', 0), []);
});

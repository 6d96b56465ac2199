/**
 * The stall window of a parent in a round without a plan (daemon/p2p/parent-stall.ts), as a table
 * on the test's clock, checked every STALL_CHECK_MS as the round's timer does: a parent is given
 * up once it showed no sign of life for max(STALL_MS, ASKED_QUEUE_FACTOR x its pieces in flight x
 * max(a piece's time at the 4 MiB/s floor, its recent piece time)); nothing asked, never.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { ASKED_QUEUE_FACTOR, ParentPace } from '../p2p/parent-pace.ts';
import { ParentStallWatch } from '../p2p/parent-stall.ts';
import { STALL_CHECK_MS, STALL_MS } from '../p2p/stripe-follower.ts';

const MiB = 1024 * 1024;
/** A 4 MiB piece at the 4 MiB/s floor rate. */
const FLOOR_PIECE_MS = 1_000;

interface Row {
  readonly name: string;
  readonly pieceLength: number;
  /** Pieces asked of the parent. */
  readonly asked: number;
  /** Its recent piece took this long (none measured when undefined). */
  readonly tookMs?: number;
  /** Signs of life at these times after it was asked. */
  readonly signsMs?: readonly number[];
  /** When it is given up, measured from its last sign of life; undefined: never within 60 s. */
  readonly windowMs: number | undefined;
}

const rows: readonly Row[] = [
  { name: 'one 4 MiB piece, parent not measured', pieceLength: 4 * MiB, asked: 1, windowMs: ASKED_QUEUE_FACTOR * FLOOR_PIECE_MS },
  { name: 'three 4 MiB pieces queue behind one another', pieceLength: 4 * MiB, asked: 3, windowMs: ASKED_QUEUE_FACTOR * 3 * FLOOR_PIECE_MS },
  { name: 'its recent piece took 2.5 s', pieceLength: 4 * MiB, asked: 1, tookMs: 2_500, windowMs: ASKED_QUEUE_FACTOR * 2_500 },
  { name: 'small pieces: the minimum', pieceLength: 64 * 1024, asked: 2, windowMs: STALL_MS },
  { name: 'slow but moving: a sign every 1.5 s, then silence', pieceLength: 4 * MiB, asked: 1, signsMs: [1_500, 3_000, 4_500, 6_000], windowMs: ASKED_QUEUE_FACTOR * FLOOR_PIECE_MS },
  { name: 'nothing asked', pieceLength: 4 * MiB, asked: 0, windowMs: undefined },
];

for (const row of rows) {
  test(`stall window: ${row.name}`, () => {
    let clock = 0;
    const pace = new ParentPace();
    if (row.tookMs !== undefined) pace.pieceTook('a', row.pieceLength, row.tookMs);
    const inFlight = new Map(Array.from({ length: row.asked }, (_, n) => [n, { parentId: 'a' }]));
    const watch = new ParentStallWatch({ inFlight, pace, pieceLength: row.pieceLength, now: () => clock });
    watch.touch('a');
    const signs = [...(row.signsMs ?? [])];
    let givenUpAt: number | undefined;
    while (clock < 60_000 && givenUpAt === undefined) {
      clock += STALL_CHECK_MS;
      if (signs[0] === clock) watch.touch('a', signs.shift()! - clock);
      const stalled = watch.check();
      if (stalled.length > 0) {
        assert.deepEqual(stalled.map((s) => [s.parentId, s.asked]), [['a', row.asked]]);
        givenUpAt = clock;
      }
    }
    const lastSign = row.signsMs?.at(-1) ?? 0;
    if (row.windowMs === undefined) assert.equal(givenUpAt, undefined, 'never given up');
    else {
      assert.ok(givenUpAt !== undefined, 'given up');
      // At the first check at or past the window.
      assert.ok(givenUpAt - lastSign >= row.windowMs && givenUpAt - lastSign < row.windowMs + STALL_CHECK_MS, `given up ${givenUpAt - lastSign} ms after the last sign; window ${row.windowMs}`);
    }
  });
}

test('stall window: time this process did not run (a loaded machine) is not counted as the parent\'s silence', () => {
  let clock = 0;
  const watch = new ParentStallWatch({ inFlight: new Map([[0, { parentId: 'a' }]]), pace: new ParentPace(), pieceLength: 4 * MiB, now: () => clock });
  watch.touch('a');
  watch.check();
  clock += 5_000; // one check 5 s late: the event loop was stalled
  assert.deepEqual(watch.check(), []);
  // Then checks on time again: given up once the whole window passed after the pause.
  let after = 0;
  for (let stalled = 0; stalled === 0 && after < 10_000; ) {
    clock += STALL_CHECK_MS;
    after += STALL_CHECK_MS;
    stalled = watch.check().length;
  }
  assert.equal(after, ASKED_QUEUE_FACTOR * FLOOR_PIECE_MS - STALL_CHECK_MS, 'one check interval of the late check counts as silence, the rest of the pause does not');
});

/** The per-address delivery rate that picks kept-alive connections for slow links (engine/source/link-rate.ts). */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { KEEP_ALIVE_BELOW_BYTES_PER_SECOND, LinkRates, timedBody, type DirectBody } from '../../engine/index.ts';

const MiB = 1024 * 1024;

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

test('pieces in flight together count once: the rate is bytes over the time any piece was on the way', () => {
  const c = clock();
  const rates = new LinkRates(c.now);
  assert.equal(rates.rate('a'), undefined, 'unknown before a piece finished');
  assert.equal(rates.isSlow('a'), false, 'unknown is not slow');
  const first = rates.start('a');
  const second = rates.start('a');
  c.advance(1000);
  first(4 * MiB);
  second(4 * MiB);
  // About 8 MiB in one second of busy time (the decay weighs the later piece a little more).
  assert.ok(rates.rate('a')! > 7 * MiB && rates.rate('a')! < 10 * MiB, String(rates.rate('a')));
  assert.equal(rates.isSlow('a'), true, '8 MiB/s is below the threshold');
  // Idle time between pieces does not count.
  c.advance(60_000);
  const third = rates.start('a');
  c.advance(10);
  third(64 * MiB);
  assert.ok(rates.rate('a')! > KEEP_ALIVE_BELOW_BYTES_PER_SECOND, 'a fast piece lifts the rate');
  assert.equal(rates.isSlow('b'), false, 'per address');
});

test('a failed piece adds time but no bytes; a second end call is ignored; forget drops the address', () => {
  const c = clock();
  const rates = new LinkRates(c.now);
  const ok = rates.start('x');
  c.advance(100);
  ok(MiB);
  ok(MiB);
  const before = rates.rate('x')!;
  const failed = rates.start('x');
  c.advance(900);
  failed(undefined);
  assert.ok(rates.rate('x')! < before);
  rates.forget('x');
  assert.equal(rates.rate('x'), undefined);
});

test('timedBody reports the bytes once the body is all read, and failure when it breaks off', async () => {
  const reports: Array<number | undefined> = [];
  async function* chunks(fail: boolean) {
    yield Buffer.alloc(3);
    if (fail) throw new Error('broke off');
    yield Buffer.alloc(4);
  }
  for await (const _ of timedBody(chunks(false), 7, (b) => reports.push(b))) void _;
  await assert.rejects(async () => {
    for await (const _ of timedBody(chunks(true), 7, (b) => reports.push(b))) void _;
  }, /broke off/);
  assert.deepEqual(reports, [7, undefined]);
});

test('timedBody keeps a direct body direct and times its receiveInto', async () => {
  const reports: Array<number | undefined> = [];
  const direct: DirectBody & AsyncIterable<Uint8Array> = {
    receiveInto: async (_fd, _position, length) => ({ bytes: length, crc32: 42 }),
    async *[Symbol.asyncIterator]() {},
  };
  const body = timedBody(direct, 5, (b) => reports.push(b)) as DirectBody & AsyncIterable<Uint8Array>;
  assert.equal(typeof body.receiveInto, 'function');
  assert.deepEqual(await body.receiveInto(3, 0, 5), { bytes: 5, crc32: 42 });
  const failing: DirectBody & AsyncIterable<Uint8Array> = {
    receiveInto: async () => Promise.reject(new Error('reset')),
    async *[Symbol.asyncIterator]() {},
  };
  await assert.rejects((timedBody(failing, 5, (b) => reports.push(b)) as unknown as DirectBody).receiveInto(3, 0, 5), /reset/);
  assert.deepEqual(reports, [5, undefined]);
});

import assert from 'node:assert/strict';
import { test } from 'vitest';
import { ScheduleAbortedError, ScheduleError } from '../errors.ts';
import { NOOP_LOGGER } from '../log.ts';
import { PeerEvent, PeerState } from '../resource/fsm.ts';
import { Scheduling, type SchedulingOptions } from '../scheduling/scheduler.ts';
import { World } from './fixtures.ts';

const OPTIONS: SchedulingOptions = { retryLimit: 5, retryBackToSourceLimit: 4, retryIntervalMs: 1, filterParentLimit: 15, candidateParentLimit: 3 };

test('parents found: Normal with at most candidateParentLimit parents, best first, and edges added', async () => {
  const w = new World();
  for (let i = 0; i < 6; i++) w.peer(`p${i}`, PeerState.Succeeded, { hostExtra: { txBandwidth: i * 1e9 } });
  const child = w.peer('child', PeerState.ReceivedNormal);
  const outcome = await new Scheduling(OPTIONS, NOOP_LOGGER).scheduleCandidateParents(child, new Set([child.id]));
  assert.equal(outcome, 'normal');
  const [response] = w.sent.get('child')!;
  assert.equal(response?.type, 'normal');
  assert.deepEqual(response.type === 'normal' && response.parents.map((p) => p.id), ['p0', 'p1', 'p2']);
  assert.equal(w.task.dag.inDegree('child'), 3);
});

test('retry table: NeedBackToSource after retryBackToSourceLimit, FailedPrecondition at retryLimit', async () => {
  const cases: readonly [string, Partial<SchedulingOptions>, { backToSourceLimit?: number; need?: boolean }, string][] = [
    ['nobody to download from', {}, {}, 'needBackToSource:scheduling exceeded RetryBackToSourceLimit'],
    ['peer asked', {}, { need: true }, "needBackToSource:peer's NeedBackToSource is true"],
    ['origin closed to more peers', {}, { backToSourceLimit: 0 }, 'error:scheduling exceeded RetryLimit'],
    ['origin closed, even when asked', {}, { backToSourceLimit: 0, need: true }, 'error:scheduling exceeded RetryLimit'],
    ['back-to-source limit 0: at once', { retryBackToSourceLimit: 0 }, {}, 'needBackToSource:scheduling exceeded RetryBackToSourceLimit'],
  ];
  for (const [name, options, world, expected] of cases) {
    const w = new World({ backToSourceLimit: world.backToSourceLimit ?? 200 });
    const child = w.peer('child', PeerState.ReceivedNormal);
    child.needBackToSource = world.need ?? false;
    w.peer('useless', PeerState.ReceivedNormal);
    const outcome = await new Scheduling({ ...OPTIONS, ...options }, NOOP_LOGGER)
      .scheduleCandidateParents(child, new Set([child.id]))
      .then(
        (result) => {
          const last = w.sent.get('child')!.at(-1)!;
          return `${result}:${last.type === 'needBackToSource' ? last.description : ''}`;
        },
        (error: Error) => {
          assert.ok(error instanceof ScheduleError);
          assert.equal((error as ScheduleError).code, 'DF_ERR_SCHEDULE_FAILED');
          return `error:${error.message}`;
        },
      );
    assert.equal(outcome, expected, name);
  }
});

test('a waiting peer is answered as soon as a parent appears, not at the next round', async () => {
  const w = new World();
  const child = w.peer('child', PeerState.ReceivedNormal);
  const other = w.peer('other', PeerState.ReceivedNormal);
  const scheduling = new Scheduling({ ...OPTIONS, retryIntervalMs: 60_000 }, NOOP_LOGGER);
  const pending = scheduling.scheduleCandidateParents(child, new Set([child.id]));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(w.sent.get('child')!.length, 0);
  other.fire(PeerEvent.DownloadBackToSource, w.now);
  w.task.wakeWaiters();
  assert.equal(await pending, 'normal');
});

test('scheduling stops when the stream ends', async () => {
  const w = new World();
  const child = w.peer('child', PeerState.ReceivedNormal);
  const controller = new AbortController();
  child.stream = { send: () => {}, signal: controller.signal };
  const pending = new Scheduling({ ...OPTIONS, retryIntervalMs: 60_000 }, NOOP_LOGGER).scheduleCandidateParents(child, new Set([child.id]));
  controller.abort();
  await assert.rejects(pending, ScheduleAbortedError);
});

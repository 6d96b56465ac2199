import assert from 'node:assert/strict';
import { test } from 'vitest';
import { InvalidTransitionError } from '../errors.ts';
import { defineMachine, PEER_MACHINE, PeerEvent, PeerState, TASK_MACHINE, TaskEvent, TaskState, type Machine } from '../resource/fsm.ts';

/** Every (state, event) pair of a machine against the expected table: allowed ones lead to `to`, others throw. */
function checkTable<S extends string, E extends string>(machine: Machine<S, E>, expected: Record<E, { from: readonly S[]; to: S }>) {
  for (const event of Object.keys(expected) as E[]) {
    for (const state of machine.states) {
      const allowed = expected[event].from.includes(state);
      assert.equal(machine.allows(state, event), allowed, `${machine.name} ${state} --${event}-->`);
    }
  }
}

const RECEIVED = [PeerState.ReceivedEmpty, PeerState.ReceivedTiny, PeerState.ReceivedSmall, PeerState.ReceivedNormal];

test("peer machine: Dragonfly's transitions, state by state", () => {
  checkTable(PEER_MACHINE, {
    RegisterEmpty: { from: [PeerState.Pending], to: PeerState.ReceivedEmpty },
    RegisterTiny: { from: [PeerState.Pending], to: PeerState.ReceivedTiny },
    RegisterSmall: { from: [PeerState.Pending], to: PeerState.ReceivedSmall },
    RegisterNormal: { from: [PeerState.Pending], to: PeerState.ReceivedNormal },
    Download: { from: RECEIVED, to: PeerState.Running },
    DownloadBackToSource: { from: [...RECEIVED, PeerState.Running], to: PeerState.BackToSource },
    DownloadSucceeded: { from: [...RECEIVED, PeerState.Running, PeerState.BackToSource], to: PeerState.Succeeded },
    DownloadFailed: { from: [PeerState.Pending, ...RECEIVED, PeerState.Running, PeerState.BackToSource, PeerState.Succeeded], to: PeerState.Failed },
    Leave: {
      from: [PeerState.Pending, ...RECEIVED, PeerState.Running, PeerState.BackToSource, PeerState.Failed, PeerState.Succeeded],
      to: PeerState.Leave,
    },
  });
  assert.deepEqual(PEER_MACHINE.states, [
    'Pending', 'ReceivedEmpty', 'ReceivedTiny', 'ReceivedSmall', 'ReceivedNormal', 'Running', 'BackToSource', 'Succeeded', 'Failed', 'Leave',
  ]);
});

test('task machine: a download restarts from Succeeded, Failed or Leave', () => {
  checkTable(TASK_MACHINE, {
    Download: { from: [TaskState.Pending, TaskState.Succeeded, TaskState.Failed, TaskState.Leave], to: TaskState.Running },
    DownloadSucceeded: { from: [TaskState.Leave, TaskState.Running, TaskState.Failed], to: TaskState.Succeeded },
    DownloadFailed: { from: [TaskState.Running], to: TaskState.Failed },
    Leave: { from: [TaskState.Pending, TaskState.Running, TaskState.Succeeded, TaskState.Failed], to: TaskState.Leave },
  });
});

test('paths through the peer machine', () => {
  const paths: readonly [PeerEvent[], PeerState][] = [
    [['RegisterNormal', 'Download', 'DownloadSucceeded'], 'Succeeded'],
    [['RegisterNormal', 'DownloadBackToSource', 'DownloadSucceeded', 'Leave'], 'Leave'],
    [['RegisterNormal', 'Download', 'DownloadBackToSource', 'DownloadFailed', 'Leave'], 'Leave'],
    [['RegisterEmpty', 'Download', 'DownloadSucceeded'], 'Succeeded'],
    [['DownloadFailed'], 'Failed'],
  ];
  for (const [events, end] of paths) {
    const fsm = PEER_MACHINE.create();
    for (const event of events) fsm.fire(event);
    assert.equal(fsm.current, end, events.join(' > '));
  }
});

test('an invalid transition throws InvalidTransitionError and keeps the state', () => {
  const invalid: readonly [PeerEvent[], PeerEvent][] = [
    [[], PeerEvent.Download],
    [['RegisterNormal'], PeerEvent.RegisterNormal],
    [['RegisterNormal', 'Download', 'DownloadSucceeded'], PeerEvent.Download],
    [['Leave'], PeerEvent.Leave],
    [['RegisterNormal', 'DownloadFailed'], PeerEvent.DownloadSucceeded],
  ];
  for (const [events, bad] of invalid) {
    const fsm = PEER_MACHINE.create();
    for (const event of events) fsm.fire(event);
    const before = fsm.current;
    assert.throws(
      () => fsm.fire(bad),
      (error: unknown) =>
        error instanceof InvalidTransitionError && error.code === 'DF_ERR_INVALID_TRANSITION' && error.state === before && error.event === bad,
    );
    assert.equal(fsm.current, before);
  }
  const task = TASK_MACHINE.create();
  assert.throws(() => task.fire(TaskEvent.DownloadFailed), InvalidTransitionError);
});

test('defineMachine refuses a table naming undeclared states', () => {
  assert.throws(() => defineMachine({ name: 'x', states: ['a'], initial: 'a', events: { go: { from: ['a'], to: 'b' as 'a' } } }), RangeError);
  assert.throws(() => defineMachine({ name: 'x', states: ['a'], initial: 'b' as 'a', events: {} }), RangeError);
});

/**
 * State machines written as data: a machine is a table of events, each with the states it may
 * start from and the state it leads to. `fire` on an event the table does not allow throws.
 */
import { InvalidTransitionError } from '../errors.ts';

export interface Transition<S extends string> {
  readonly from: readonly S[];
  readonly to: S;
}

export interface MachineSpec<S extends string, E extends string> {
  readonly name: string;
  readonly states: readonly S[];
  readonly initial: S;
  readonly events: { readonly [K in E]: Transition<S> };
}

export interface Machine<S extends string, E extends string> extends MachineSpec<S, E> {
  create(): Fsm<S, E>;
  /** Whether `event` is allowed in `state`, without an instance. */
  allows(state: S, event: E): boolean;
}

/** Validates the table once (every state named is declared) and freezes it. */
export function defineMachine<S extends string, E extends string>(spec: MachineSpec<S, E>): Machine<S, E> {
  const states = new Set<string>(spec.states);
  if (!states.has(spec.initial)) throw new RangeError(`${spec.name}: initial state ${spec.initial} is not declared`);
  const allowed = new Map<E, ReadonlySet<S>>();
  for (const [event, transition] of Object.entries(spec.events) as [E, Transition<S>][]) {
    for (const state of [...transition.from, transition.to]) {
      if (!states.has(state)) throw new RangeError(`${spec.name}: event ${event} names undeclared state ${state}`);
    }
    allowed.set(event, new Set(transition.from));
  }
  const machine: Machine<S, E> = Object.freeze({
    ...spec,
    create: () => new Fsm(machine),
    allows: (state: S, event: E) => allowed.get(event)?.has(state) ?? false,
  });
  return machine;
}

export class Fsm<S extends string, E extends string> {
  readonly machine: Machine<S, E>;
  private state: S;

  constructor(machine: Machine<S, E>) {
    this.machine = machine;
    this.state = machine.initial;
  }

  get current(): S {
    return this.state;
  }

  is(state: S): boolean {
    return this.state === state;
  }

  can(event: E): boolean {
    return this.machine.allows(this.state, event);
  }

  /** Takes the transition and returns the state it left; throws InvalidTransitionError if not allowed. */
  fire(event: E): S {
    if (!this.machine.allows(this.state, event)) throw new InvalidTransitionError(this.machine.name, this.state, event);
    const from = this.state;
    this.state = this.machine.events[event].to;
    return from;
  }
}

// Dragonfly's peer machine (`scheduler/resource/standard/peer.go`): the names are the wire strings
// reported by StatPeer.
export const PeerState = Object.freeze({
  Pending: 'Pending',
  ReceivedEmpty: 'ReceivedEmpty',
  ReceivedTiny: 'ReceivedTiny',
  ReceivedSmall: 'ReceivedSmall',
  ReceivedNormal: 'ReceivedNormal',
  Running: 'Running',
  BackToSource: 'BackToSource',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
  Leave: 'Leave',
});
export type PeerState = (typeof PeerState)[keyof typeof PeerState];

export const PeerEvent = Object.freeze({
  RegisterEmpty: 'RegisterEmpty',
  RegisterTiny: 'RegisterTiny',
  RegisterSmall: 'RegisterSmall',
  RegisterNormal: 'RegisterNormal',
  Download: 'Download',
  DownloadBackToSource: 'DownloadBackToSource',
  DownloadSucceeded: 'DownloadSucceeded',
  DownloadFailed: 'DownloadFailed',
  Leave: 'Leave',
});
export type PeerEvent = (typeof PeerEvent)[keyof typeof PeerEvent];

const S = PeerState;
const RECEIVED = [S.ReceivedEmpty, S.ReceivedTiny, S.ReceivedSmall, S.ReceivedNormal] as const;

export const PEER_MACHINE = defineMachine<PeerState, PeerEvent>({
  name: 'peer',
  states: Object.values(PeerState),
  initial: S.Pending,
  events: {
    RegisterEmpty: { from: [S.Pending], to: S.ReceivedEmpty },
    RegisterTiny: { from: [S.Pending], to: S.ReceivedTiny },
    RegisterSmall: { from: [S.Pending], to: S.ReceivedSmall },
    RegisterNormal: { from: [S.Pending], to: S.ReceivedNormal },
    Download: { from: [...RECEIVED], to: S.Running },
    DownloadBackToSource: { from: [...RECEIVED, S.Running], to: S.BackToSource },
    // Reports may arrive in any order after registration, so success is allowed from every live state.
    DownloadSucceeded: { from: [...RECEIVED, S.Running, S.BackToSource], to: S.Succeeded },
    DownloadFailed: { from: [S.Pending, ...RECEIVED, S.Running, S.BackToSource, S.Succeeded], to: S.Failed },
    Leave: { from: [S.Pending, ...RECEIVED, S.Running, S.BackToSource, S.Failed, S.Succeeded], to: S.Leave },
  },
});

// Dragonfly's task machine (`scheduler/resource/standard/task.go`): a download may restart from
// Succeeded, Failed or Leave.
export const TaskState = Object.freeze({
  Pending: 'Pending',
  Running: 'Running',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
  Leave: 'Leave',
});
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

export const TaskEvent = Object.freeze({
  Download: 'Download',
  DownloadSucceeded: 'DownloadSucceeded',
  DownloadFailed: 'DownloadFailed',
  Leave: 'Leave',
});
export type TaskEvent = (typeof TaskEvent)[keyof typeof TaskEvent];

const T = TaskState;
export const TASK_MACHINE = defineMachine<TaskState, TaskEvent>({
  name: 'task',
  states: Object.values(TaskState),
  initial: T.Pending,
  events: {
    Download: { from: [T.Pending, T.Succeeded, T.Failed, T.Leave], to: T.Running },
    DownloadSucceeded: { from: [T.Leave, T.Running, T.Failed], to: T.Succeeded },
    DownloadFailed: { from: [T.Running], to: T.Failed },
    Leave: { from: [T.Pending, T.Running, T.Succeeded, T.Failed], to: T.Leave },
  },
});

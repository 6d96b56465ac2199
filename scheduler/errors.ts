/**
 * Errors of the scheduler. Each has a stable `code` looked up in api's status tables
 * (ERROR_STATUS), so handlers turn them into gRPC statuses with toGrpcError.
 */
import { DfError } from '../api/index.ts';

export class NotFoundError extends DfError {
  readonly resource: 'host' | 'task' | 'peer';
  constructor(resource: 'host' | 'task' | 'peer', id: string, hint = '') {
    super('DF_ERR_RESOURCE_NOT_FOUND', `${resource} ${JSON.stringify(id)} not found${hint ? `: ${hint}` : ''}`);
    this.name = 'NotFoundError';
    this.resource = resource;
  }
}

/** A peer id registered twice, or a second stream for a peer that already has one. */
export class PeerExistsError extends DfError {
  constructor(peerId: string) {
    super('DF_ERR_PEER_EXISTS', `peer ${JSON.stringify(peerId)} is already registered; a new download needs a new peer id`);
    this.name = 'PeerExistsError';
  }
}

/** An event the state machine does not allow in the current state. */
export class InvalidTransitionError extends DfError {
  readonly machine: string;
  readonly state: string;
  readonly event: string;
  constructor(machine: string, state: string, event: string) {
    super('DF_ERR_INVALID_TRANSITION', `${machine} in state ${state} cannot take event ${event}`);
    this.name = 'InvalidTransitionError';
    this.machine = machine;
    this.state = state;
    this.event = event;
  }
}

/** Scheduling gave up (retry limit, LEVEL1 priority): Dragonfly answers FailedPrecondition. */
export class ScheduleError extends DfError {
  constructor(message: string) {
    super('DF_ERR_SCHEDULE_FAILED', message);
    this.name = 'ScheduleError';
  }
}

/** LEVEL2 priority and no peer has the task: Dragonfly answers NotFound. */
export class NoCandidateError extends DfError {
  constructor(message: string) {
    super('DF_ERR_NO_CANDIDATE', message);
    this.name = 'NoCandidateError';
  }
}

/** The stream or the server closed while a peer was being scheduled. */
export class ScheduleAbortedError extends DfError {
  constructor(message = 'scheduling aborted: the stream or the scheduler closed') {
    super('DF_ERR_SCHEDULE_ABORTED', message);
    this.name = 'ScheduleAbortedError';
  }
}

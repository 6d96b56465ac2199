/** Errors of jobs. Each has its own code in api's table; a failed task records `code: message`. */
import { DfError } from '../../api/index.ts';

/** No host of a layer reported a byte for the stall timeout. */
export class PreheatStalledError extends DfError {
  constructor(message: string) {
    super('DF_ERR_PREHEAT_STALLED', message);
    this.name = 'PreheatStalledError';
  }
}

/** The cluster has no active scheduler. */
export class PreheatNoSchedulerError extends DfError {
  constructor(message: string) {
    super('DF_ERR_PREHEAT_NO_SCHEDULER', message);
    this.name = 'PreheatNoSchedulerError';
  }
}

/** The scheduler refused the preheat, or hosts failed it. */
export class PreheatFailedError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_PREHEAT_FAILED', message, options);
    this.name = 'PreheatFailedError';
  }
}

/** get_task / delete_task: the cluster has no active scheduler. */
export class TaskJobNoSchedulerError extends DfError {
  constructor(message: string) {
    super('DF_ERR_TASK_JOB_NO_SCHEDULER', message);
    this.name = 'TaskJobNoSchedulerError';
  }
}

/** get_task / delete_task: a scheduler of the cluster failed the call. */
export class TaskJobSchedulerFailedError extends DfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DF_ERR_TASK_JOB_SCHEDULER_FAILED', message, options);
    this.name = 'TaskJobSchedulerFailedError';
  }
}

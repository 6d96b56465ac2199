/**
 * The args of `get_task` and `delete_task` jobs (Dragonfly's): a task id, or the download that
 * names it (url + tag, application, filtered_query_params, piece_length), from which the task id
 * is computed the way every daemon computes it.
 */
import { InvalidArgumentError, isTaskId, taskIdOf } from '../../api/index.ts';

export const TASK_JOB_TYPES = ['get_task', 'delete_task'] as const;
export type TaskJobType = (typeof TASK_JOB_TYPES)[number];

export const TASK_JOB_DEFAULTS = Object.freeze({ timeoutMs: 10 * 60 * 1000 });

export interface TaskJobArgs {
  task_id?: string;
  url?: string;
  tag?: string;
  application?: string;
  filtered_query_params?: string;
  piece_length?: number;
  /** Seconds, as for preheat. */
  timeout?: number;
}

/** JSON schema of `args` for fastify: types and bounds; messages name the field. */
export const TASK_JOB_ARGS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    task_id: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    url: { type: 'string', minLength: 1, maxLength: 16_384 },
    tag: { type: 'string', maxLength: 1024 },
    application: { type: 'string', maxLength: 1024 },
    filtered_query_params: { type: 'string', maxLength: 4096 },
    piece_length: { type: 'integer', minimum: 4 * 1024 * 1024, maximum: 64 * 1024 * 1024 },
    timeout: { type: 'integer', minimum: 1, maximum: 7 * 24 * 3600 },
  },
} as const;

/** Checks what the schema cannot and returns the args with their task id filled in. */
export function checkTaskJobArgs(args: TaskJobArgs): TaskJobArgs & { task_id: string } {
  if (args.task_id !== undefined) {
    if (!isTaskId(args.task_id)) throw new InvalidArgumentError('args.task_id must be 64 lower-case hex characters');
    return { ...args, task_id: args.task_id };
  }
  if (!args.url) throw new InvalidArgumentError('args.task_id or args.url is required');
  try {
    new URL(args.url);
  } catch {
    throw new InvalidArgumentError('args.url is not a URL');
  }
  const filtered = (args.filtered_query_params ?? '').split('&').filter((param) => param !== '');
  const taskId = taskIdOf({
    url: args.url,
    tag: args.tag,
    application: args.application,
    pieceLength: args.piece_length,
    filteredQueryParams: filtered.length > 0 ? filtered : undefined,
  });
  return { ...args, task_id: taskId };
}

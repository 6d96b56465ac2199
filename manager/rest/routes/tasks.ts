/**
 * `/api/v1/tasks`: the task index (what the schedulers reported, kept `taskIndex.ttl`), searched
 * by URL (as given or canonical: signatures removed), task id, or digest (the task's digest, or the
 * blob digest of an OCI blob URL). Any signed-in user reads it.
 */
import type { FastifyInstance } from 'fastify';
import type { ManagerContext } from '../../context.ts';
import { getTaskEntry, searchTasks, taskIndexView } from '../../store/task-index.ts';
import { requireRole } from '../auth.ts';
import { PAGE_QUERY, pageOf, sendPage, type PageQuery } from '../pagination.ts';
import { listQuery } from '../schemas.ts';

const LIST_QUERY = listQuery(
  {
    url: { type: 'string', minLength: 1, maxLength: 8192 },
    task_id: { type: 'string', minLength: 1, maxLength: 256 },
    digest: { type: 'string', minLength: 1, maxLength: 256 },
  },
  PAGE_QUERY,
);
const TASK_PARAMS = { type: 'object', properties: { task_id: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['task_id'] } as const;

type ListQuery = PageQuery & { url?: string; task_id?: string; digest?: string };

export function taskRoutes(app: FastifyInstance, context: ManagerContext): void {
  const db = context.store.db;
  const anyone = { preHandler: [requireRole('guest')] };
  const tags = ['tasks'];
  app.get<{ Querystring: ListQuery }>('/api/v1/tasks', { schema: { tags, querystring: LIST_QUERY }, ...anyone }, async (request, reply) => {
    const { url, task_id: taskId, digest } = request.query;
    return sendPage(request, reply, request.query, await searchTasks(db, { url, taskId, digest }, pageOf(request.query)), taskIndexView);
  });
  app.get<{ Params: { task_id: string } }>('/api/v1/tasks/:task_id', { schema: { tags, params: TASK_PARAMS }, ...anyone }, async (request) =>
    taskIndexView(await getTaskEntry(db, request.params.task_id)),
  );
}

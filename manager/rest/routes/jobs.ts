/**
 * Jobs: `/api/v1/jobs` for signed-in users (create, list, get; delete for root) and `/oapi/v1/jobs`
 * for a personal access token of scope `job` (what Harbor's Dragonfly provider calls). Bodies are
 * Dragonfly's (types preheat, get_task, delete_task); answers carry the args as stored, with every credential as `***`.
 */
import type { FastifyInstance } from 'fastify';
import type { ManagerContext } from '../../context.ts';
import { PREHEAT_ARGS_SCHEMA } from '../../jobs/preheat-args.ts';
import { TASK_JOB_ARGS_SCHEMA } from '../../jobs/task-args.ts';
import { getJob, JOB_TYPES, jobView, removeJob, submitJob, type CreateJobInput } from '../../jobs/service.ts';
import { JOB_STATES, listJobs } from '../../store/jobs.ts';
import { principalOf, requirePat, requireRole } from '../auth.ts';
import { PAGE_QUERY } from '../pagination.ts';
import { ID, ID_PARAMS } from '../schemas.ts';

const CREATE_BODY = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'args'],
  properties: {
    type: { type: 'string', enum: [...JOB_TYPES] },
    bio: { type: 'string', maxLength: 1024 },
    user_id: ID,
    scheduler_cluster_ids: { type: 'array', maxItems: 1000, items: ID },
    args: { type: 'object' },
  },
  // The args' shape follows the type: a preheat's, or a task id / download for get_task and delete_task.
  if: { properties: { type: { const: 'preheat' } } },
  then: { properties: { args: PREHEAT_ARGS_SCHEMA } },
  else: { properties: { args: TASK_JOB_ARGS_SCHEMA } },
} as const;
const LIST_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...PAGE_QUERY,
    type: { type: 'string', maxLength: 64 },
    state: { type: 'string', enum: [...JOB_STATES] },
  },
} as const;

interface ListQuery {
  page: number;
  per_page: number;
  type?: string;
  state?: string;
}

export function jobRoutes(app: FastifyInstance, context: ManagerContext): void {
  const create = async (body: CreateJobInput, userId: number) => jobView(context, await submitJob(context, body, userId));

  app.post<{ Body: CreateJobInput }>('/api/v1/jobs', { schema: { body: CREATE_BODY }, preHandler: [requireRole('guest')] }, async (request, reply) =>
    reply.status(200).send(await create(request.body, principalOf(request).userId)),
  );
  app.get<{ Querystring: ListQuery }>('/api/v1/jobs', { schema: { querystring: LIST_QUERY }, preHandler: [requireRole('guest')] }, async (request, reply) => {
    const { page, per_page: perPage } = request.query;
    const paged = await listJobs(context.store.db, { type: request.query.type, state: request.query.state }, { limit: perPage, offset: (page - 1) * perPage });
    const last = Math.max(1, Math.ceil(paged.total / perPage));
    void reply.header('x-total-count', String(paged.total)).header('link', `</api/v1/jobs?page=${last}&per_page=${perPage}>; rel="last"`);
    return Promise.all(paged.items.map((job) => jobView(context, job)));
  });
  app.get<{ Params: { id: number } }>('/api/v1/jobs/:id', { schema: { params: ID_PARAMS }, preHandler: [requireRole('guest')] }, async (request) =>
    jobView(context, await getJob(context, request.params.id)),
  );
  app.delete<{ Params: { id: number } }>('/api/v1/jobs/:id', { schema: { params: ID_PARAMS }, preHandler: [requireRole('root')] }, async (request, reply) => {
    await removeJob(context, request.params.id);
    return reply.status(200).send({});
  });

  app.post<{ Body: CreateJobInput }>('/oapi/v1/jobs', { schema: { body: CREATE_BODY }, preHandler: [requirePat('job')] }, async (request, reply) =>
    reply.status(200).send(await create(request.body, principalOf(request).userId)),
  );
  app.get<{ Params: { id: number } }>('/oapi/v1/jobs/:id', { schema: { params: ID_PARAMS }, preHandler: [requirePat('job')] }, async (request) =>
    jobView(context, await getJob(context, request.params.id)),
  );
}

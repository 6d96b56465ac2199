/** `/api/v1/applications`: URL priorities (Dragonfly's 0-6 levels). Guests read, root writes. */
import type { FastifyInstance } from 'fastify';
import type { ManagerContext } from '../../context.ts';
import { applicationView, createApplication, deleteApplication, getApplication, listApplicationsPage, updateApplication, type ApplicationInput, type Priority } from '../../store/applications.ts';
import { principalOf, requireRole } from '../auth.ts';
import { checkedRegex } from '../fields.ts';
import { PAGE_QUERY, pageOf, sendPage, type PageQuery } from '../pagination.ts';
import { BIO, ID_PARAMS, listQuery, NAME, type IdParams } from '../schemas.ts';

const TAGS = ['applications'];
const LEVEL = { type: 'integer', minimum: 0, maximum: 6 };
const PRIORITY = {
  type: 'object',
  properties: {
    value: LEVEL,
    urls: { type: 'array', maxItems: 1000, items: { type: 'object', properties: { regex: { type: 'string', minLength: 1, maxLength: 1024 }, value: LEVEL }, required: ['regex', 'value'], additionalProperties: false } },
  },
  required: ['value'],
  additionalProperties: false,
};
const PROPERTIES = { name: NAME, url: { type: 'string', format: 'uri', maxLength: 2048 }, bio: BIO, priority: PRIORITY };
const CREATE_BODY = { type: 'object', properties: PROPERTIES, required: ['name', 'url', 'priority'], additionalProperties: false };
const PATCH_BODY = { type: 'object', properties: PROPERTIES, additionalProperties: false, minProperties: 1 };
const LIST_QUERY = listQuery({ name: { type: 'string' } }, PAGE_QUERY);

function checked<T extends ApplicationInput>(body: T): T {
  body.priority?.urls?.forEach((entry, i) => checkedRegex(entry.regex, `body.priority.urls[${i}].regex`));
  return body;
}

export function applicationRoutes(app: FastifyInstance, context: ManagerContext): void {
  const db = context.store.db;
  const root = { preHandler: [requireRole('root')] };
  const anyone = { preHandler: [requireRole('guest')] };

  app.get<{ Querystring: PageQuery & { name?: string } }>('/api/v1/applications', { schema: { tags: TAGS, querystring: LIST_QUERY }, ...anyone }, async (request, reply) =>
    sendPage(request, reply, request.query, await listApplicationsPage(db, { name: request.query.name }, pageOf(request.query)), applicationView),
  );
  app.get<{ Params: IdParams }>('/api/v1/applications/:id', { schema: { tags: TAGS, params: ID_PARAMS }, ...anyone }, async (request) =>
    applicationView(await getApplication(db, request.params.id)),
  );
  app.post<{ Body: ApplicationInput & { name: string; url: string; priority: Priority } }>(
    '/api/v1/applications',
    { schema: { tags: TAGS, body: CREATE_BODY }, ...root },
    async (request, reply) => reply.status(201).send(applicationView(await createApplication(db, checked(request.body), principalOf(request).userId, context.now()))),
  );
  app.patch<{ Params: IdParams; Body: ApplicationInput }>('/api/v1/applications/:id', { schema: { tags: TAGS, params: ID_PARAMS, body: PATCH_BODY }, ...root }, async (request) =>
    applicationView(await updateApplication(db, request.params.id, checked(request.body), context.now())),
  );
  app.delete<{ Params: IdParams }>('/api/v1/applications/:id', { schema: { tags: TAGS, params: ID_PARAMS }, ...root }, async (request, reply) => {
    await deleteApplication(db, request.params.id);
    return reply.status(200).send({});
  });
}

/** `/api/v1/configs`: named values (`{name, value, bio}`). Guests read, root writes. */
import type { FastifyInstance } from 'fastify';
import type { ManagerContext } from '../../context.ts';
import { configView, createConfig, deleteConfig, getConfig, listConfigs, updateConfig, type ConfigInput } from '../../store/configs.ts';
import { principalOf, requireRole } from '../auth.ts';
import { PAGE_QUERY, pageOf, sendPage, type PageQuery } from '../pagination.ts';
import { BIO, ID_PARAMS, listQuery, NAME, type IdParams } from '../schemas.ts';

const TAGS = ['configs'];
const PROPERTIES = { name: NAME, value: { type: 'string', maxLength: 65_536 }, bio: BIO };
const CREATE_BODY = { type: 'object', properties: PROPERTIES, required: ['name', 'value'], additionalProperties: false };
const PATCH_BODY = { type: 'object', properties: PROPERTIES, additionalProperties: false, minProperties: 1 };
const LIST_QUERY = listQuery({ name: { type: 'string' } }, PAGE_QUERY);

export function configRoutes(app: FastifyInstance, context: ManagerContext): void {
  const db = context.store.db;
  const root = { preHandler: [requireRole('root')] };
  const anyone = { preHandler: [requireRole('guest')] };

  app.get<{ Querystring: PageQuery & { name?: string } }>('/api/v1/configs', { schema: { tags: TAGS, querystring: LIST_QUERY }, ...anyone }, async (request, reply) =>
    sendPage(request, reply, request.query, await listConfigs(db, { name: request.query.name }, pageOf(request.query)), configView),
  );
  app.get<{ Params: IdParams }>('/api/v1/configs/:id', { schema: { tags: TAGS, params: ID_PARAMS }, ...anyone }, async (request) => configView(await getConfig(db, request.params.id)));
  app.post<{ Body: ConfigInput & { name: string; value: string } }>('/api/v1/configs', { schema: { tags: TAGS, body: CREATE_BODY }, ...root }, async (request, reply) =>
    reply.status(201).send(configView(await createConfig(db, request.body, principalOf(request).userId, context.now()))),
  );
  app.patch<{ Params: IdParams; Body: ConfigInput }>('/api/v1/configs/:id', { schema: { tags: TAGS, params: ID_PARAMS, body: PATCH_BODY }, ...root }, async (request) =>
    configView(await updateConfig(db, request.params.id, request.body, context.now())),
  );
  app.delete<{ Params: IdParams }>('/api/v1/configs/:id', { schema: { tags: TAGS, params: ID_PARAMS }, ...root }, async (request, reply) => {
    await deleteConfig(db, request.params.id);
    return reply.status(200).send({});
  });
}

/**
 * `/api/v1/clusters`: Dragonfly's combined cluster (scheduler cluster + its seed peers' and peers'
 * limits, scopes, default flag). Guests read, root writes. `/oapi/v1/clusters` lists them for a
 * personal access token with the `cluster` scope (what Harbor's provider and scripts use).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ManagerContext } from '../../context.ts';
import { clusterView, createCluster, deleteCluster, getCluster, listClusters, updateCluster, type ClusterInput } from '../../store/clusters.ts';
import { requirePat, requireRole } from '../auth.ts';
import { checkedScopes } from '../fields.ts';
import { PAGE_QUERY, pageOf, sendPage, type PageQuery } from '../pagination.ts';
import { BIO, ID_PARAMS, listQuery, NAME, type IdParams } from '../schemas.ts';

const TAGS = ['clusters'];
const STRINGS = { type: 'array', items: { type: 'string', minLength: 1, maxLength: 1024 }, maxItems: 1000 };
const SCOPES = {
  type: 'object',
  properties: { idc: { type: 'string', maxLength: 1024 }, location: { type: 'string', maxLength: 1024 }, cidrs: STRINGS, hostnames: STRINGS },
  additionalProperties: false,
};
// Dragonfly's bounds for each limit.
const SCHEDULER_CLUSTER_CONFIG = {
  type: 'object',
  properties: {
    candidate_parent_limit: { type: 'integer', minimum: 1, maximum: 20 },
    filter_parent_limit: { type: 'integer', minimum: 10, maximum: 1000 },
    job_rate_limit: { type: 'integer', minimum: 1, maximum: 1_000_000 },
  },
  additionalProperties: false,
};
const SEED_PEER_CLUSTER_CONFIG = { type: 'object', properties: { load_limit: { type: 'integer', minimum: 1, maximum: 50_000 } }, additionalProperties: false };
const PEER_CLUSTER_CONFIG = {
  type: 'object',
  properties: { load_limit: { type: 'integer', minimum: 1, maximum: 2000 }, concurrent_piece_count: { type: 'integer', minimum: 1, maximum: 50 } },
  additionalProperties: false,
};
const PROPERTIES = {
  name: NAME,
  bio: BIO,
  scopes: SCOPES,
  scheduler_cluster_config: SCHEDULER_CLUSTER_CONFIG,
  seed_peer_cluster_config: SEED_PEER_CLUSTER_CONFIG,
  peer_cluster_config: PEER_CLUSTER_CONFIG,
  is_default: { type: 'boolean' },
};
const CREATE_BODY = { type: 'object', properties: PROPERTIES, required: ['name'], additionalProperties: false };
const PATCH_BODY = { type: 'object', properties: PROPERTIES, additionalProperties: false, minProperties: 1 };
const LIST_QUERY = listQuery({ name: { type: 'string' } }, PAGE_QUERY);

type ListQuery = PageQuery & { name?: string };

function checked(body: ClusterInput): ClusterInput {
  return body.scopes === undefined ? body : { ...body, scopes: checkedScopes(body.scopes, 'body.scopes') };
}

export function clusterRoutes(app: FastifyInstance, context: ManagerContext): void {
  const { db, kind } = context.store;
  const root = { preHandler: [requireRole('root')] };
  const anyone = { preHandler: [requireRole('guest')] };

  const list = async (request: FastifyRequest<{ Querystring: ListQuery }>, reply: FastifyReply) =>
    sendPage(request, reply, request.query, await listClusters(db, { name: request.query.name }, pageOf(request.query)), clusterView);

  app.get<{ Querystring: ListQuery }>('/api/v1/clusters', { schema: { tags: TAGS, querystring: LIST_QUERY }, ...anyone }, list);
  app.get<{ Querystring: ListQuery }>('/oapi/v1/clusters', { schema: { tags: TAGS, summary: 'list clusters with a PAT of scope cluster', querystring: LIST_QUERY }, preHandler: [requirePat('cluster')] }, list);

  app.get<{ Params: IdParams }>('/api/v1/clusters/:id', { schema: { tags: TAGS, params: ID_PARAMS }, ...anyone }, async (request) =>
    clusterView(await getCluster(db, request.params.id)),
  );

  app.post<{ Body: ClusterInput & { name: string } }>('/api/v1/clusters', { schema: { tags: TAGS, summary: 'create a cluster; is_default moves the default to it', body: CREATE_BODY }, ...root }, async (request, reply) => {
    const row = await createCluster(db, kind, { ...checked(request.body), name: request.body.name }, context.now());
    return reply.status(201).send(clusterView(row));
  });

  app.patch<{ Params: IdParams; Body: ClusterInput }>('/api/v1/clusters/:id', { schema: { tags: TAGS, params: ID_PARAMS, body: PATCH_BODY }, ...root }, async (request) =>
    clusterView(await updateCluster(db, kind, request.params.id, checked(request.body), context.now())),
  );

  app.delete<{ Params: IdParams }>('/api/v1/clusters/:id', { schema: { tags: TAGS, params: ID_PARAMS }, ...root }, async (request, reply) => {
    await deleteCluster(db, request.params.id);
    return reply.status(200).send({});
  });
}

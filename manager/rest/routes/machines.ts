/**
 * `/api/v1/schedulers`, `/api/v1/seed-peers`, `/api/v1/peers`: read-only lists of what the
 * schedulers registered and reported, filtered by cluster, state, hostname or IP. Guests read them.
 */
import type { FastifyInstance } from 'fastify';
import type { ManagerContext } from '../../context.ts';
import { getHost, HOST_TYPES, hostView, listHosts, type HostType } from '../../store/hosts.ts';
import { getScheduler, listSchedulers, schedulerView } from '../../store/schedulers.ts';
import { requireRole } from '../auth.ts';
import { PAGE_QUERY, pageOf, sendPage, type PageQuery } from '../pagination.ts';
import { ID, ID_PARAMS, listQuery, type IdParams } from '../schemas.ts';

const LIST_QUERY = listQuery(
  {
    scheduler_cluster_id: ID,
    state: { type: 'string', enum: ['active', 'inactive'] },
    hostname: { type: 'string', maxLength: 256 },
    ip: { type: 'string', maxLength: 64 },
  },
  PAGE_QUERY,
);

type ListQuery = PageQuery & { scheduler_cluster_id?: number; state?: string; hostname?: string; ip?: string };

function filterOf(query: ListQuery) {
  return { clusterId: query.scheduler_cluster_id, state: query.state, hostname: query.hostname, ip: query.ip };
}

export function schedulerRoutes(app: FastifyInstance, context: ManagerContext): void {
  const db = context.store.db;
  const anyone = { preHandler: [requireRole('guest')] };
  const tags = ['schedulers'];
  app.get<{ Querystring: ListQuery }>('/api/v1/schedulers', { schema: { tags, querystring: LIST_QUERY }, ...anyone }, async (request, reply) =>
    sendPage(request, reply, request.query, await listSchedulers(db, filterOf(request.query), pageOf(request.query)), schedulerView),
  );
  app.get<{ Params: IdParams }>('/api/v1/schedulers/:id', { schema: { tags, params: ID_PARAMS }, ...anyone }, async (request) =>
    schedulerView(await getScheduler(db, request.params.id)),
  );
}

function hostRoutes(path: string, type: HostType) {
  return (app: FastifyInstance, context: ManagerContext): void => {
    const db = context.store.db;
    const anyone = { preHandler: [requireRole('guest')] };
    const tags = [path];
    app.get<{ Querystring: ListQuery }>(`/api/v1/${path}`, { schema: { tags, querystring: LIST_QUERY }, ...anyone }, async (request, reply) =>
      sendPage(request, reply, request.query, await listHosts(db, type, filterOf(request.query), pageOf(request.query)), hostView),
    );
    app.get<{ Params: IdParams }>(`/api/v1/${path}/:id`, { schema: { tags, params: ID_PARAMS }, ...anyone }, async (request) =>
      hostView(await getHost(db, type, request.params.id)),
    );
  };
}

export const seedPeerRoutes = hostRoutes('seed-peers', HOST_TYPES.seedPeer);
export const peerRoutes = hostRoutes('peers', HOST_TYPES.peer);

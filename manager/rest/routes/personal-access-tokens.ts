/**
 * `/api/v1/personal-access-tokens` (root only): the token is in the create answer and nowhere
 * else; lists and gets show its prefix. Revoking (`PATCH {state: "inactive"}`) is final: a leaked
 * token that was revoked cannot be switched back on, a new one is made instead.
 */
import type { FastifyInstance } from 'fastify';
import type { ManagerContext } from '../../context.ts';
import { InvalidFieldError } from '../../errors.ts';
import { createToken, deleteToken, getToken, listTokens, PAT_SCOPES, PAT_STATES, tokenView, updateToken, type PatScope } from '../../store/tokens.ts';
import { principalOf, requireRole } from '../auth.ts';
import { PAGE_QUERY, pageOf, sendPage, type PageQuery } from '../pagination.ts';
import { BIO, ID, ID_PARAMS, listQuery, NAME, type IdParams } from '../schemas.ts';

const TAGS = ['personal-access-tokens'];
const SCOPES = { type: 'array', items: { type: 'string', enum: [...PAT_SCOPES] }, minItems: 1, uniqueItems: true };
const EXPIRED_AT = { type: 'string', format: 'date-time' };
const CREATE_BODY = { type: 'object', properties: { name: NAME, bio: BIO, scopes: SCOPES, expired_at: EXPIRED_AT }, required: ['name', 'scopes', 'expired_at'], additionalProperties: false };
const PATCH_BODY = { type: 'object', properties: { name: NAME, bio: BIO, scopes: SCOPES, state: { type: 'string', enum: ['inactive'] }, expired_at: EXPIRED_AT }, additionalProperties: false, minProperties: 1 };
const LIST_QUERY = listQuery({ user_id: ID, state: { type: 'string', enum: [...PAT_STATES] } }, PAGE_QUERY);

interface TokenBody {
  name?: string;
  bio?: string | null;
  scopes?: PatScope[];
  state?: string;
  expired_at?: string;
}

function futureTime(context: ManagerContext, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (!(ms > context.now())) throw new InvalidFieldError('body.expired_at', 'body.expired_at must be a time in the future');
  return ms;
}

export function personalAccessTokenRoutes(app: FastifyInstance, context: ManagerContext): void {
  const db = context.store.db;
  const root = { preHandler: [requireRole('root')] };

  app.post<{ Body: Required<Pick<TokenBody, 'name' | 'scopes' | 'expired_at'>> & TokenBody }>(
    '/api/v1/personal-access-tokens',
    { schema: { tags: TAGS, summary: 'create a token; the answer is the only place it appears', body: CREATE_BODY }, ...root },
    async (request, reply) => {
      const { name, bio, scopes, expired_at } = request.body;
      const { row, token } = await createToken(db, { name, bio, scopes, expiredAt: futureTime(context, expired_at)!, userId: principalOf(request).userId }, context.now());
      return reply.status(201).send({ ...tokenView(row), token });
    },
  );

  app.get<{ Querystring: PageQuery & { user_id?: number; state?: string } }>(
    '/api/v1/personal-access-tokens',
    { schema: { tags: TAGS, querystring: LIST_QUERY }, ...root },
    async (request, reply) => {
      const paged = await listTokens(db, { userId: request.query.user_id, state: request.query.state }, pageOf(request.query));
      return sendPage(request, reply, request.query, paged, tokenView);
    },
  );

  app.get<{ Params: IdParams }>('/api/v1/personal-access-tokens/:id', { schema: { tags: TAGS, params: ID_PARAMS }, ...root }, async (request) =>
    tokenView(await getToken(db, request.params.id)),
  );

  app.patch<{ Params: IdParams; Body: TokenBody }>(
    '/api/v1/personal-access-tokens/:id',
    { schema: { tags: TAGS, summary: 'rename, rescope, or revoke with state inactive', params: ID_PARAMS, body: PATCH_BODY }, ...root },
    async (request) => {
      const { name, bio, scopes, state, expired_at } = request.body;
      const row = await updateToken(db, request.params.id, { name, bio, scopes, state, expiredAt: futureTime(context, expired_at) }, context.now());
      return tokenView(row);
    },
  );

  app.delete<{ Params: IdParams }>('/api/v1/personal-access-tokens/:id', { schema: { tags: TAGS, params: ID_PARAMS }, ...root }, async (request, reply) => {
    await deleteToken(db, request.params.id);
    return reply.status(200).send({});
  });
}

/**
 * `/api/v1/users`: sign-in, sign-out, token refresh, sign-up (off unless `auth.enableSignup`), and
 * user management for root. A guest sees only itself, through `/users/me`.
 */
import type { FastifyInstance } from 'fastify';
import type { ManagerContext } from '../../context.ts';
import { hashPassword, verifyPassword } from '../../credentials.ts';
import { ConflictError, ForbiddenError, RecordNotFoundError, UnauthenticatedError } from '../../errors.ts';
import { countOtherRoots, createUser, deleteUser, findUserByName, getUser, listUsers, ROLES, updateUser, USER_STATES, userView, type Role } from '../../store/users.ts';
import { authenticate, clearSessionCookie, issueToken, principalOf, requireRole, setSessionCookie } from '../auth.ts';
import { PAGE_QUERY, pageOf, sendPage, type PageQuery } from '../pagination.ts';
import { ID, ID_PARAMS, listQuery, type IdParams } from '../schemas.ts';

const USER_NAME = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' };
const PASSWORD = { type: 'string', minLength: 8, maxLength: 256 };
const EMAIL = { type: ['string', 'null'], maxLength: 256, pattern: '^[^@\\s]+@[^@\\s]+$' };
const ROLE = { type: 'string', enum: [...ROLES] };
const TAGS = ['users'];

const SIGNIN_BODY = { type: 'object', properties: { name: USER_NAME, password: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['name', 'password'], additionalProperties: false };
const SIGNUP_BODY = { type: 'object', properties: { name: USER_NAME, password: PASSWORD, email: EMAIL }, required: ['name', 'password'], additionalProperties: false };
const CREATE_BODY = { type: 'object', properties: { name: USER_NAME, password: PASSWORD, email: EMAIL, role: ROLE }, required: ['name', 'password'], additionalProperties: false };
const PATCH_BODY = { type: 'object', properties: { email: EMAIL, state: { type: 'string', enum: [...USER_STATES] } }, additionalProperties: false, minProperties: 1 };
const RESET_BODY = { type: 'object', properties: { old_password: { type: 'string', maxLength: 256 }, new_password: PASSWORD }, required: ['new_password'], additionalProperties: false };
const ROLE_PARAMS = { type: 'object', properties: { id: ID, role: ROLE }, required: ['id', 'role'] };
const LIST_QUERY = listQuery({ name: { type: 'string' }, role: ROLE, state: { type: 'string', enum: [...USER_STATES] } }, PAGE_QUERY);

type Credentials = { name: string; password: string; email?: string | null };

/** Refuses to leave the manager without an enabled root user. */
async function keepOneRoot(context: ManagerContext, id: number, what: string): Promise<void> {
  const user = await getUser(context.store.db, id);
  if (user.role === 'root' && user.state === 'enable' && (await countOtherRoots(context.store.db, id)) === 0) {
    throw new ConflictError(`cannot ${what} the last enabled root user`);
  }
}

export function userRoutes(app: FastifyInstance, context: ManagerContext): void {
  const db = context.store.db;

  app.post<{ Body: Credentials }>('/api/v1/users/signin', { schema: { tags: TAGS, summary: 'sign in: a JWT, also set as the HttpOnly jwt cookie', body: SIGNIN_BODY } }, async (request, reply) => {
    const user = await findUserByName(db, request.body.name);
    // Same answer for an unknown name and a wrong password, so names cannot be probed.
    const ok = user !== undefined && user.state === 'enable' && (await verifyPassword(request.body.password, user.password_hash));
    if (!ok) throw new UnauthenticatedError('wrong name or password');
    const issued = await issueToken(context, user);
    setSessionCookie(reply, issued);
    return { token: issued.token, expire: issued.expire };
  });

  app.post('/api/v1/users/signout', { schema: { tags: TAGS, summary: 'clear the session cookie' } }, async (_request, reply) => {
    clearSessionCookie(reply);
    return reply.status(200).send({});
  });

  app.post('/api/v1/users/refresh_token', { schema: { tags: TAGS, summary: 'a fresh JWT for a valid one' }, preHandler: [authenticate] }, async (request, reply) => {
    const principal = principalOf(request);
    if (principal.kind !== 'user') throw new ForbiddenError('this needs a signed-in user');
    const issued = await issueToken(context, { id: principal.userId, name: principal.name });
    setSessionCookie(reply, issued);
    return { token: issued.token, expire: issued.expire };
  });

  app.post<{ Body: Credentials }>('/api/v1/users/signup', { schema: { tags: TAGS, summary: 'create a guest account (auth.enableSignup)', body: SIGNUP_BODY } }, async (request, reply) => {
    if (!context.config.auth.enableSignup) throw new ForbiddenError('sign-up is off (auth.enableSignup)');
    const { name, password, email } = request.body;
    const row = await createUser(db, { name, email, passwordHash: await hashPassword(password), role: 'guest' }, context.now());
    return reply.status(201).send(userView(row));
  });

  app.get('/api/v1/users/me', { schema: { tags: TAGS, summary: 'the signed-in user' }, preHandler: [authenticate] }, async (request) => {
    const principal = principalOf(request);
    return userView(await getUser(db, principal.userId));
  });

  app.get<{ Querystring: PageQuery & { name?: string; role?: string; state?: string } }>(
    '/api/v1/users',
    { schema: { tags: TAGS, summary: 'list users (root)', querystring: LIST_QUERY }, preHandler: [requireRole('root')] },
    async (request, reply) => {
      const { name, role, state } = request.query;
      const paged = await listUsers(db, { name, role, state }, pageOf(request.query));
      return sendPage(request, reply, request.query, paged, userView);
    },
  );

  app.get<{ Params: IdParams }>('/api/v1/users/:id', { schema: { tags: TAGS, params: ID_PARAMS }, preHandler: [requireRole('root')] }, async (request) =>
    userView(await getUser(db, request.params.id)),
  );

  app.post<{ Body: Credentials & { role?: Role } }>('/api/v1/users', { schema: { tags: TAGS, summary: 'create a user (root)', body: CREATE_BODY }, preHandler: [requireRole('root')] }, async (request, reply) => {
    const { name, password, email, role } = request.body;
    const row = await createUser(db, { name, email, passwordHash: await hashPassword(password), role: role ?? 'guest' }, context.now());
    return reply.status(201).send(userView(row));
  });

  app.patch<{ Params: IdParams; Body: { email?: string | null; state?: string } }>(
    '/api/v1/users/:id',
    { schema: { tags: TAGS, params: ID_PARAMS, body: PATCH_BODY }, preHandler: [requireRole('root')] },
    async (request) => {
      if (request.body.state === 'disable') await keepOneRoot(context, request.params.id, 'disable');
      return userView(await updateUser(db, request.params.id, request.body, context.now()));
    },
  );

  app.delete<{ Params: IdParams }>('/api/v1/users/:id', { schema: { tags: TAGS, params: ID_PARAMS }, preHandler: [requireRole('root')] }, async (request, reply) => {
    await keepOneRoot(context, request.params.id, 'delete');
    await deleteUser(db, request.params.id);
    return reply.status(200).send({});
  });

  // Root sets anyone's password; a user changing its own must also give the old one.
  app.post<{ Params: IdParams; Body: { old_password?: string; new_password: string } }>(
    '/api/v1/users/:id/reset_password',
    { schema: { tags: TAGS, params: ID_PARAMS, body: RESET_BODY }, preHandler: [authenticate] },
    async (request, reply) => {
      const principal = principalOf(request);
      if (principal.kind !== 'user') throw new ForbiddenError('this needs a signed-in user');
      const self = principal.userId === request.params.id;
      if (!self && principal.role !== 'root') throw new ForbiddenError('only root resets another user\'s password');
      const user = await getUser(db, request.params.id);
      if (self && !(await verifyPassword(request.body.old_password ?? '', user.password_hash))) throw new UnauthenticatedError('the old password is wrong');
      await updateUser(db, user.id, { passwordHash: await hashPassword(request.body.new_password) }, context.now());
      return reply.status(200).send({});
    },
  );

  app.get<{ Params: IdParams }>('/api/v1/users/:id/roles', { schema: { tags: TAGS, params: ID_PARAMS }, preHandler: [requireRole('root')] }, async (request) => {
    const user = await getUser(db, request.params.id);
    return [user.role];
  });

  // One role per user: adding root promotes, removing root leaves a guest; every user is a guest.
  app.put<{ Params: IdParams & { role: Role } }>('/api/v1/users/:id/roles/:role', { schema: { tags: TAGS, params: ROLE_PARAMS }, preHandler: [requireRole('root')] }, async (request) => {
    const { id, role } = request.params;
    if (role === 'guest') await keepOneRoot(context, id, 'demote');
    return userView(await updateUser(db, id, { role }, context.now()));
  });

  app.delete<{ Params: IdParams & { role: Role } }>('/api/v1/users/:id/roles/:role', { schema: { tags: TAGS, params: ROLE_PARAMS }, preHandler: [requireRole('root')] }, async (request) => {
    const { id, role } = request.params;
    const user = await getUser(db, id);
    if (role === 'guest') throw new ConflictError('every user has the guest role; delete the user instead');
    if (user.role !== role) throw new RecordNotFoundError(`role ${role} of user ${id}`);
    await keepOneRoot(context, id, 'demote');
    return userView(await updateUser(db, id, { role: 'guest' }, context.now()));
  });
}

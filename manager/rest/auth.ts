/**
 * Who is calling. `/api/v1/*` takes a JWT (HS256, signed with a key every replica shares through
 * the database) from `Authorization: Bearer` or the HttpOnly `jwt` cookie the sign-in sets;
 * `/oapi/v1/*` takes a personal access token as `Authorization: Bearer dfp_...` (what Harbor's
 * provider sends). The preHandlers only decide; they throw UnauthenticatedError (401) or
 * ForbiddenError (403) and the app's one error handler answers.
 *
 * Usage in a route plugin:
 *   app.get('/api/v1/x', { preHandler: [authenticate] }, ...)            any signed-in user
 *   app.post('/api/v1/x', { preHandler: [requireRole('root')] }, ...)    root only
 *   app.post('/oapi/v1/x', { preHandler: [requirePat('job')] }, ...)     a PAT with scope job
 * and `principalOf(request)` in the handler.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { jwtVerify, SignJWT } from 'jose';
import { PAT_PREFIX, hashPat } from '../credentials.ts';
import type { ManagerContext } from '../context.ts';
import { ForbiddenError, UnauthenticatedError } from '../errors.ts';
import { getOrCreateSecret } from '../store/secrets.ts';
import { findTokenByHash, tokenScopes, touchToken, type PatScope } from '../store/tokens.ts';
import { findUserById, type Role } from '../store/users.ts';

export type Principal =
  | { readonly kind: 'user'; readonly userId: number; readonly name: string; readonly role: Role }
  | { readonly kind: 'pat'; readonly tokenId: number; readonly userId: number; readonly scopes: readonly string[] };

declare module 'fastify' {
  interface FastifyInstance {
    managerContext: ManagerContext;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export const SESSION_COOKIE = 'jwt';
const JWT_SECRET_NAME = 'jwt_hs256';
const JWT_ALG = 'HS256';

/** Gives the preHandlers the manager's context; buildApp calls it before registering routes. */
export function installAuth(app: FastifyInstance, context: ManagerContext): void {
  app.decorate('managerContext', context);
  app.decorateRequest('principal', null);
}

// One read of the shared key per manager; a rejected read is not kept, so the next request retries.
const signingKeys = new WeakMap<ManagerContext, Promise<Uint8Array>>();

function signingKey(context: ManagerContext): Promise<Uint8Array> {
  let key = signingKeys.get(context);
  if (!key) {
    key = getOrCreateSecret(context.store.db, JWT_SECRET_NAME, () => randomBytes(32).toString('base64url'), context.now()).then((value) =>
      Buffer.from(value, 'base64url'),
    );
    key.catch(() => signingKeys.delete(context));
    signingKeys.set(context, key);
  }
  return key;
}

export interface IssuedToken {
  readonly token: string;
  /** ISO time the token stops working, as Dragonfly's `expire`. */
  readonly expire: string;
  readonly maxAgeSeconds: number;
}

/** A sign-in token for `user`, living `auth.tokenTTL`. */
export async function issueToken(context: ManagerContext, user: { id: number; name: string }): Promise<IssuedToken> {
  const nowSeconds = Math.floor(context.now() / 1000);
  const maxAgeSeconds = Math.max(1, Math.floor(context.config.auth.tokenTTL / 1000));
  const token = await new SignJWT({ name: user.name })
    .setProtectedHeader({ alg: JWT_ALG })
    .setSubject(String(user.id))
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + maxAgeSeconds)
    .sign(await signingKey(context));
  return { token, expire: new Date((nowSeconds + maxAgeSeconds) * 1000).toISOString(), maxAgeSeconds };
}

/**
 * The session cookie: HttpOnly so page scripts cannot read it, SameSite=Strict so other sites
 * cannot send it. Not `Secure`: the manager serves plain HTTP (TLS, when used, ends in front of it).
 */
export function setSessionCookie(reply: FastifyReply, issued: IssuedToken): void {
  void reply.header('set-cookie', `${SESSION_COOKIE}=${issued.token}; Path=/; Max-Age=${issued.maxAgeSeconds}; HttpOnly; SameSite=Strict`);
}

export function clearSessionCookie(reply: FastifyReply): void {
  void reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict`);
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new UnauthenticatedError('the Authorization header must be "Bearer <token>"');
  return match[1];
}

function cookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) {
      const value = part.slice(at + 1).trim();
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

async function verifyJwt(context: ManagerContext, token: string): Promise<number> {
  try {
    const { payload } = await jwtVerify(token, await signingKey(context), {
      algorithms: [JWT_ALG],
      currentDate: new Date(context.now()),
    });
    const id = Number(payload.sub);
    if (!Number.isSafeInteger(id)) throw new Error('no subject');
    return id;
  } catch (error) {
    if (error instanceof UnauthenticatedError) throw error;
    // jose says why (expired, bad signature, malformed); the caller only needs to sign in again.
    throw new UnauthenticatedError('the sign-in token is invalid or expired; sign in again');
  }
}

/** preHandler: a signed-in user, by JWT in `Authorization: Bearer` or the `jwt` cookie. */
export async function authenticate(request: FastifyRequest): Promise<void> {
  const context = request.server.managerContext;
  const token = bearer(request) ?? cookie(request, SESSION_COOKIE);
  if (token === undefined) throw new UnauthenticatedError('sign in first: no token in Authorization or the jwt cookie');
  if (token.startsWith(PAT_PREFIX)) throw new UnauthenticatedError('personal access tokens are for /oapi/v1; sign in for /api/v1');
  const id = await verifyJwt(context, token);
  // Read the user on every request: a deleted, disabled or demoted user loses access at once.
  const user = await findUserById(context.store.db, id);
  if (!user || user.state !== 'enable') throw new UnauthenticatedError('the user of this token no longer exists or is disabled');
  request.principal = { kind: 'user', userId: user.id, name: user.name, role: user.role as Role };
}

/** preHandler: a signed-in user with `role` (`guest` = any user); authenticates first when needed. */
export function requireRole(role: Role): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    if (request.principal === null) await authenticate(request);
    const principal = request.principal;
    if (principal?.kind !== 'user') throw new ForbiddenError('this needs a signed-in user');
    if (role === 'root' && principal.role !== 'root') throw new ForbiddenError('this needs the root role');
  };
}

/** preHandler: a personal access token that is active, unexpired, of an enabled user, with `scope`. */
export function requirePat(scope: PatScope): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    const context = request.server.managerContext;
    const token = bearer(request);
    if (token === undefined || !token.startsWith(PAT_PREFIX)) {
      throw new UnauthenticatedError(`this needs a personal access token as "Authorization: Bearer ${PAT_PREFIX}..."`);
    }
    const row = await findTokenByHash(context.store.db, hashPat(token));
    if (!row) throw new UnauthenticatedError('unknown personal access token');
    if (row.state !== 'active') throw new UnauthenticatedError('the personal access token is revoked');
    const now = context.now();
    if (row.expired_at <= now) throw new UnauthenticatedError('the personal access token has expired');
    if (row.user_state !== 'enable') throw new UnauthenticatedError('the owner of this personal access token is disabled');
    const scopes = tokenScopes(row);
    if (!scopes.includes(scope)) throw new ForbiddenError(`the personal access token lacks the ${scope} scope`);
    await touchToken(context.store.db, row.id, now);
    request.principal = { kind: 'pat', tokenId: row.id, userId: row.user_id, scopes };
  };
}

/** The caller a preHandler established; throws when a route forgot its preHandler. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new UnauthenticatedError('no credentials were checked for this route');
  return request.principal;
}

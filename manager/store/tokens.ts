/**
 * Personal access tokens. A row holds the token's sha256 and a short display prefix, never the
 * token: `createToken` returns the token once, for the creator's answer, and nothing can read it
 * again. Lists and gets carry `tokenView`, which has neither token nor hash.
 */
import type { Kysely } from 'kysely';
import { RecordNotFoundError } from '../errors.ts';
import { newPat } from '../credentials.ts';
import type { Database, PersonalAccessToken } from './schema.ts';
import { parseJson, type Page, type Paged } from './query.ts';

export const PAT_SCOPES = ['job', 'cluster'] as const;
export type PatScope = (typeof PAT_SCOPES)[number];
export const PAT_STATES = ['active', 'inactive'] as const;

export interface TokenView {
  id: number;
  name: string;
  bio: string | null;
  prefix: string;
  scopes: string[];
  state: string;
  expired_at: string;
  last_used_at: string | null;
  user_id: number;
  created_at: string;
  updated_at: string;
}

export function tokenScopes(row: PersonalAccessToken): string[] {
  const scopes = parseJson<unknown>(row.scopes, []);
  return Array.isArray(scopes) ? scopes.filter((scope): scope is string => typeof scope === 'string') : [];
}

export function tokenView(row: PersonalAccessToken): TokenView {
  return {
    id: row.id,
    name: row.name,
    bio: row.bio,
    prefix: row.prefix,
    scopes: tokenScopes(row),
    state: row.state,
    expired_at: new Date(row.expired_at).toISOString(),
    last_used_at: row.last_used_at === null ? null : new Date(row.last_used_at).toISOString(),
    user_id: row.user_id,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

export interface NewTokenInput {
  readonly name: string;
  readonly bio?: string | null | undefined;
  readonly scopes: readonly PatScope[];
  readonly expiredAt: number;
  readonly userId: number;
}

/** The stored row and the token itself, which exists only in this return value. */
export async function createToken(db: Kysely<Database>, input: NewTokenInput, now: number): Promise<{ row: PersonalAccessToken; token: string }> {
  const pat = newPat();
  const row = await db
    .insertInto('personal_access_tokens')
    .values({
      name: input.name,
      bio: input.bio ?? null,
      prefix: pat.prefix,
      token_hash: pat.hash,
      scopes: JSON.stringify([...new Set(input.scopes)]),
      state: 'active',
      expired_at: input.expiredAt,
      last_used_at: null,
      user_id: input.userId,
      created_at: now,
      updated_at: now,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { row, token: pat.token };
}

export async function findTokenByHash(db: Kysely<Database>, hash: string): Promise<(PersonalAccessToken & { user_state: string }) | undefined> {
  return db
    .selectFrom('personal_access_tokens')
    .innerJoin('users', 'users.id', 'personal_access_tokens.user_id')
    .selectAll('personal_access_tokens')
    .select('users.state as user_state')
    .where('personal_access_tokens.token_hash', '=', hash)
    .executeTakeFirst();
}

export async function touchToken(db: Kysely<Database>, id: number, now: number): Promise<void> {
  await db.updateTable('personal_access_tokens').set({ last_used_at: now }).where('id', '=', id).execute();
}

export async function getToken(db: Kysely<Database>, id: number): Promise<PersonalAccessToken> {
  const row = await db.selectFrom('personal_access_tokens').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new RecordNotFoundError(`personal access token ${id}`);
  return row;
}

export interface TokenFilter {
  readonly userId?: number | undefined;
  readonly state?: string | undefined;
}

export async function listTokens(db: Kysely<Database>, filter: TokenFilter, page: Page): Promise<Paged<PersonalAccessToken>> {
  let query = db.selectFrom('personal_access_tokens');
  if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
  if (filter.state !== undefined) query = query.where('state', '=', filter.state);
  const [items, count] = await Promise.all([
    query.selectAll().orderBy('id').limit(page.limit).offset(page.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
  ]);
  return { items, total: Number(count.total) };
}

export interface TokenChanges {
  readonly name?: string | undefined;
  readonly bio?: string | null | undefined;
  readonly scopes?: readonly PatScope[] | undefined;
  readonly state?: string | undefined;
  readonly expiredAt?: number | undefined;
}

export async function updateToken(db: Kysely<Database>, id: number, changes: TokenChanges, now: number): Promise<PersonalAccessToken> {
  const row = await db
    .updateTable('personal_access_tokens')
    .set({
      updated_at: now,
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(changes.bio !== undefined ? { bio: changes.bio } : {}),
      ...(changes.scopes !== undefined ? { scopes: JSON.stringify([...new Set(changes.scopes)]) } : {}),
      ...(changes.state !== undefined ? { state: changes.state } : {}),
      ...(changes.expiredAt !== undefined ? { expired_at: changes.expiredAt } : {}),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new RecordNotFoundError(`personal access token ${id}`);
  return row;
}

export async function deleteToken(db: Kysely<Database>, id: number): Promise<void> {
  const result = await db.deleteFrom('personal_access_tokens').where('id', '=', id).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw new RecordNotFoundError(`personal access token ${id}`);
}

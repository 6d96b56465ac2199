/**
 * Users and their role (root or guest). Password hashes never leave this file's rows for the API:
 * `userView` is what answers carry.
 */
import type { Kysely } from 'kysely';
import { RecordExistsError, RecordNotFoundError } from '../errors.ts';
import type { Database, User } from './schema.ts';
import { isUniqueViolation, type Page, type Paged } from './query.ts';

export const ROLES = ['root', 'guest'] as const;
export type Role = (typeof ROLES)[number];
export const USER_STATES = ['enable', 'disable'] as const;

export interface UserView {
  id: number;
  name: string;
  email: string | null;
  role: string;
  state: string;
  created_at: string;
  updated_at: string;
}

export function userView(row: User): UserView {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    role: row.role,
    state: row.state,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

export interface NewUserInput {
  readonly name: string;
  readonly email?: string | null | undefined;
  readonly passwordHash: string;
  readonly role: Role;
}

export async function createUser(db: Kysely<Database>, input: NewUserInput, now: number): Promise<User> {
  try {
    return await db
      .insertInto('users')
      .values({ name: input.name, email: input.email ?? null, password_hash: input.passwordHash, role: input.role, state: 'enable', created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (error) {
    if (isUniqueViolation(error)) throw new RecordExistsError(`user ${JSON.stringify(input.name)}`);
    throw error;
  }
}

export async function findUserById(db: Kysely<Database>, id: number): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findUserByName(db: Kysely<Database>, name: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function getUser(db: Kysely<Database>, id: number): Promise<User> {
  const row = await findUserById(db, id);
  if (!row) throw new RecordNotFoundError(`user ${id}`);
  return row;
}

export interface UserFilter {
  readonly name?: string | undefined;
  readonly role?: string | undefined;
  readonly state?: string | undefined;
}

export async function listUsers(db: Kysely<Database>, filter: UserFilter, page: Page): Promise<Paged<User>> {
  let query = db.selectFrom('users');
  if (filter.name !== undefined) query = query.where('name', '=', filter.name);
  if (filter.role !== undefined) query = query.where('role', '=', filter.role);
  if (filter.state !== undefined) query = query.where('state', '=', filter.state);
  const [items, count] = await Promise.all([
    query.selectAll().orderBy('id').limit(page.limit).offset(page.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
  ]);
  return { items, total: Number(count.total) };
}

export interface UserChanges {
  readonly email?: string | null | undefined;
  readonly state?: string | undefined;
  readonly role?: Role | undefined;
  readonly passwordHash?: string | undefined;
}

export async function updateUser(db: Kysely<Database>, id: number, changes: UserChanges, now: number): Promise<User> {
  const row = await db
    .updateTable('users')
    .set({
      updated_at: now,
      ...(changes.email !== undefined ? { email: changes.email } : {}),
      ...(changes.state !== undefined ? { state: changes.state } : {}),
      ...(changes.role !== undefined ? { role: changes.role } : {}),
      ...(changes.passwordHash !== undefined ? { password_hash: changes.passwordHash } : {}),
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new RecordNotFoundError(`user ${id}`);
  return row;
}

export async function deleteUser(db: Kysely<Database>, id: number): Promise<void> {
  const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw new RecordNotFoundError(`user ${id}`);
}

/** Enabled root users other than `exceptId`: the last one may not be demoted, disabled or deleted. */
export async function countOtherRoots(db: Kysely<Database>, exceptId: number): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('total'))
    .where('role', '=', 'root')
    .where('state', '=', 'enable')
    .where('id', '!=', exceptId)
    .executeTakeFirstOrThrow();
  return Number(row.total);
}

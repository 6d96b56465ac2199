/** Configs: named values an operator keeps in the manager (`{name, value, bio}`). */
import type { Kysely } from 'kysely';
import { RecordExistsError, RecordNotFoundError } from '../errors.ts';
import { isUniqueViolation, type Page, type Paged } from './query.ts';
import type { Config, Database } from './schema.ts';

export interface ConfigView {
  id: number;
  name: string;
  value: string;
  bio: string | null;
  user_id: number | null;
  created_at: string;
  updated_at: string;
}

export function configView(row: Config): ConfigView {
  return {
    id: row.id,
    name: row.name,
    value: row.value,
    bio: row.bio,
    user_id: row.user_id,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

export interface ConfigInput {
  readonly name?: string | undefined;
  readonly value?: string | undefined;
  readonly bio?: string | null | undefined;
}

export async function createConfig(db: Kysely<Database>, input: ConfigInput & { name: string; value: string }, userId: number, now: number): Promise<Config> {
  try {
    return await db
      .insertInto('configs')
      .values({ name: input.name, value: input.value, bio: input.bio ?? null, user_id: userId, created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (error) {
    if (isUniqueViolation(error)) throw new RecordExistsError(`config ${JSON.stringify(input.name)}`);
    throw error;
  }
}

export async function getConfig(db: Kysely<Database>, id: number): Promise<Config> {
  const row = await db.selectFrom('configs').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new RecordNotFoundError(`config ${id}`);
  return row;
}

export async function listConfigs(db: Kysely<Database>, filter: { name?: string | undefined }, page: Page): Promise<Paged<Config>> {
  let query = db.selectFrom('configs');
  if (filter.name !== undefined) query = query.where('name', '=', filter.name);
  const [items, count] = await Promise.all([
    query.selectAll().orderBy('id').limit(page.limit).offset(page.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
  ]);
  return { items, total: Number(count.total) };
}

export async function updateConfig(db: Kysely<Database>, id: number, input: ConfigInput, now: number): Promise<Config> {
  try {
    const row = await db
      .updateTable('configs')
      .set({
        updated_at: now,
        ...(input.name !== undefined && { name: input.name }),
        ...(input.value !== undefined && { value: input.value }),
        ...(input.bio !== undefined && { bio: input.bio }),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new RecordNotFoundError(`config ${id}`);
    return row;
  } catch (error) {
    if (isUniqueViolation(error)) throw new RecordExistsError(`config ${JSON.stringify(input.name)}`);
    throw error;
  }
}

export async function deleteConfig(db: Kysely<Database>, id: number): Promise<void> {
  const result = await db.deleteFrom('configs').where('id', '=', id).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw new RecordNotFoundError(`config ${id}`);
}

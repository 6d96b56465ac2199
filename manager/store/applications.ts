/** Applications: a name and URL with a download priority, and per-URL-regex priorities. */
import type { Kysely } from 'kysely';
import { RecordExistsError, RecordNotFoundError } from '../errors.ts';
import { isUniqueViolation, parseJson, type Page, type Paged } from './query.ts';
import type { Application, Database } from './schema.ts';

export interface Priority {
  value: number;
  urls?: Array<{ regex: string; value: number }>;
}

export interface ApplicationView {
  id: number;
  name: string;
  url: string;
  bio: string | null;
  priority: Priority;
  user_id: number | null;
  created_at: string;
  updated_at: string;
}

export function applicationView(row: Application): ApplicationView {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    bio: row.bio,
    priority: parseJson<Priority>(row.priority, { value: 0, urls: [] }),
    user_id: row.user_id,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

export interface ApplicationInput {
  readonly name?: string | undefined;
  readonly url?: string | undefined;
  readonly bio?: string | null | undefined;
  readonly priority?: Priority | undefined;
}

export async function createApplication(db: Kysely<Database>, input: ApplicationInput & { name: string; url: string; priority: Priority }, userId: number, now: number): Promise<Application> {
  try {
    return await db
      .insertInto('applications')
      .values({ name: input.name, url: input.url, bio: input.bio ?? null, priority: JSON.stringify({ urls: [], ...input.priority }), user_id: userId, created_at: now, updated_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
  } catch (error) {
    if (isUniqueViolation(error)) throw new RecordExistsError(`application ${JSON.stringify(input.name)}`);
    throw error;
  }
}

export async function getApplication(db: Kysely<Database>, id: number): Promise<Application> {
  const row = await db.selectFrom('applications').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new RecordNotFoundError(`application ${id}`);
  return row;
}

export async function listApplicationsPage(db: Kysely<Database>, filter: { name?: string | undefined }, page: Page): Promise<Paged<Application>> {
  let query = db.selectFrom('applications');
  if (filter.name !== undefined) query = query.where('name', '=', filter.name);
  const [items, count] = await Promise.all([
    query.selectAll().orderBy('id').limit(page.limit).offset(page.offset).execute(),
    query.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow(),
  ]);
  return { items, total: Number(count.total) };
}

export async function updateApplication(db: Kysely<Database>, id: number, input: ApplicationInput, now: number): Promise<Application> {
  try {
    const row = await db
      .updateTable('applications')
      .set({
        updated_at: now,
        ...(input.name !== undefined && { name: input.name }),
        ...(input.url !== undefined && { url: input.url }),
        ...(input.bio !== undefined && { bio: input.bio }),
        ...(input.priority !== undefined && { priority: JSON.stringify({ urls: [], ...input.priority }) }),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new RecordNotFoundError(`application ${id}`);
    return row;
  } catch (error) {
    if (isUniqueViolation(error)) throw new RecordExistsError(`application ${JSON.stringify(input.name)}`);
    throw error;
  }
}

export async function deleteApplication(db: Kysely<Database>, id: number): Promise<void> {
  const result = await db.deleteFrom('applications').where('id', '=', id).executeTakeFirst();
  if (Number(result.numDeletedRows) === 0) throw new RecordNotFoundError(`application ${id}`);
}

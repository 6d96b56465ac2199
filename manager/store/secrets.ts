/**
 * Secrets the manager makes for itself (the JWT signing key). Every replica on one PostgreSQL must
 * use the same value, so the first one to start inserts it and the others, racing or later, keep
 * whatever row won: insert-if-absent, then read back.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

/** The secret `name`, created with `make()` when no replica has created it yet. */
export async function getOrCreateSecret(db: Kysely<Database>, name: string, make: () => string, now: number): Promise<string> {
  const existing = await db.selectFrom('manager_secrets').select('value').where('name', '=', name).executeTakeFirst();
  if (existing) return existing.value;
  await db
    .insertInto('manager_secrets')
    .values({ name, value: make(), created_at: now })
    .onConflict((conflict) => conflict.column('name').doNothing())
    .execute();
  const row = await db.selectFrom('manager_secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow();
  return row.value;
}

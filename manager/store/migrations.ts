/**
 * The schema's history, applied in order by Kysely's Migrator at start (several managers on one
 * PostgreSQL take its lock in turn). One DDL for both databases: the only difference is how an
 * integer id is generated, which `id` below hides.
 */
import { type CreateTableBuilder, type Kysely, type Migration, type MigrationProvider } from 'kysely';

export type DatabaseKind = 'sqlite' | 'postgres';

function id<T extends string>(kind: DatabaseKind, table: CreateTableBuilder<T, never>): CreateTableBuilder<T, 'id'> {
  return kind === 'postgres'
    ? table.addColumn('id', 'serial', (column) => column.primaryKey())
    : table.addColumn('id', 'integer', (column) => column.primaryKey().autoIncrement());
}

function initial(kind: DatabaseKind): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await id(kind, db.schema.createTable('users'))
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('email', 'text')
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await id(kind, db.schema.createTable('personal_access_tokens'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('bio', 'text')
        .addColumn('prefix', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('expired_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await id(kind, db.schema.createTable('scheduler_clusters'))
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('bio', 'text')
        .addColumn('config', 'text', (c) => c.notNull())
        .addColumn('client_config', 'text', (c) => c.notNull())
        .addColumn('seed_client_config', 'text', (c) => c.notNull())
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await id(kind, db.schema.createTable('schedulers'))
        .addColumn('hostname', 'text', (c) => c.notNull())
        .addColumn('ip', 'text', (c) => c.notNull())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('idc', 'text')
        .addColumn('location', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('features', 'text', (c) => c.notNull())
        .addColumn('scheduler_cluster_id', 'integer', (c) => c.notNull().references('scheduler_clusters.id').onDelete('cascade'))
        .addColumn('last_keepalive_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('schedulers_host_cluster', ['hostname', 'ip', 'scheduler_cluster_id'])
        .execute();
      await id(kind, db.schema.createTable('hosts'))
        .addColumn('host_id', 'text', (c) => c.notNull().unique())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('hostname', 'text', (c) => c.notNull())
        .addColumn('ip', 'text', (c) => c.notNull())
        .addColumn('port', 'integer', (c) => c.notNull())
        .addColumn('download_port', 'integer', (c) => c.notNull())
        .addColumn('idc', 'text')
        .addColumn('location', 'text')
        .addColumn('version', 'text')
        .addColumn('scheduler_cluster_id', 'integer', (c) => c.notNull().references('scheduler_clusters.id').onDelete('cascade'))
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('stats', 'text', (c) => c.notNull())
        .addColumn('first_seen_at', 'bigint', (c) => c.notNull())
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        .execute();
      await id(kind, db.schema.createTable('applications'))
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('bio', 'text')
        .addColumn('priority', 'text', (c) => c.notNull())
        .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await id(kind, db.schema.createTable('configs'))
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('bio', 'text')
        .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await id(kind, db.schema.createTable('jobs'))
        .addColumn('task_id', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('args', 'text', (c) => c.notNull())
        .addColumn('result', 'text', (c) => c.notNull())
        .addColumn('progress', 'text', (c) => c.notNull())
        .addColumn('scheduler_cluster_ids', 'text', (c) => c.notNull())
        .addColumn('user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
        .addColumn('timeout_ms', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('job_secrets')
        .addColumn('job_id', 'integer', (c) => c.primaryKey().references('jobs.id').onDelete('cascade'))
        .addColumn('ciphertext', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await id(kind, db.schema.createTable('job_tasks'))
        .addColumn('job_id', 'integer', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
        .addColumn('scheduler_cluster_id', 'integer', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', 'bigint')
        .addColumn('error', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('job_tasks_claim').on('job_tasks').columns(['state', 'lease_until']).execute();
      await db.schema
        .createTable('task_index')
        .addColumn('task_id', 'text', (c) => c.primaryKey())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('digest', 'text')
        .addColumn('content_length', 'bigint')
        .addColumn('hosts', 'text', (c) => c.notNull())
        .addColumn('bytes_by_source', 'text', (c) => c.notNull())
        .addColumn('first_seen_at', 'bigint', (c) => c.notNull())
        .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
        .execute();
      // Secrets the manager makes for itself (the JWT signing key), shared by every replica.
      await db.schema
        .createTable('manager_secrets')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('task_index_url').on('task_index').column('url').execute();
      await db.schema.createIndex('task_index_digest').on('task_index').column('digest').execute();
    },
  };
}

/** Every migration, by name; names sort in the order they apply. */
export function migrations(kind: DatabaseKind): MigrationProvider {
  return { getMigrations: async () => ({ '0001_initial': initial(kind) }) };
}

/**
 * The manager's database on both stores it supports: the embedded node:sqlite file and a real
 * PostgreSQL started by the test. The same migrations and queries must behave the same on both.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, redactUrl, type Store } from '../../manager/index.ts';
import { postgresSkipReason, startPostgres, type PostgresServer } from '../support/postgres.ts';

type Open = (name: string) => Promise<Store>;

function storeTests(open: Open): void {
  test('migrations create every table; a second open migrates nothing and keeps the rows', async () => {
    const first = await open('reopen');
    const now = Date.now();
    await first.db
      .insertInto('scheduler_clusters')
      .values({ name: 'default', bio: null, config: '{}', client_config: '{}', seed_client_config: '{}', scopes: '{}', is_default: 1, created_at: now, updated_at: now })
      .execute();
    await first.close();
    const again = await open('reopen');
    try {
      const rows = await again.db.selectFrom('scheduler_clusters').selectAll().execute();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.is_default, 1);
      assert.equal(rows[0]!.created_at, now, 'a bigint time reads back as the same number');
      for (const table of ['users', 'personal_access_tokens', 'schedulers', 'hosts', 'applications', 'configs', 'jobs', 'job_secrets', 'job_tasks', 'task_index', 'manager_secrets'] as const) {
        assert.deepEqual(await again.db.selectFrom(table).selectAll().execute(), [], table);
      }
    } finally {
      await again.close();
    }
  });

  test('unique names and foreign keys are enforced', async () => {
    const store = await open('constraints');
    try {
      const now = Date.now();
      const cluster = { name: 'c', bio: null, config: '{}', client_config: '{}', seed_client_config: '{}', scopes: '{}', is_default: 0, created_at: now, updated_at: now };
      const { id } = await store.db.insertInto('scheduler_clusters').values(cluster).returning('id').executeTakeFirstOrThrow();
      await assert.rejects(store.db.insertInto('scheduler_clusters').values(cluster).execute(), 'a second cluster named c');
      const scheduler = { hostname: 's', ip: '127.0.0.1', port: 8002, idc: null, location: null, state: 'active', features: '[]', last_keepalive_at: now, created_at: now, updated_at: now };
      await store.db.insertInto('schedulers').values({ ...scheduler, scheduler_cluster_id: id }).execute();
      await assert.rejects(store.db.insertInto('schedulers').values({ ...scheduler, scheduler_cluster_id: id + 1000 }).execute(), 'a scheduler of a cluster that does not exist');
      await store.db.deleteFrom('scheduler_clusters').where('id', '=', id).execute();
      assert.deepEqual(await store.db.selectFrom('schedulers').selectAll().execute(), [], 'a cluster takes its schedulers with it');
    } finally {
      await store.close();
    }
  });
}

describe('node:sqlite', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'df-manager-store-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  storeTests((name) => openStore(`sqlite:${name}.db`, dir));

  test('an empty database.url is a file in the data dir', async () => {
    const store = await openStore('', dir);
    assert.equal(store.kind, 'sqlite');
    assert.match(store.description, /manager\.db$/);
    await store.close();
  });

  test('an unknown scheme is refused naming database.url, without the password', async () => {
    await assert.rejects(openStore('mysql://root:hunter2@127.0.0.1/x', dir), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'DF_ERR_INVALID_ARGUMENT');
      assert.match(error.message, /database\.url/);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    });
  });
});

const skipPostgres = postgresSkipReason();
describe.skipIf(skipPostgres)('PostgreSQL', () => {
  let server: PostgresServer;
  const urls = new Map<string, string>();
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });
  storeTests(async (name) => {
    let url = urls.get(name);
    if (!url) {
      url = await server.createDatabase(name);
      urls.set(name, url);
    }
    const store = await openStore(url, '/nonexistent');
    assert.equal(store.kind, 'postgres');
    return store;
  });

  test('a database that cannot be reached fails with DF_ERR_MANAGER_STORE, the password redacted', async () => {
    const url = `postgres://postgres:s3cret@127.0.0.1:${server.port}/no_such_database`;
    await assert.rejects(openStore(url, '/nonexistent'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'DF_ERR_MANAGER_STORE');
      assert.doesNotMatch(error.message, /s3cret/);
      return true;
    });
    assert.equal(redactUrl(url).includes('s3cret'), false);
  });
});

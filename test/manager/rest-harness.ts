/**
 * The manager's REST API over a real store for the rest-*.test.ts files: the same suite runs on
 * node:sqlite (a temp dir) and on a throwaway PostgreSQL (test/support/postgres.ts). Requests go
 * through `app.inject()`; the clock is the test's, so token expiry needs no waiting.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { createLogger, MetricsRegistry } from '../../api/index.ts';
import { bootstrap, buildApp, openStore, RESOURCE_ROUTES, resolveManagerConfig, type ManagerContext, type Store } from '../../manager/index.ts';
import { postgresSkipReason, startPostgres, type PostgresServer } from '../support/postgres.ts';

export const ROOT_PASSWORD = 'root-password-for-tests';

/** Opens a fresh, empty database named `name` on the store under test. */
export type OpenStore = (name: string) => Promise<Store>;

export interface Clock {
  now: number;
}

export interface Manager {
  readonly app: FastifyInstance;
  readonly context: ManagerContext;
  readonly clock: Clock;
  /** Every log line written, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  request(method: string, url: string, options?: { token?: string; body?: unknown; cookie?: string }): Promise<LightMyRequestResponse>;
  signIn(name: string, password: string): Promise<string>;
  close(): Promise<void>;
}

export interface ManagerOptions {
  readonly config?: Record<string, unknown>;
  readonly env?: Record<string, string | undefined>;
  /** Reuse this store (a second replica or a restart) instead of opening one. */
  readonly store?: Store;
}

/** A manager (bootstrap + app) over `store`; the config sets the root password unless `config.auth` is given. */
export async function startManagerOver(store: Store, options: ManagerOptions = {}): Promise<Manager> {
  const config = resolveManagerConfig({ auth: { rootPassword: ROOT_PASSWORD }, ...options.config });
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger('debug', (line) => void logs.push(JSON.parse(line) as Record<string, unknown>));
  const clock: Clock = { now: Date.UTC(2030, 0, 1) };
  const context: ManagerContext = { config, store, log, metrics: new MetricsRegistry(), now: () => clock.now };
  await bootstrap(context, { env: options.env ?? {} });
  const app = await buildApp(context, { routes: RESOURCE_ROUTES });
  const request: Manager['request'] = (method, url, { token, body, cookie } = {}) =>
    app.inject({
      method: method as 'GET',
      url,
      headers: { ...(token !== undefined && { authorization: `Bearer ${token}` }), ...(cookie !== undefined && { cookie }) },
      ...(body !== undefined && { payload: body as object }),
    });
  const signIn = async (name: string, password: string): Promise<string> => {
    const response = await request('POST', '/api/v1/users/signin', { body: { name, password } });
    assert.equal(response.statusCode, 200, response.body);
    return (response.json() as { token: string }).token;
  };
  return { app, context, clock, logs, request, signIn, close: () => app.close() };
}

/** Runs `suite` once on node:sqlite and once on PostgreSQL (skipped loudly without it). */
export function onBothStores(suite: (open: OpenStore) => void): void {
  describe('node:sqlite', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'df-manager-rest-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });
    suite((name) => openStore(`sqlite:${name}.db`, dir));
  });

  describe.skipIf(postgresSkipReason())('PostgreSQL', () => {
    let server: PostgresServer;
    beforeAll(async () => {
      server = await startPostgres();
    });
    afterAll(async () => {
      if (server) await waitForNoSessions(server);
      await server?.stop();
    });
    let count = 0;
    suite(async (name) => openStore(await server.createDatabase(`${name.replaceAll('-', '_')}_${++count}`), '/nonexistent'));
  });
}

/**
 * A closed pool has sent its Terminate messages but its server sessions may still be ending; a
 * fast shutdown in that moment makes pg emit an uncaught 57P01 on the closing client. Wait until
 * only this check's own session is left (at most 2 s).
 */
async function waitForNoSessions(server: PostgresServer): Promise<void> {
  const client = new pg.Client({ connectionString: server.url('postgres') });
  await client.connect();
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      const { rows } = await client.query<{ n: number }>("select count(*)::int as n from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()");
      if (rows[0]!.n === 0) return;
      await sleep(20);
    }
  } finally {
    await client.end();
  }
}

/**
 * Waking the job runners when work is added. Runners in this process are called directly; on
 * PostgreSQL other replicas hear it through NOTIFY on one channel, each holding one LISTEN
 * connection of its own (a pooled connection would drop the LISTEN when returned).
 */
import { sql } from 'kysely';
import type { Logger } from '../../api/index.ts';
import type { Store } from '../store/database.ts';

export const JOBS_CHANNEL = 'df_jobs';

const local = new WeakMap<Store, Set<() => void>>();

export interface JobListener {
  close(): Promise<void>;
}

/** Tells every runner on this database that there is work. */
export async function notifyJobs(store: Store): Promise<void> {
  for (const wake of local.get(store) ?? []) wake();
  if (store.kind === 'postgres') await sql`select pg_notify(${JOBS_CHANNEL}, '')`.execute(store.db);
}

export async function listenForJobs(store: Store, databaseUrl: string, wake: () => void, log: Logger): Promise<JobListener> {
  let wakers = local.get(store);
  if (!wakers) local.set(store, (wakers = new Set()));
  wakers.add(wake);
  let client: { end(): Promise<void> } | undefined;
  if (store.kind === 'postgres') {
    const pg = (await import('pg')).default;
    const listener = new pg.Client({ connectionString: databaseUrl });
    // A broken LISTEN connection only costs latency: the runner's poll still finds the work.
    listener.on('error', (error) => log.warn('job runner: LISTEN connection failed; polling only', { error: error.message }));
    listener.on('notification', () => wake());
    await listener.connect();
    await listener.query(`LISTEN ${JOBS_CHANNEL}`);
    client = listener;
  }
  return {
    async close() {
      wakers.delete(wake);
      await client?.end().catch(() => undefined);
    },
  };
}

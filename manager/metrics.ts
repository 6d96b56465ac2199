/**
 * The manager's `dragonfly_manager_*` metrics on the REST port's `/metrics`: requests by route and
 * status (counted as they are answered), and what the database holds (jobs by type and state,
 * active schedulers, seed peers and peers by cluster, the task index's size), read when
 * `/metrics` is scraped, so the numbers are those of every replica sharing the database.
 */
import type { FastifyInstance } from 'fastify';
import type { Counter, Gauge, MetricsRegistry } from '../api/index.ts';
import type { ManagerContext } from './context.ts';
import { countTaskIndex } from './store/task-index.ts';

const counters = new WeakMap<MetricsRegistry, Map<string, Counter>>();

/** The registry's counter `name`, registered by the first caller (several parts may count the same thing). */
export function sharedCounter(metrics: MetricsRegistry, name: string, help: string, labelNames: readonly string[] = []): Counter {
  let byName = counters.get(metrics);
  if (!byName) counters.set(metrics, (byName = new Map()));
  let counter = byName.get(name);
  if (!counter) byName.set(name, (counter = metrics.counter(name, help, labelNames)));
  return counter;
}

/** A scrape waits this long for the database before answering with the last numbers. */
export const METRICS_REFRESH_TIMEOUT_MS = 2_000;

export function metricsRoutes(app: FastifyInstance, context: ManagerContext): void {
  const { metrics, store } = context;
  const db = store.db;
  const requests = metrics.counter('dragonfly_manager_requests_total', 'REST requests answered, by method, route and status.', ['method', 'route', 'status']);
  const jobs = metrics.gauge('dragonfly_manager_jobs', 'Jobs in the database, by type and state.', ['type', 'state']);
  const schedulers = metrics.gauge('dragonfly_manager_schedulers_active', 'Active schedulers, by cluster.', ['cluster_id']);
  const seedPeers = metrics.gauge('dragonfly_manager_seed_peers_active', 'Active seed peers, by cluster.', ['cluster_id']);
  const peers = metrics.gauge('dragonfly_manager_peers_active', 'Active peers, by cluster.', ['cluster_id']);
  const taskIndex = metrics.gauge('dragonfly_manager_task_index_tasks', 'Tasks in the task index.');

  let last = new Map<string, { gauge: Gauge; labels: Record<string, string> }>();
  const refresh = async () => {
    const [jobRows, schedulerRows, hostRows, tasks] = await Promise.all([
      db.selectFrom('jobs').select(['type', 'state', (eb) => eb.fn.countAll<number>().as('n')]).groupBy(['type', 'state']).execute(),
      db.selectFrom('schedulers').select(['scheduler_cluster_id', (eb) => eb.fn.countAll<number>().as('n')]).where('state', '=', 'active').groupBy('scheduler_cluster_id').execute(),
      db.selectFrom('hosts').select(['type', 'scheduler_cluster_id', (eb) => eb.fn.countAll<number>().as('n')]).where('state', '=', 'active').groupBy(['type', 'scheduler_cluster_id']).execute(),
      countTaskIndex(db),
    ]);
    const next = new Map<string, { gauge: Gauge; labels: Record<string, string>; value: number }>();
    const put = (gauge: Gauge, labels: Record<string, string>, value: number) => next.set(`${gauge.name}${JSON.stringify(labels)}`, { gauge, labels, value });
    for (const row of jobRows) put(jobs, { type: row.type, state: row.state }, Number(row.n));
    for (const row of schedulerRows) put(schedulers, { cluster_id: String(row.scheduler_cluster_id) }, Number(row.n));
    for (const row of hostRows) put(row.type === 'seed' ? seedPeers : peers, { cluster_id: String(row.scheduler_cluster_id) }, Number(row.n));
    // Series that vanished from the database read 0 rather than their last value.
    for (const [key, series] of last) if (!next.has(key)) series.gauge.set(series.labels, 0);
    for (const series of next.values()) series.gauge.set(series.labels, series.value);
    last = next;
    taskIndex.set(undefined, tasks);
  };

  app.addHook('onRequest', async (request) => {
    if (request.url !== '/metrics') return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, METRICS_REFRESH_TIMEOUT_MS)));
    try {
      await Promise.race([refresh(), timeout]);
    } catch (error) {
      context.log.warn('metrics: cannot read the database; answering with the last numbers', { error });
    } finally {
      clearTimeout(timer);
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    // The route's pattern, not the URL: ids and queries would make a series per request.
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
  });
}

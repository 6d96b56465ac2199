/**
 * `GET /api/v1/events`: Server-Sent Events for the console, for any signed-in user (the `jwt`
 * cookie, which EventSource sends, or a Bearer token). Frames:
 *
 *   event: task   data: the task as GET /api/v1/tasks/:task_id answers it (changed tasks only)
 *   event: host   data: {host_id, hostname, ip, type, state, scheduler_cluster_id}
 *   event: job    data: {id, state, progress}
 *
 * and a `: ping` comment every 15 s. Each connection may hold `maxBufferBytes` unsent: a client
 * that reads slower than events come is dropped (EventSource reconnects by itself), so one slow
 * browser never grows the manager's memory.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { ManagerContext } from '../../context.ts';
import { eventBus, type ManagerEvent } from '../../events.ts';
import { jobView } from '../../jobs/service.ts';
import { requireRole } from '../auth.ts';

export const SSE_DEFAULTS = Object.freeze({
  heartbeatMs: 15_000,
  maxBufferBytes: 1024 * 1024,
  /** How often running jobs are looked at while someone listens (any replica may run them). */
  jobPollMs: 500,
  /** What EventSource waits before reconnecting. */
  retryMs: 2_000,
});

/** Jobs whose last event is remembered, to send only changes. */
const MAX_REMEMBERED_JOBS = 1_000;

function frame(event: ManagerEvent): string {
  const data = event.type === 'task' ? event.task : event.type === 'host' ? event.host : event.job;
  return `event: ${event.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Publishes `job` events for jobs whose row or tasks changed since the last look: progress lives
 * in job_tasks, written by whichever replica runs them, so the database is where changes show.
 */
function startJobRelay(context: ManagerContext, publish: (event: ManagerEvent) => void): () => void {
  const db = context.store.db;
  let since = context.now();
  let busy = false;
  const sent = new Map<number, string>();
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    const from = since;
    const now = context.now();
    void (async () => {
      const [jobs, tasks] = await Promise.all([
        db.selectFrom('jobs').select('id').where('updated_at', '>=', from).execute(),
        db.selectFrom('job_tasks').select('job_id').distinct().where('updated_at', '>=', from).execute(),
      ]);
      since = now;
      const ids = new Set([...jobs.map((row) => row.id), ...tasks.map((row) => row.job_id)]);
      for (const id of ids) {
        const job = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
        if (!job) continue;
        const view = await jobView(context, job);
        const event = { id: view.id, state: view.state, progress: view.progress };
        const text = JSON.stringify(event);
        // Only what changed: a lease renewal without progress touches the row but says nothing new.
        if (sent.get(id) === text) continue;
        sent.delete(id);
        sent.set(id, text);
        if (sent.size > MAX_REMEMBERED_JOBS) sent.delete(sent.keys().next().value!);
        publish({ type: 'job', job: event });
      }
    })()
      .catch((error: unknown) => context.log.warn('job events: cannot read jobs', { error }))
      .finally(() => (busy = false));
  }, SSE_DEFAULTS.jobPollMs);
  timer.unref();
  return () => clearInterval(timer);
}

export function eventRoutes(app: FastifyInstance, context: ManagerContext): void {
  const bus = eventBus(context.store);
  const open = new Set<ServerResponse>();
  const connections = context.metrics.gauge('dragonfly_manager_event_stream_connections', 'Open /api/v1/events connections.');
  const droppedSlow = context.metrics.counter('dragonfly_manager_event_stream_dropped_total', 'Event stream connections dropped because the client read too slowly.');
  // Jobs are looked at only while someone listens.
  let stopRelay: (() => void) | undefined;
  const jobRelay = (listening: boolean) => {
    if (listening && !stopRelay) stopRelay = startJobRelay(context, (event) => bus.publish(event));
    if (!listening && stopRelay) {
      stopRelay();
      stopRelay = undefined;
    }
  };

  app.get('/api/v1/events', { schema: { tags: ['events'] }, preHandler: [requireRole('guest')] }, (request, reply) => {
    const headers = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' };
    // HEAD has no body, so node would hold the headers back for a first write that never goes out.
    if (request.method === 'HEAD') return reply.headers(headers).send();
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, { ...headers, connection: 'keep-alive' });
    raw.write(`retry: ${SSE_DEFAULTS.retryMs}\n: connected\n\n`);
    open.add(raw);
    connections.set(undefined, open.size);
    const send = (text: string) => {
      if (raw.destroyed) return;
      if (raw.writableLength + text.length > SSE_DEFAULTS.maxBufferBytes) {
        droppedSlow.inc();
        context.log.info('event stream client too slow; dropped', { ip: request.ip });
        raw.destroy();
        return;
      }
      raw.write(text);
    };
    const unsubscribe = bus.subscribe((event) => send(frame(event)));
    const heartbeat = setInterval(() => send(': ping\n\n'), SSE_DEFAULTS.heartbeatMs);
    heartbeat.unref();
    jobRelay(true);
    raw.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(raw);
      connections.set(undefined, open.size);
      if (open.size === 0) jobRelay(false);
    });
  });

  // Streams never end by themselves: closing the app ends them, or its close would wait forever.
  app.addHook('preClose', (done) => {
    jobRelay(false);
    for (const raw of open) raw.end();
    done();
  });
}

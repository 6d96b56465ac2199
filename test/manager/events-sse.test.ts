/**
 * GET /api/v1/events through a real HTTP listen of the manager's app (inject cannot stream):
 * a folded peer event reaches a connected client as `event: task` within 2 s, host and job events
 * follow, HEAD answers without a stream, a client that stops reading is dropped once its buffer is full, and closing the app
 * ends open streams. node:sqlite.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMetricsText } from '../../api/index.ts';
import { buildApp, createJob, eventBus, EventFold, openStore, ROUTES, SESSION_COOKIE } from '../../manager/index.ts';
import { ROOT_PASSWORD, startManagerOver } from './rest-harness.ts';

interface Frame {
  event: string;
  data: any;
  at: number;
}

/** An SSE client: every frame parsed as it arrives; `next` waits (bounded) for a matching one. */
function connect(port: number, headers: Record<string, string>) {
  const frames: Frame[] = [];
  const waiters = new Set<() => void>();
  let response!: http.IncomingMessage;
  const ready = new Promise<http.IncomingMessage>((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/api/v1/events', headers }, (res) => {
      response = res;
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) frames.push({ event, data: JSON.parse(data), at: Date.now() });
          for (const wake of waiters) wake();
        }
      });
      res.on('error', () => {});
      resolve(res);
    });
    request.on('error', reject);
  });
  const next = (match: (frame: Frame) => boolean, timeoutMs: number, what: string) =>
    new Promise<Frame>((resolve, reject) => {
      const check = () => {
        const found = frames.find(match);
        if (!found) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no ${what} within ${timeoutMs} ms; got ${frames.map((f) => f.event).join(',')}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return { ready, frames, next, close: () => void response?.destroy() };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'df-manager-sse-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('task, host and job events reach a connected client; slow clients are dropped; close ends streams', { timeout: 60_000 }, async ({ onTestFinished }) => {
  const store = await openStore('sqlite:sse.db', dir);
  onTestFinished(() => store.close());
  const manager = await startManagerOver(store);
  onTestFinished(() => manager.close());
  const app = await buildApp(manager.context, { routes: ROUTES });
  let closed = false;
  onTestFinished(async () => void (closed || (await app.close())));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const token = await manager.signIn('root', ROOT_PASSWORD);

  const anonymous = await fetch(`http://127.0.0.1:${port}/api/v1/events`);
  assert.equal(anonymous.status, 401);
  assert.equal(((await anonymous.json()) as { code: string }).code, 'DF_ERR_UNAUTHENTICATED');

  // HEAD answers the stream's headers and ends, rather than holding them back for a body that never comes.
  const head = await fetch(`http://127.0.0.1:${port}/api/v1/events`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) });
  assert.equal(head.status, 200);
  assert.match(String(head.headers.get('content-type')), /^text\/event-stream/);

  // The console's way: the session cookie (EventSource sends it); a Bearer works too.
  const client = connect(port, { cookie: `${SESSION_COOKIE}=${token}` });
  const res = await client.ready;
  onTestFinished(() => client.close());
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/event-stream/);

  const fold = new EventFold(manager.context);
  fold.start();
  onTestFinished(() => fold.close());
  const sentAt = Date.now();
  await fold.applyPeer({
    taskId: 't-live', url: 'http://origin.test/a.bin', digest: null, contentLength: 100, hostId: 'h1', hostname: 'peer-1', ip: '127.0.0.1',
    state: 'running', finishedBytes: 40, origin: 0, seedPeer: 30, peer: 10,
  });
  const task = await client.next((f) => f.event === 'task' && f.data.task_id === 't-live', 2_000, 'task event');
  process.stderr.write(`task event delivered ${task.at - sentAt} ms after the fold took it\n`);
  assert.deepEqual(task.data.bytes_by_source, { origin: 0, seed_peer: 30, peer: 10 });
  assert.equal(task.data.hosts[0].finished_bytes, 40);
  assert.equal(task.data.state, 'running');

  const clusterId = (await store.db.selectFrom('scheduler_clusters').select('id').executeTakeFirstOrThrow()).id;
  await fold.applyHost({ kind: 'announced', hostId: 'h9', type: 'seed', hostname: 'seed-9', ip: '127.0.0.9', port: 4000, downloadPort: 4005, idc: '', location: '', version: '' }, clusterId);
  const host = await client.next((f) => f.event === 'host', 2_000, 'host event');
  assert.deepEqual(host.data, { host_id: 'h9', hostname: 'seed-9', ip: '127.0.0.9', type: 'seed', state: 'active', scheduler_cluster_id: clusterId });

  const job = await createJob(store.db, { taskId: 'group_x', type: 'preheat', args: {}, schedulerClusterIds: [clusterId], userId: null, timeoutMs: 60_000, tasks: [] }, manager.clock.now);
  const jobEvent = await client.next((f) => f.event === 'job' && f.data.id === job.id, 3_000, 'job event');
  assert.equal(jobEvent.data.state, 'PENDING');
  assert.ok('progress' in jobEvent.data);

  // A client that stops reading: its buffer fills and the manager drops it, the others stay.
  const slow = connect(port, { authorization: `Bearer ${token}` });
  const slowRes = await slow.ready;
  slowRes.pause();
  (slowRes.socket as import('node:net').Socket).pause();
  const slowClosed = new Promise<void>((resolve) => slowRes.socket.once('close', () => resolve()));
  const big = 'x'.repeat(64 * 1024);
  const bus = eventBus(store);
  const droppedCount = async () => parseMetricsText((await app.inject({ method: 'GET', url: '/metrics' })).body).get('dragonfly_manager_event_stream_dropped_total') ?? 0;
  for (let i = 0; i < 1_000 && (await droppedCount()) === 0; i++) {
    bus.publish({ type: 'host', host: { host_id: `bulk-${i}`, hostname: big, ip: '127.0.0.1', type: 'normal', state: 'active', scheduler_cluster_id: clusterId } });
    // The reading client keeps up (each event arrives before the next is sent); the paused one cannot.
    await client.next((f) => f.event === 'host' && f.data.host_id === `bulk-${i}`, 2_000, `bulk event ${i}`);
  }
  assert.equal(await droppedCount(), 1, 'the slow client was dropped');
  // Reading again, the slow client finds its connection ended by the manager.
  (slowRes.socket as import('node:net').Socket).resume();
  slowRes.resume();
  await Promise.race([slowClosed, new Promise((_, reject) => setTimeout(() => reject(new Error('the slow connection did not close')), 10_000))]);
  const metrics = parseMetricsText((await app.inject({ method: 'GET', url: '/metrics' })).body);
  assert.equal(metrics.get('dragonfly_manager_event_stream_connections'), 1, 'the reading client is still connected');

  // Closing the app ends the open stream instead of waiting on it.
  const ended = new Promise<void>((resolve) => res.once('end', () => resolve()));
  closed = true;
  await app.close();
  await ended;
});

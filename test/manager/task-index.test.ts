/**
 * The task index on node:sqlite and PostgreSQL: peer progress folded per task and host (bytes by
 * source, state), found through GET /api/v1/tasks by URL (signatures removed), task id and digest
 * (the task's or an OCI blob URL's), still there after a fold restart, gone after taskIndex.ttl;
 * host events in `hosts`; the dragonfly_manager_* metrics that count them.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { parseMetricsText } from '../../api/index.ts';
import { buildApp, EventFold, ROUTES, type PeerReport } from '../../manager/index.ts';
import { onBothStores, ROOT_PASSWORD, startManagerOver } from './rest-harness.ts';

const HEX = 'ab'.repeat(32);
const SIGNED = 'http://origin.test/models/w.bin?X-Amz-Signature=secret123&X-Amz-Date=20300101&v=2';
const BLOB = `http://registry.test/v2/library/app/blobs/sha256:${HEX}`;

function peer(overrides: Partial<PeerReport>): PeerReport {
  return {
    taskId: 't-model',
    url: 'http://origin.test/models/w.bin?v=2',
    digest: null,
    contentLength: 3000,
    hostId: '127.0.0.1-seed-1-seed',
    hostname: 'seed-1',
    ip: '127.0.0.1',
    state: 'running',
    finishedBytes: 0,
    origin: 0,
    seedPeer: 0,
    peer: 0,
    ...overrides,
  };
}

onBothStores((open) => {
  test('peer progress folds into tasks found by url, task id and digest; kept across a restart; gone after the TTL', async ({ onTestFinished }) => {
    const store = await open('task_index');
    onTestFinished(() => store.close());
    const manager = await startManagerOver(store, { config: { taskIndex: { ttl: '1h' } } });
    onTestFinished(() => manager.close());
    const app = await buildApp(manager.context, { routes: ROUTES });
    onTestFinished(() => app.close());
    const token = await manager.signIn('root', ROOT_PASSWORD);
    const get = async (url: string) => {
      const response = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
      return { status: response.statusCode, body: response.json() as any, headers: response.headers };
    };

    const fold = new EventFold(manager.context);
    // The seed downloads from the origin, the peer from the seed, one from another peer.
    await fold.applyPeer(peer({ state: 'succeeded', finishedBytes: 3000, origin: 3000 }));
    await fold.applyPeer(peer({ hostId: '127.0.0.2-peer-a', hostname: 'peer-a', ip: '127.0.0.2', finishedBytes: 1000, seedPeer: 1000 }));
    await fold.applyPeer(peer({ hostId: '127.0.0.2-peer-a', hostname: 'peer-a', ip: '127.0.0.2', finishedBytes: 2500, seedPeer: 2000, peer: 500 }));
    await fold.applyPeer(peer({ taskId: HEX, url: BLOB, contentLength: 10, hostId: '127.0.0.3-peer-b', hostname: 'peer-b', ip: '127.0.0.3', state: 'failed' }));
    await fold.applyPeer(peer({ taskId: 't-digest', url: 'http://origin.test/d.bin', digest: 'sha256:' + 'cd'.repeat(32), state: 'succeeded', finishedBytes: 5, origin: 5 }));
    await fold.flush();

    const bySignedUrl = await get(`/api/v1/tasks?url=${encodeURIComponent(SIGNED)}`);
    assert.equal(bySignedUrl.status, 200);
    assert.equal(bySignedUrl.body.length, 1, 'the signed URL finds the task by its canonical form');
    const task = bySignedUrl.body[0];
    assert.equal(task.task_id, 't-model');
    assert.equal(task.url, 'http://origin.test/models/w.bin?v=2');
    assert.doesNotMatch(JSON.stringify(task), /secret123/);
    assert.equal(task.state, 'running', 'peer-a still runs');
    assert.equal(task.content_length, 3000);
    assert.deepEqual(task.bytes_by_source, { origin: 3000, seed_peer: 2000, peer: 500 });
    const hosts = Object.fromEntries(task.hosts.map((host: any) => [host.hostname, host]));
    assert.deepEqual(Object.keys(hosts).sort(), ['peer-a', 'seed-1']);
    assert.deepEqual(hosts['peer-a'], { host_id: '127.0.0.2-peer-a', hostname: 'peer-a', ip: '127.0.0.2', state: 'running', finished_bytes: 2500, bytes_by_source: { origin: 0, seed_peer: 2000, peer: 500 } });
    assert.equal(hosts['seed-1'].state, 'succeeded');
    assert.ok(Date.parse(task.first_seen_at) <= Date.parse(task.last_seen_at));

    assert.equal((await get('/api/v1/tasks?task_id=t-model')).body[0].task_id, 't-model');
    assert.equal((await get('/api/v1/tasks/t-model')).body.bytes_by_source.origin, 3000);
    const missing = await get('/api/v1/tasks/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'DF_ERR_RECORD_NOT_FOUND');
    assert.deepEqual((await get(`/api/v1/tasks?digest=sha256:${HEX}`)).body.map((t: any) => t.task_id), [HEX], 'an OCI blob URL is found by its digest');
    assert.deepEqual((await get(`/api/v1/tasks?digest=${'cd'.repeat(32)}`)).body.map((t: any) => t.task_id), ['t-digest'], "a bare hex finds the task's own digest");
    assert.equal((await get(`/api/v1/tasks?digest=sha256:${'ef'.repeat(32)}`)).body.length, 0);
    assert.equal((await get('/api/v1/tasks?url=http://origin.test/other')).body.length, 0);
    assert.equal((await get(`/api/v1/tasks?task_id=${HEX}`)).body[0].state, 'failed');
    const all = await get('/api/v1/tasks?per_page=2');
    assert.equal(all.body.length, 2);
    assert.equal(all.headers['x-total-count'], '3');
    const anonymous = await app.inject({ method: 'GET', url: '/api/v1/tasks' });
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.json().code, 'DF_ERR_UNAUTHENTICATED');

    // A restarted manager (a new fold) keeps what the index had and adds to it.
    const again = new EventFold(manager.context);
    await again.applyPeer(peer({ hostId: '127.0.0.2-peer-a', hostname: 'peer-a', ip: '127.0.0.2', state: 'succeeded', finishedBytes: 3000, seedPeer: 2500, peer: 500 }));
    await again.flush();
    const after = (await get('/api/v1/tasks/t-model')).body;
    assert.equal(after.hosts.length, 2, 'the seed host survived the restart');
    assert.equal(after.state, 'succeeded');
    assert.deepEqual(after.bytes_by_source, { origin: 3000, seed_peer: 2500, peer: 500 });

    // Hosts reported by a scheduler land in `hosts`.
    const clusterId = (await store.db.selectFrom('scheduler_clusters').select('id').executeTakeFirstOrThrow()).id;
    const report = { kind: 'announced', hostId: '127.0.0.9-n9', type: 'normal', hostname: 'n9', ip: '127.0.0.9', port: 4000, downloadPort: 4005, idc: 'a', location: '', version: '1.2.3' } as const;
    await again.applyHost(report, clusterId);
    let row = await store.db.selectFrom('hosts').selectAll().where('host_id', '=', report.hostId).executeTakeFirstOrThrow();
    assert.equal(row.state, 'active');
    assert.equal(row.version, '1.2.3');
    await again.applyHost({ ...report, kind: 'left' }, clusterId);
    row = await store.db.selectFrom('hosts').selectAll().where('host_id', '=', report.hostId).executeTakeFirstOrThrow();
    assert.equal(row.state, 'inactive');

    const metrics = parseMetricsText((await app.inject({ method: 'GET', url: '/metrics' })).body);
    assert.equal(metrics.get('dragonfly_manager_task_index_tasks'), 3);
    assert.equal(metrics.get('dragonfly_manager_events_received_total{kind="peer"}'), 6);
    assert.ok((metrics.get('dragonfly_manager_requests_total{method="GET",route="/api/v1/tasks",status="200"}') ?? 0) >= 8);
    assert.equal(metrics.get('dragonfly_manager_requests_total{method="GET",route="/api/v1/tasks",status="401"}'), 1);

    // Past the TTL the sweep deletes what was not seen since; a task seen again stays.
    manager.clock.now += 60 * 60_000 + 1;
    await again.applyPeer(peer({ taskId: 't-digest', url: 'http://origin.test/d.bin', state: 'succeeded', finishedBytes: 5, origin: 5 }));
    await again.flush();
    assert.equal(await again.sweep(), 2);
    assert.deepEqual((await get('/api/v1/tasks')).body.map((t: any) => t.task_id), ['t-digest']);
  });
});

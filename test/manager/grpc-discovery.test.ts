/**
 * Scheduler discovery through the manager's real gRPC server (in-process startManager, real
 * grpc-js clients): schedulers register and keep alive, hosts asking from different places get the
 * one right cluster's active schedulers, a pinned host never gets another cluster, a scheduler whose
 * stream ended or went silent is not returned. On node:sqlite and on a real PostgreSQL.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcStatus } from '../../api/index.ts';
import { resolveManagerConfig, startManager, updateClusterConfigs, type RunningManager } from '../../manager/index.ts';
import { postgresSkipReason, startPostgres, type PostgresServer } from '../support/postgres.ts';
import { calls, codeOf, eventually, keepAlive, managerClient, type ManagerClient } from './grpc-client.ts';

type Open = (name: string) => Promise<RunningManager>;

async function addCluster(manager: RunningManager, name: string, scopes: object, config: object = { candidate_parent_limit: 3, filter_parent_limit: 15 }): Promise<number> {
  const now = Date.now();
  const row = await manager.context.store.db
    .insertInto('scheduler_clusters')
    .values({ name, bio: null, config: JSON.stringify(config), client_config: '{"load_limit":200}', seed_client_config: '{}', scopes: JSON.stringify(scopes), is_default: 0, created_at: now, updated_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

const names = (response: { schedulers?: Array<{ hostname?: string }> }) => (response.schedulers ?? []).map((s) => s.hostname).sort();

function discoveryTests(open: Open): void {
  test('ListSchedulers: the best-matching cluster by scopes, pinning, and only schedulers whose KeepAlive is open', async ({ onTestFinished }) => {
    const manager = await open('scopes');
    onTestFinished(() => manager.close());
    const client: ManagerClient = managerClient(manager.grpcPort);
    onTestFinished(() => client.close());
    const rpc = calls(client);
    const a = await addCluster(manager, 'idc-a', { idc: 'idc-a', cidrs: ['10.0.0.0/8'] });
    const b = await addCluster(manager, 'gpu', { location: 'cn|hz', hostnames: ['^gpu-'] });

    const register = async (hostname: string, cluster: number) => {
      const scheduler = await rpc.updateScheduler({ hostname, ip: '127.0.0.1', port: 8002, schedulerClusterId: cluster, features: ['schedule'] });
      assert.equal(Number(scheduler.schedulerClusterId), cluster);
      assert.equal(scheduler.state, 'inactive', 'inactive until the first KeepAlive');
      const stream = keepAlive(client);
      stream.send({ sourceType: 'SCHEDULER_SOURCE', hostname, ip: '127.0.0.1', clusterId: cluster });
      return stream;
    };
    const ask = (host: { hostname: string; ip: string; idc?: string; location?: string; schedulerClusterId?: number }) =>
      rpc.listSchedulers({ sourceType: 'PEER_SOURCE', ...host }).then(names);

    // Before any KeepAlive, no cluster has an active scheduler.
    await rpc.updateScheduler({ hostname: 'sched-a1', ip: '127.0.0.1', port: 8002, schedulerClusterId: a });
    assert.deepEqual(await ask({ hostname: 'h', ip: '10.1.2.3' }), []);

    const a1 = await register('sched-a1', a);
    const a2 = await register('sched-a2', a);
    const b1 = await register('sched-b1', b);
    await eventually(async () => (await ask({ hostname: 'gpu-7', ip: '192.168.0.9' })).length === 1, 5_000, 'sched-b1 active');
    await eventually(async () => (await ask({ hostname: 'h', ip: '10.1.2.3' })).length === 2, 5_000, 'sched-a1 and a2 active');

    assert.deepEqual(await ask({ hostname: 'h', ip: '10.1.2.3' }), ['sched-a1', 'sched-a2'], 'CIDR match');
    assert.deepEqual(await ask({ hostname: 'h', ip: '192.168.0.9', idc: 'idc-a' }), ['sched-a1', 'sched-a2'], 'IDC match');
    assert.deepEqual(await ask({ hostname: 'gpu-7', ip: '192.168.0.9' }), ['sched-b1'], 'hostname regex');
    assert.deepEqual(await ask({ hostname: 'h', ip: '192.168.0.9', location: 'cn|hz|xihu' }), ['sched-b1'], 'location prefix');
    assert.deepEqual(await ask({ hostname: 'gpu-7', ip: '10.1.2.3', idc: 'idc-a' }), ['sched-a1', 'sched-a2'], 'CIDR + IDC (0.55) beat hostname (0.3)');
    assert.deepEqual(await ask({ hostname: 'h', ip: '192.168.0.9' }), [], 'nothing matches and no default cluster is active');
    assert.deepEqual(await ask({ hostname: 'h', ip: '10.1.2.3', schedulerClusterId: b }), ['sched-b1'], 'pinned to b despite matching a');
    assert.deepEqual(await ask({ hostname: 'h', ip: '10.1.2.3', schedulerClusterId: 999 }), [], 'pinned to a cluster that does not exist');

    // A scheduler whose stream ended is gone at once; its cluster mate stays.
    assert.equal(await a2.end(), GrpcStatus.OK);
    await eventually(async () => (await ask({ hostname: 'h', ip: '10.1.2.3' })).length === 1, 5_000, 'sched-a2 inactive');
    assert.deepEqual(await ask({ hostname: 'h', ip: '10.1.2.3' }), ['sched-a1']);
    // The last scheduler of b leaves: a pinned host gets nothing, never the other cluster.
    assert.equal(await b1.end(), GrpcStatus.OK);
    await eventually(async () => (await ask({ hostname: 'gpu-7', ip: '192.168.0.9', schedulerClusterId: b })).length === 0, 5_000, 'sched-b1 inactive');
    assert.deepEqual(await ask({ hostname: 'gpu-7', ip: '10.9.9.9', schedulerClusterId: b }), []);
    assert.deepEqual(await ask({ hostname: 'gpu-7', ip: '192.168.0.9' }), [], 'b has no active scheduler and a does not match');
    await a1.end();
  });

  test('a silent KeepAlive stream goes inactive after keepAlive.timeout; a scheduler naming no cluster joins the default one', async ({ onTestFinished }) => {
    const manager = await open('silence');
    onTestFinished(() => manager.close());
    const client = managerClient(manager.grpcPort);
    onTestFinished(() => client.close());
    const rpc = calls(client);
    const joined = await rpc.updateScheduler({ hostname: 'quiet', ip: '127.0.0.1', port: 9002, schedulerClusterId: 4242 });
    const fallback = await rpc.updateScheduler({ hostname: 'quiet2', ip: '127.0.0.1', port: 9003 });
    assert.equal(Number(joined.schedulerClusterId), Number(fallback.schedulerClusterId), 'an unknown cluster id and none both mean the default cluster');
    const stream = keepAlive(client);
    onTestFinished(() => void stream.end());
    stream.send({ sourceType: 'SCHEDULER_SOURCE', hostname: 'quiet', ip: '127.0.0.1', clusterId: 4242 });
    const ask = () => rpc.listSchedulers({ hostname: 'anyone', ip: '172.16.0.1' }).then(names);
    await eventually(async () => (await ask()).includes('quiet'), 5_000, 'the default cluster answers a host matching nothing');
    // keepAlive.timeout is 1 s here; the stream stays open but says nothing more.
    await eventually(async () => !(await ask()).includes('quiet'), 5_000, 'silent scheduler inactive');

    const got = await rpc.getScheduler({ hostname: 'quiet', ip: '127.0.0.1' });
    assert.equal(got.state, 'inactive');
    assert.equal(got.schedulerCluster?.isDefault, true);
    assert.deepEqual(JSON.parse(got.schedulerCluster!.config!), { candidate_parent_limit: 3, filter_parent_limit: 15, job_rate_limit: 10 });
  });

  test('GetScheduler carries the cluster config as it is now; ListApplications; seed peers recorded as hosts', async ({ onTestFinished }) => {
    const manager = await open('config');
    onTestFinished(() => manager.close());
    const client = managerClient(manager.grpcPort);
    onTestFinished(() => client.close());
    const rpc = calls(client);
    const cluster = await addCluster(manager, 'c', { idc: 'x' });
    await rpc.updateScheduler({ hostname: 's', ip: '127.0.0.1', port: 8002, schedulerClusterId: cluster });
    const before = await rpc.getScheduler({ hostname: 's', ip: '127.0.0.1', schedulerClusterId: cluster });
    assert.equal(JSON.parse(before.schedulerCluster!.config!).candidate_parent_limit, 3);
    assert.deepEqual(JSON.parse(before.schedulerCluster!.scopes!), { idc: 'x' });
    assert.ok(await updateClusterConfigs(manager.context.store.db, cluster, { config: { candidate_parent_limit: 1, filter_parent_limit: 4 } }, Date.now()));
    const after = await rpc.getScheduler({ hostname: 's', ip: '127.0.0.1', schedulerClusterId: cluster });
    assert.deepEqual(JSON.parse(after.schedulerCluster!.config!), { candidate_parent_limit: 1, filter_parent_limit: 4 });
    assert.equal(await codeOf(rpc.getScheduler({ hostname: 'nobody', ip: '127.0.0.1' })), GrpcStatus.NOT_FOUND);

    const now = Date.now();
    await manager.context.store.db
      .insertInto('applications')
      .values({ name: 'app', url: 'https://example.invalid', bio: null, priority: JSON.stringify({ value: 2, urls: [{ regex: '^https://a', value: 5 }] }), user_id: null, created_at: now, updated_at: now })
      .execute();
    const apps = await rpc.listApplications({ hostname: 'h', ip: '127.0.0.1' });
    assert.equal(apps.applications?.length, 1);
    assert.equal(apps.applications![0]!.priority!.value, 'LEVEL2');
    assert.deepEqual(apps.applications![0]!.priority!.urls, [{ regex: '^https://a', value: 'LEVEL5' }]);

    const seed = await rpc.updateSeedPeer({ hostname: 'seed-1', ip: '127.0.0.1', port: 4000, downloadPort: 4005, seedPeerClusterId: cluster, type: 'super' });
    assert.equal(seed.state, 'active');
    const stream = keepAlive(client);
    stream.send({ sourceType: 'SEED_PEER_SOURCE', hostname: 'seed-1', ip: '127.0.0.1', clusterId: cluster });
    const host = () => manager.context.store.db.selectFrom('hosts').selectAll().where('host_id', '=', '127.0.0.1-seed-1-seed').executeTakeFirstOrThrow();
    const withSeeds = await rpc.getScheduler({ hostname: 's', ip: '127.0.0.1' });
    assert.deepEqual(withSeeds.seedPeers?.map((p) => p.hostname), ['seed-1'], "the cluster's active seed peers go to its scheduler");
    assert.equal(await stream.end(), GrpcStatus.OK);
    await eventually(async () => (await host()).state === 'inactive', 5_000, 'seed peer inactive after its stream ended');
  });

  test('bad input is INVALID_ARGUMENT; unknown senders NOT_FOUND; malformed protobuf does not hurt the server', async ({ onTestFinished }) => {
    const manager = await open('bad');
    onTestFinished(() => manager.close());
    const client = managerClient(manager.grpcPort);
    onTestFinished(() => client.close());
    const rpc = calls(client);
    const bad = (request: object) => codeOf(rpc.updateScheduler({ hostname: 's', ip: '127.0.0.1', port: 8002, ...request }));
    assert.equal(await bad({ hostname: '' }), GrpcStatus.INVALID_ARGUMENT);
    assert.equal(await bad({ ip: 'not-an-ip' }), GrpcStatus.INVALID_ARGUMENT);
    assert.equal(await bad({ port: 0 }), GrpcStatus.INVALID_ARGUMENT);
    assert.equal(await bad({ hostname: 'a b' }), GrpcStatus.INVALID_ARGUMENT);
    assert.equal(await codeOf(rpc.listSchedulers({ hostname: 'h', ip: '' })), GrpcStatus.INVALID_ARGUMENT);

    const stranger = keepAlive(client);
    stranger.send({ sourceType: 'SCHEDULER_SOURCE', hostname: 'never-registered', ip: '127.0.0.1' });
    assert.equal(await stranger.done, GrpcStatus.NOT_FOUND);
    const invalid = keepAlive(client);
    invalid.send({ sourceType: 'SCHEDULER_SOURCE', hostname: 'x', ip: '999.1.1.1' });
    assert.equal(await invalid.done, GrpcStatus.INVALID_ARGUMENT);

    // Bytes that are not an UpdateSchedulerRequest (a field 2 of wire type 2 whose length runs past the end).
    const raw = new grpc.Client(`127.0.0.1:${manager.grpcPort}`, grpc.credentials.createInsecure());
    onTestFinished(() => raw.close());
    const garbage = await new Promise<number>((resolve) => {
      raw.makeUnaryRequest(
        '/manager.v2.Manager/UpdateScheduler',
        (value: Buffer) => value,
        (value: Buffer) => value,
        Buffer.from([0x12, 0x7f, 0x01]),
        { deadline: Date.now() + 5_000 },
        (error) => resolve(error ? error.code : 0),
      );
    });
    assert.notEqual(garbage, GrpcStatus.OK);
    const ok = await rpc.updateScheduler({ hostname: 'after', ip: '127.0.0.1', port: 8002 });
    assert.equal(ok.hostname, 'after', 'the server still answers');
  });
}

function managerOn(url: string, dataDir: string): Promise<RunningManager> {
  const config = resolveManagerConfig({
    server: { rest: { listenIP: '127.0.0.1', port: 0 }, grpc: { listenIP: '127.0.0.1', port: 0 }, dataDir },
    database: { url },
    keepAlive: { timeout: '1s' },
    log: { level: 'error' },
  });
  return startManager(config);
}

describe('node:sqlite', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'df-manager-grpc-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  discoveryTests((name) => managerOn(`sqlite:${name}.db`, dir));
});

describe.skipIf(postgresSkipReason())('PostgreSQL', () => {
  let server: PostgresServer;
  let dir: string;
  beforeAll(async () => {
    server = await startPostgres();
    dir = await mkdtemp(join(tmpdir(), 'df-manager-grpc-pg-'));
  });
  afterAll(async () => {
    // pg's pool.end() resolves before its sockets have closed; a fast shutdown right away would
    // reach a closing client as an uncaught 57P01.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  discoveryTests(async (name) => managerOn(await server.createDatabase(`grpc_${name}`), dir));
});

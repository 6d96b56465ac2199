/**
 * Preheat end to end with real components: a docker-registry with htpasswd holding a 3-layer
 * image, a dfscheduler registered with the manager (`manager.addr`), a seed dfdaemon and two
 * dfdaemons, and the manager in this process (SQLite in a temp dir, REST and gRPC on port 0).
 * Harbor's call: a PAT of scope `job` made through REST, `POST /oapi/v1/jobs`, polling
 * `GET /oapi/v1/jobs/:id`. Afterwards a normal peer's registry mirror serves every layer without
 * the registry sending a blob byte; wrong credentials fail fast naming the 401 and leave no trace;
 * `all_peers` puts every layer in every peer's store. Two dfmanager processes on one PostgreSQL:
 * the one holding a preheat is SIGKILLed mid-download and the other ends the job.
 */
import { test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger } from '../../api/index.ts';
import { resolveManagerConfig, ROOT_USER, startManager, type RunningManager } from '../../manager/index.ts';
import { basic, haveRegistryTools, send, sha256Hex } from '../mirror/support.ts';
import { startDaemon, startScheduler, type DaemonHandle, type SchedulerHandle } from '../support/daemon.ts';
import { schedulerHosts } from '../support/cluster.ts';
import { call, uploadClient } from '../support/grpc.ts';
import { buildImage, isRoot, onPath, pushImage, scratchDir, startContainerd, startRegistry, TOOL, writeHostsToml, type BuiltImage, type RegistryCredentials, type RunningRegistry } from '../support/registry/index.ts';
import { requirePostgres, startPostgres } from '../support/postgres.ts';
import { startProcess, type NodeProcess } from '../support/process.ts';
import { waitFor } from '../support/temp.ts';
import pg from 'pg';
import { stringify } from 'yaml';

const MiB = 1024 * 1024;
const ROOT_PASSWORD = 'preheat-e2e-root-password';
/** Several pieces for the first layer (pieces are at least 4 MiB), odd sizes for all. */
const LAYERS = [9 * MiB + 7, 5 * MiB + 3, 3 * MiB + 11];
const REPO = 'e2e/app';
const TAG = '1';
const MIRROR_DIRECT_MAX_BYTES = 64 * 1024;
const DFMANAGER_BIN = join(import.meta.dirname, '..', '..', 'manager', 'bin', 'dfmanager.ts');

interface JobAnswer {
  id: number;
  state: string;
  args: Record<string, unknown>;
  result: { job_states?: Array<{ state: string; error: string; results: Array<{ scheduler_cluster_id: number; success_tasks: Array<{ url: string; hostname: string; ip: string }>; failure_tasks: unknown[] }> }> };
  progress: unknown;
}

interface Rig {
  readonly dir: string;
  readonly registry: RunningRegistry;
  readonly image: BuiltImage;
  readonly auth: RegistryCredentials;
  readonly manager: RunningManager;
  /** Every log line the manager wrote, raw. */
  readonly managerLog: string[];
  readonly scheduler: SchedulerHandle;
  readonly seed: DaemonHandle;
  readonly peers: DaemonHandle[];
  readonly rest: string;
  readonly pat: string;
  /** A root sign-in token. */
  readonly jwt: string;
}

async function rest(base: string, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as unknown) : undefined, text };
}

/** A root sign-in, then a PAT of scope `job` made with it (what an operator gives Harbor). */
async function issuePat(base: string): Promise<{ jwt: string; pat: string }> {
  const signin = await fetch(`${base}/api/v1/users/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: ROOT_USER, password: ROOT_PASSWORD }),
  });
  assert.equal(signin.status, 200);
  const jwt = ((await signin.json()) as { token: string }).token;
  const created = await rest(base, 'POST', '/api/v1/personal-access-tokens', jwt, {
    name: 'harbor',
    scopes: ['job'],
    expired_at: new Date(Date.now() + 3_600_000).toISOString(),
  });
  assert.equal(created.status, 201, created.text);
  return { jwt, pat: (created.json as { token: string }).token };
}

/** Registry, manager, scheduler (found through the manager), seed and two peers; a PAT of scope `job`. */
async function startRig(t: TestContext): Promise<Rig> {
  const dir = await scratchDir(t, 'df-preheat-');
  const auth: RegistryCredentials = { user: 'preheater', password: `pw-${randomBytes(12).toString('hex')}` };
  const registry = await startRegistry(t, { dir: join(dir, 'registry'), auth });
  const image = await buildImage(join(dir, 'image'), { layers: LAYERS });
  await pushImage(image, registry, `${REPO}:${TAG}`, auth);

  const managerLog: string[] = [];
  const config = resolveManagerConfig({
    server: { rest: { listenIP: '127.0.0.1', port: 0 }, grpc: { listenIP: '127.0.0.1', port: 0 }, dataDir: join(dir, 'manager') },
    auth: { rootPassword: ROOT_PASSWORD },
    keepAlive: { timeout: '5s' },
    job: { preheat: { stallTimeout: '20s' } },
    log: { level: 'debug' },
  });
  await mkdir(config.server.dataDir, { recursive: true });
  const manager = await startManager(config, { log: createLogger('debug', (line) => void managerLog.push(line)) });
  t.onTestFinished(() => manager.close());

  const scheduler = await startScheduler(t, join(dir, 'scheduler'), {
    server: { host: 'sched-preheat' },
    manager: { addr: `127.0.0.1:${manager.grpcPort}`, keepAlive: { interval: '500ms' } },
    dynconfig: { refreshInterval: '2s', cacheDir: join(dir, 'scheduler', 'cache') },
  });
  const seed = await startDaemon(t, dir, { name: 'seed', seed: true, schedulerPort: scheduler.port });
  const peers = [
    await startDaemon(t, dir, { name: 'peer-1', schedulerPort: scheduler.port }),
    await startDaemon(t, dir, { name: 'peer-2', schedulerPort: scheduler.port }),
  ];
  const ids = [seed, ...peers].map((daemon) => daemon.hostId);
  await waitFor('every daemon announced to the scheduler', async () => {
    const known = new Set(await schedulerHosts(scheduler.port).catch(() => [] as string[]));
    return ids.every((id) => known.has(id));
  }, 20_000);
  await waitFor('the scheduler active in the manager', async () => {
    const row = await manager.context.store.db.selectFrom('schedulers').select('state').where('hostname', '=', 'sched-preheat').executeTakeFirst();
    return row?.state === 'active';
  }, 20_000);

  const base = `http://127.0.0.1:${manager.restPort}`;
  const { jwt, pat } = await issuePat(base);
  return { dir, registry, image, auth, manager, managerLog, scheduler, seed, peers, rest: base, pat, jwt };
}

function preheatBody(rig: Rig, overrides: Record<string, unknown> = {}): unknown {
  return {
    type: 'preheat',
    args: {
      type: 'image',
      url: `${rig.registry.url}/v2/${REPO}/manifests/${TAG}`,
      username: rig.auth.user,
      password: rig.auth.password,
      scope: 'single_seed_peer',
      ...overrides,
    },
  };
}

/** Harbor's flow: create with the PAT, poll until the job leaves PENDING (bounded). */
async function runJob(rig: Rig, body: unknown, timeoutMs: number): Promise<{ job: JobAnswer; ms: number }> {
  const started = Date.now();
  const created = await rest(rig.rest, 'POST', '/oapi/v1/jobs', rig.pat, body);
  assert.equal(created.status, 200, created.text);
  const id = (created.json as JobAnswer).id;
  let job = created.json as JobAnswer;
  await waitFor(`job ${id} to end`, async () => {
    const answer = await rest(rig.rest, 'GET', `/oapi/v1/jobs/${id}`, rig.pat);
    assert.equal(answer.status, 200, answer.text);
    job = answer.json as JobAnswer;
    return job.state !== 'PENDING';
  }, timeoutMs);
  return { job, ms: Date.now() - started };
}

/** Every row of every table of the manager's database, as JSON text. */
async function databaseDump(manager: RunningManager): Promise<string> {
  const db = manager.context.store.db;
  const tables = await db.introspection.getTables();
  const dump: Record<string, unknown[]> = {};
  for (const table of tables) dump[table.name] = await db.selectFrom(table.name as 'jobs').selectAll().execute();
  return JSON.stringify(dump);
}

function blobUrl(rig: Rig, digest: string): string {
  return `${rig.registry.url}/v2/${REPO}/blobs/${digest}`;
}

test('Harbor-style preheat (single_seed_peer) of a private 3-layer image; a peer then pulls every layer through its mirror without the registry sending a blob', { timeout: 240_000 }, async (t) => {
  if (!haveRegistryTools(t)) return;
  const rig = await startRig(t);
  const { registry, image } = rig;

  const { job, ms } = await runJob(rig, preheatBody(rig), 60_000);
  process.stderr.write(`single_seed_peer preheat of ${LAYERS.length} layers (${LAYERS.reduce((a, b) => a + b, 0)} bytes) took ${ms} ms\n`);
  assert.equal(job.state, 'SUCCESS', JSON.stringify(job.result));
  assert.equal(job.args.password, '***');
  const states = job.result.job_states!;
  assert.equal(states.length, 1);
  assert.equal(states[0]!.state, 'SUCCESS');
  const results = states[0]!.results[0]!;
  assert.deepEqual(results.failure_tasks, []);
  assert.deepEqual(
    results.success_tasks.map((task) => task.url).sort(),
    image.layers.map((layer) => blobUrl(rig, layer.digest)).sort(),
    'each layer once, as a success task',
  );
  for (const task of results.success_tasks) assert.equal(task.hostname, 'seed', 'single_seed_peer: the seed peer preheated it');

  // A normal peer pulls each layer through its registry mirror: the seed has them all.
  await registry.settle();
  registry.clearLog();
  const peer = rig.peers[0]!;
  const headers = { 'x-dragonfly-registry': registry.url, authorization: basic(rig.auth) };
  for (const layer of image.layers) {
    const blob = await send(peer.ports.proxy, `/v2/${REPO}/blobs/${layer.digest}`, { headers });
    assert.equal(blob.status, 200);
    assert.equal(blob.body.length, layer.size);
    assert.equal(`sha256:${sha256Hex(blob.body)}`, layer.digest, 'byte-identical');
    assert.equal(blob.headers['x-dragonfly-task-id'], layer.digest.slice('sha256:'.length), 'the mirror asked for the task the preheat filled');
  }
  await registry.settle();
  const bigGets = registry.requests().filter((request) => request.kind === 'blob' && request.method === 'GET' && request.bytes > MIRROR_DIRECT_MAX_BYTES);
  assert.deepEqual(bigGets, [], 'no blob GET of more than 64 KiB reached the registry during the pull');

  // containerd pulling the image through the other peer's mirror: it checks every digest itself.
  const haveContainerd = onPath(TOOL.containerd.bin) && onPath(TOOL.ctr.bin) && isRoot();
  if (!haveContainerd) {
    assert.equal(process.env.DF_E2E_REQUIRED, undefined, 'ctr pull needs containerd, ctr and root (DF_E2E_REQUIRED=1)');
    process.stderr.write('\n*** ctr pull part SKIPPED: needs containerd, ctr and root ***\n');
    return;
  }
  const other = rig.peers[1]!;
  const hostsDir = join(rig.dir, 'certs.d');
  await writeHostsToml(hostsDir, registry.host, { server: registry.url, mirror: `http://127.0.0.1:${other.ports.proxy}`, headers: { 'X-Dragonfly-Registry': registry.url } });
  const containerd = await startContainerd(t, join(rig.dir, 'containerd'));
  registry.clearLog();
  const ref = `${registry.host}/${REPO}:${TAG}`;
  const pull = await containerd.pull(ref, { hostsDir, user: `${rig.auth.user}:${rig.auth.password}` });
  assert.equal(pull.code, 0, `ctr pull failed:\n${pull.stderr}\n${containerd.log().slice(-2000)}`);
  const stored = await containerd.imageContentDigests(ref);
  for (const layer of image.layers) assert.ok(stored.includes(layer.digest), `containerd lacks ${layer.digest}`);
  await registry.settle();
  const layerGets = registry.requests().filter((request) => request.kind === 'blob' && request.method === 'GET' && request.bytes > MIRROR_DIRECT_MAX_BYTES);
  assert.deepEqual(layerGets, [], 'no blob GET of more than 64 KiB reached the registry during the ctr pull');
});

test('wrong password: FAILURE within seconds naming the 401, the password nowhere (manager, scheduler and daemon logs included); all_peers: every peer has every layer', { timeout: 240_000 }, async (t) => {
  if (!haveRegistryTools(t)) return;
  const rig = await startRig(t);
  const wrong = `wrong-${randomBytes(12).toString('hex')}`;

  const failed = await runJob(rig, preheatBody(rig, { password: wrong }), 10_000);
  process.stderr.write(`wrong password: ${failed.job.state} after ${failed.ms} ms\n`);
  assert.equal(failed.job.state, 'FAILURE');
  assert.ok(failed.ms < 5_000, `ended after ${failed.ms} ms`);
  const error = failed.job.result.job_states![0]!.error;
  assert.ok(error.startsWith('DF_ERR_PREHEAT_UNAUTHORIZED:'), error);
  assert.match(error, /\b401\b/);

  const ok = await runJob(rig, preheatBody(rig, { scope: 'all_peers' }), 90_000);
  assert.equal(ok.job.state, 'SUCCESS', JSON.stringify(ok.job.result));
  const hostnames = new Set(ok.job.result.job_states![0]!.results[0]!.success_tasks.map((task) => task.hostname));
  assert.deepEqual([...hostnames].sort(), ['peer-1', 'peer-2', 'seed']);

  // Each daemon's own answer for each layer's task: finished, every piece, the whole length.
  for (const daemon of [rig.seed, ...rig.peers]) {
    const client = uploadClient(daemon.ports.upload);
    try {
      for (const layer of rig.image.layers) {
        const task = await call(client.StatTask.bind(client), { taskId: layer.digest.slice('sha256:'.length) });
        assert.equal(task.state, 'Succeeded', `${daemon.name} ${layer.digest}`);
        assert.equal(Number(task.contentLength), layer.size, `${daemon.name} ${layer.digest}`);
      }
    } finally {
      client.close();
    }
  }

  // Neither password (nor its Basic form) in the jobs' JSON, the manager's log or the database.
  const secrets = [rig.auth.password, wrong, ...[rig.auth.password, wrong].map((password) => Buffer.from(`${rig.auth.user}:${password}`).toString('base64'))];
  const listed = await rest(rig.rest, 'GET', '/api/v1/jobs', rig.jwt);
  assert.equal(listed.status, 200, listed.text);
  const jobsJson = JSON.stringify([failed.job, ok.job, (await rest(rig.rest, 'GET', `/oapi/v1/jobs/${failed.job.id}`, rig.pat)).json, listed.text]);
  const dump = await databaseDump(rig.manager);
  assert.ok(dump.includes('DF_ERR_PREHEAT_UNAUTHORIZED'), 'the dump holds the jobs');
  assert.equal((JSON.parse(dump) as { job_secrets: unknown[] }).job_secrets.length, 0, 'sealed credentials deleted when the jobs ended');
  const log = rig.managerLog.join('');
  assert.ok(log.includes('job ended'), 'the captured log is the manager\'s');
  for (const secret of secrets) {
    assert.equal(jobsJson.includes(secret), false, 'a credential in a job answer');
    assert.equal(log.includes(secret), false, "a credential in the manager's log");
    assert.equal(dump.includes(secret), false, 'a credential in the database');
    for (const proc of [rig.scheduler.proc, rig.seed.proc, ...rig.peers.map((peer) => peer.proc)]) {
      assert.equal(proc.stderr.includes(secret), false, `a credential in ${proc.name}'s log`);
    }
  }
});

test('two managers on one PostgreSQL: the one holding a preheat is SIGKILLed mid-download and the other finishes the job', { timeout: 240_000 }, async (t) => {
  if (!haveRegistryTools(t) || !requirePostgres(t)) return;
  const dir = await scratchDir(t, 'df-preheat-ha-');
  const auth: RegistryCredentials = { user: 'preheater', password: `pw-${randomBytes(12).toString('hex')}` };
  const registry = await startRegistry(t, { dir: join(dir, 'registry'), auth });
  const image = await buildImage(join(dir, 'image'), { layers: [8 * MiB + 5, 8 * MiB + 9, 8 * MiB + 13] });
  await pushImage(image, registry, `${REPO}:${TAG}`, auth);
  const total = image.layers.reduce((sum, layer) => sum + layer.size, 0);

  const postgres = await startPostgres(t);
  const databaseUrl = await postgres.createDatabase('preheat_ha');
  const managers: Array<{ name: string; proc: NodeProcess; rest: string; grpc: string }> = [];
  for (const name of ['manager-a', 'manager-b']) {
    const configPath = join(dir, `${name}.yaml`);
    await mkdir(join(dir, name), { recursive: true });
    // The scheduler keeps alive with one manager; a long timeout keeps it active while that one is dead.
    await writeFile(configPath, stringify({
      server: { rest: { listenIP: '127.0.0.1', port: 0 }, grpc: { listenIP: '127.0.0.1', port: 0 }, dataDir: join(dir, name) },
      database: { url: databaseUrl },
      auth: { rootPassword: ROOT_PASSWORD },
      keepAlive: { timeout: '5m' },
    }));
    const proc = startProcess(t, name, DFMANAGER_BIN, ['--config', configPath]);
    const started = await proc.waitForLine((line) => line.msg === 'manager started');
    const port = (address: unknown) => String(address).split(':').pop();
    managers.push({ name, proc, rest: `http://127.0.0.1:${port(started.rest)}`, grpc: `127.0.0.1:${port(started.grpc)}` });
  }

  const scheduler = await startScheduler(t, join(dir, 'scheduler'), {
    server: { host: 'sched-ha' },
    manager: { addr: managers[0]!.grpc, keepAlive: { interval: '500ms' } },
    dynconfig: { refreshInterval: '2s', cacheDir: join(dir, 'scheduler', 'cache') },
  });
  // 8 MB/s makes the seed take about 3 s for the image: long enough to kill a manager in the middle.
  const seed = await startDaemon(t, dir, { name: 'seed', seed: true, schedulerPort: scheduler.port, config: { download: { bandwidthLimit: '8MB/s' } } });
  await waitFor('the seed announced to the scheduler', async () => (await schedulerHosts(scheduler.port).catch(() => [] as string[])).includes(seed.hostId), 20_000);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  t.onTestFinished(() => db.end());
  await waitFor('the scheduler active', async () => (await db.query("select 1 from schedulers where hostname = 'sched-ha' and state = 'active'")).rowCount === 1, 20_000);

  const { pat } = await issuePat(managers[1]!.rest);
  const created = await rest(managers[1]!.rest, 'POST', '/oapi/v1/jobs', pat, {
    type: 'preheat',
    args: { type: 'image', url: `${registry.url}/v2/${REPO}/manifests/${TAG}`, username: auth.user, password: auth.password, scope: 'single_seed_peer' },
  });
  assert.equal(created.status, 200, created.text);
  const jobId = (created.json as JobAnswer).id;

  // Mid-preheat: a layer task running with some bytes reported, the image not complete.
  let holder: { owner: string; bytes: number } | undefined;
  await waitFor('a layer task with progress', async () => {
    const { rows } = await db.query<{ lease_owner: string; bytes: string }>(
      "select lease_owner, bytes from job_tasks where job_id = $1 and state = 'RUNNING' and payload like '%preheat_layer%' and bytes > 0",
      [jobId],
    );
    if (rows.length > 0) holder = { owner: rows[0]!.lease_owner, bytes: rows.reduce((sum, row) => sum + Number(row.bytes), 0) };
    return holder !== undefined;
  }, 30_000);
  const victim = managers.find((manager) => holder!.owner.includes(`-${manager.proc.pid}-`));
  assert.ok(victim, `lease owner ${holder!.owner} is one of the managers`);
  const survivor = managers.find((manager) => manager !== victim)!;
  assert.ok(holder!.bytes < total, `killed mid-preheat (${holder!.bytes} of ${total} bytes reported)`);
  await victim.proc.kill();
  const killedAt = Date.now();
  process.stderr.write(`SIGKILLed ${victim.name} holding the preheat at ${holder!.bytes} of ${total} bytes\n`);

  let job: JobAnswer | undefined;
  await waitFor(`job ${jobId} to end through ${survivor.name}`, async () => {
    const answer = await rest(survivor.rest, 'GET', `/oapi/v1/jobs/${jobId}`, pat);
    assert.equal(answer.status, 200, answer.text);
    job = answer.json as JobAnswer;
    return job.state !== 'PENDING';
  }, 120_000);
  process.stderr.write(`the job ended ${job!.state} ${Date.now() - killedAt} ms after the kill\n`);
  assert.equal(job!.state, 'SUCCESS', JSON.stringify(job!.result));
  const results = job!.result.job_states![0]!.results[0]!;
  assert.deepEqual(results.success_tasks.map((task) => task.url).sort(), image.layers.map((layer) => `${registry.url}/v2/${REPO}/blobs/${layer.digest}`).sort());
  const { rows } = await db.query<{ attempts: number }>("select attempts from job_tasks where job_id = $1 and payload like '%preheat_layer%'", [jobId]);
  assert.ok(rows.some((row) => row.attempts >= 2), 'a layer task was taken over by the survivor');
  const secrets = await db.query('select count(*)::int as n from job_secrets where job_id = $1', [jobId]);
  assert.equal(secrets.rows[0].n, 0);
});

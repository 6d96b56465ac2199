/**
 * get_task and delete_task jobs end to end, all real processes: a dfmanager, a dfscheduler with
 * `manager.addr`, a seed peer and a peer, an origin. After a dfget through the peer (so the seed has
 * the file too), `get_task` by URL lists both hosts; an unknown task id gives an empty list;
 * `delete_task` by task id removes it from both, whose StatTask then answers NOT_FOUND, and a
 * `get_task` afterwards lists no host.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { taskIdOf } from '../../api/index.ts';
import { dfgetThrough, startDaemon, startScheduler, type DaemonHandle } from '../support/daemon.ts';
import { call, grpc, uploadClient } from '../support/grpc.ts';
import { content, MiB, Origin } from '../support/origin.ts';
import { startProcess } from '../support/process.ts';
import { tempDir, waitFor } from '../support/temp.ts';

const DFMANAGER_BIN = join(import.meta.dirname, '..', '..', 'manager', 'bin', 'dfmanager.ts');
const PASSWORD = 'task-jobs-root-password';

interface JobAnswer {
  id: number;
  type: string;
  state: string;
  result: { job_states?: Array<{ state: string; error: string; results: Array<Record<string, any>> }> };
}

async function statCode(daemon: DaemonHandle, taskId: string): Promise<number> {
  const client = uploadClient(daemon.ports.upload);
  try {
    await call(client.StatTask.bind(client), { taskId });
    return grpc.status.OK;
  } catch (error) {
    return (error as grpc.ServiceError).code;
  } finally {
    client.close();
  }
}

test('get_task finds the hosts with a task, delete_task removes it from each, an unknown task is an empty result', { timeout: 180_000 }, async (t) => {
  const dir = await tempDir(t, 'df-task-jobs-');
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());

  const managerDir = join(dir, 'manager');
  await mkdir(managerDir, { recursive: true });
  const managerConfig = join(managerDir, 'manager.yaml');
  await writeFile(managerConfig, stringify({ server: { rest: { listenIP: '127.0.0.1', port: 0 }, grpc: { listenIP: '127.0.0.1', port: 0 }, dataDir: managerDir }, auth: { rootPassword: PASSWORD } }));
  const manager = startProcess(t, 'dfmanager', DFMANAGER_BIN, ['--config', managerConfig]);
  const started = await manager.waitForLine((line) => line.msg === 'manager started');
  const rest = `http://127.0.0.1:${String(started.rest).split(':').pop()}`;
  const managerAddr = `127.0.0.1:${String(started.grpc).split(':').pop()}`;
  const signin = await fetch(`${rest}/api/v1/users/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'root', password: PASSWORD }) });
  assert.equal(signin.status, 200);
  const { token } = (await signin.json()) as { token: string };

  const post = async (body: unknown) => {
    const response = await fetch(`${rest}/api/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, json: (await response.json()) as any };
  };
  /** Creates the job and waits for its end. */
  const run = async (body: unknown): Promise<JobAnswer> => {
    const created = await post(body);
    assert.equal(created.status, 200, JSON.stringify(created.json));
    let job: JobAnswer | undefined;
    await waitFor(`job ${created.json.id} to end`, async () => {
      const response = await fetch(`${rest}/api/v1/jobs/${created.json.id}`, { headers: { authorization: `Bearer ${token}` } });
      job = (await response.json()) as JobAnswer;
      return job.state !== 'PENDING';
    }, 30_000);
    return job!;
  };

  const scheduler = await startScheduler(t, join(dir, 'scheduler'), {
    server: { host: 'sched-task-jobs' },
    seedPeer: { enable: true },
    manager: { addr: managerAddr, keepAlive: { interval: '500ms' } },
    dynconfig: { cacheDir: join(dir, 'scheduler', 'cache') },
  });
  await scheduler.proc.waitForLine((line) => line.msg === 'registered with the manager');
  const seed = await startDaemon(t, dir, { name: 'seed-1', seed: true, schedulerPort: scheduler.port });
  const peer = await startDaemon(t, dir, { name: 'peer-1', schedulerPort: scheduler.port });

  // Validation names the field, before any job exists.
  const missing = await post({ type: 'get_task', args: {} });
  assert.equal(missing.status, 400);
  assert.equal(missing.json.code, 'DF_ERR_INVALID_ARGUMENT');
  assert.match(missing.json.message, /args\.task_id or args\.url/);
  const badId = await post({ type: 'delete_task', args: { task_id: 'not-a-task-id' } });
  assert.equal(badId.status, 400);
  assert.equal(badId.json.field, 'body.args.task_id');
  const preheatArg = await post({ type: 'get_task', args: { url: 'http://127.0.0.1/x', scope: 'all_peers' } });
  assert.equal(preheatArg.status, 400, 'a preheat-only arg is refused for get_task');

  const body = content(9 * MiB + 5, 77);
  origin.setFile('/model.bin', body);
  const url = origin.url('/model.bin');
  const taskId = taskIdOf({ url });
  const downloaded = await dfgetThrough(peer, [url, '-O', join(dir, 'out.bin')], { cacheHome: join(dir, 'dfget-cache') });
  assert.equal(downloaded.code, 0, downloaded.stderr);
  await waitFor('the scheduler active in the manager', async () => {
    const response = await fetch(`${rest}/api/v1/schedulers`, { headers: { authorization: `Bearer ${token}` } });
    const schedulers = (await response.json()) as Array<{ hostname: string; state: string }>;
    return schedulers.some((row) => row.hostname === 'sched-task-jobs' && row.state === 'active');
  });
  for (const daemon of [seed, peer]) assert.equal(await statCode(daemon, taskId), grpc.status.OK, `${daemon.name} has the task`);

  const found = await run({ type: 'get_task', args: { url } });
  assert.equal(found.state, 'SUCCESS', JSON.stringify(found.result));
  const [state] = found.result.job_states!;
  assert.equal(state!.results[0]!.task_id, taskId);
  const hosts = state!.results[0]!.hosts as Array<{ host_id: string; hostname: string; ip: string; state: string }>;
  assert.deepEqual(hosts.map((host) => host.host_id).sort(), [seed.hostId, peer.hostId].sort());
  assert.ok(hosts.every((host) => host.ip === '127.0.0.1' && host.state === 'Succeeded' && host.hostname !== ''), JSON.stringify(hosts));

  const unknown = await run({ type: 'get_task', args: { task_id: 'f'.repeat(64) } });
  assert.equal(unknown.state, 'SUCCESS', JSON.stringify(unknown.result));
  assert.deepEqual(unknown.result.job_states![0]!.results[0]!.hosts, []);

  const deleted = await run({ type: 'delete_task', args: { task_id: taskId } });
  assert.equal(deleted.state, 'SUCCESS', JSON.stringify(deleted.result));
  const result = deleted.result.job_states![0]!.results[0]!;
  assert.deepEqual((result.success_tasks as Array<{ host_id: string }>).map((host) => host.host_id).sort(), [seed.hostId, peer.hostId].sort());
  assert.deepEqual(result.failure_tasks, []);
  for (const daemon of [seed, peer]) assert.equal(await statCode(daemon, taskId), grpc.status.NOT_FOUND, `${daemon.name} no longer has the task`);

  const after = await run({ type: 'get_task', args: { task_id: taskId } });
  assert.equal(after.state, 'SUCCESS');
  assert.deepEqual(after.result.job_states![0]!.results[0]!.hosts, [], 'no host has the task after the delete');
});

/**
 * The manager as a client of a scheduler on mutual TLS, all real processes: a dfmanager with
 * `scheduler.tls`, a dfscheduler with `server.tls` and `seedPeer.tls` (its link to the manager stays
 * plain), a seed and a peer with every daemon link on TLS, one CA made by the openssl CLI. After a
 * dfget, a get_task job (manager -> scheduler) lists both hosts and a delete_task job (manager ->
 * scheduler -> each daemon's DfdaemonUpload) removes the task from both. A manager without
 * scheduler.tls would get UNAVAILABLE from the scheduler and the jobs would fail.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { taskIdOf } from '../../api/index.ts';
import { dfgetThrough, startDaemon, startScheduler } from '../support/daemon.ts';
import { content, MiB, Origin } from '../support/origin.ts';
import { startProcess } from '../support/process.ts';
import { tempDir, waitFor } from '../support/temp.ts';
import { createTestPki } from '../support/tls.ts';

const DFMANAGER_BIN = join(import.meta.dirname, '..', '..', 'manager', 'bin', 'dfmanager.ts');
const PASSWORD = 'mtls-jobs-root-password';

interface JobAnswer {
  id: number;
  state: string;
  result: { job_states?: Array<{ state: string; error: string; results: Array<Record<string, any>> }> };
}

test('a manager with scheduler.tls runs get_task and delete_task jobs through a scheduler and daemons on mutual TLS', { timeout: 180_000 }, async (t) => {
  const dir = await tempDir(t, 'df-mtls-jobs-');
  const { identities } = await createTestPki(join(dir, 'pki'), ['manager', 'scheduler', 'seed-1', 'peer-1']);
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());

  const managerDir = join(dir, 'manager');
  await mkdir(managerDir, { recursive: true });
  const managerConfig = join(managerDir, 'manager.yaml');
  await writeFile(
    managerConfig,
    stringify({
      server: { rest: { listenIP: '127.0.0.1', port: 0 }, grpc: { listenIP: '127.0.0.1', port: 0 }, dataDir: managerDir },
      auth: { rootPassword: PASSWORD },
      scheduler: { tls: identities.get('manager') },
    }),
  );
  const manager = startProcess(t, 'dfmanager', DFMANAGER_BIN, ['--config', managerConfig]);
  const started = await manager.waitForLine((line) => line.msg === 'manager started');
  const rest = `http://127.0.0.1:${String(started.rest).split(':').pop()}`;
  const managerAddr = `127.0.0.1:${String(started.grpc).split(':').pop()}`;
  const signin = await fetch(`${rest}/api/v1/users/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'root', password: PASSWORD }) });
  assert.equal(signin.status, 200);
  const { token } = (await signin.json()) as { token: string };
  const run = async (body: unknown): Promise<JobAnswer> => {
    const created = await fetch(`${rest}/api/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const { id } = (await created.json()) as { id: number };
    assert.equal(created.status, 200);
    let job: JobAnswer | undefined;
    await waitFor(`job ${id} to end`, async () => {
      job = (await (await fetch(`${rest}/api/v1/jobs/${id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as JobAnswer;
      return job.state !== 'PENDING';
    }, 30_000);
    return job!;
  };

  const schedulerTls = identities.get('scheduler');
  const scheduler = await startScheduler(t, join(dir, 'scheduler'), {
    server: { host: 'sched-mtls', tls: schedulerTls },
    seedPeer: { enable: true, tls: schedulerTls },
    manager: { addr: managerAddr, keepAlive: { interval: '500ms' } },
    dynconfig: { cacheDir: join(dir, 'scheduler', 'cache') },
  });
  await scheduler.proc.waitForLine((line) => line.msg === 'registered with the manager');
  const seed = await startDaemon(t, dir, { name: 'seed-1', seed: true, schedulerPort: scheduler.port, tls: identities.get('seed-1') });
  const peer = await startDaemon(t, dir, { name: 'peer-1', schedulerPort: scheduler.port, tls: identities.get('peer-1') });

  const body = content(9 * MiB + 5, 78);
  origin.setFile('/model.bin', body);
  const url = origin.url('/model.bin');
  const taskId = taskIdOf({ url });
  const downloaded = await dfgetThrough(peer, [url, '-O', join(dir, 'out.bin')], { cacheHome: join(dir, 'dfget-cache') });
  assert.equal(downloaded.code, 0, downloaded.stderr);
  await waitFor('the scheduler active in the manager', async () => {
    const response = await fetch(`${rest}/api/v1/schedulers`, { headers: { authorization: `Bearer ${token}` } });
    const schedulers = (await response.json()) as Array<{ hostname: string; state: string }>;
    return schedulers.some((row) => row.hostname === 'sched-mtls' && row.state === 'active');
  });

  const found = await run({ type: 'get_task', args: { url } });
  assert.equal(found.state, 'SUCCESS', JSON.stringify(found.result));
  const hosts = found.result.job_states![0]!.results[0]!.hosts as Array<{ host_id: string }>;
  assert.deepEqual(hosts.map((host) => host.host_id).sort(), [seed.hostId, peer.hostId].sort());

  const deleted = await run({ type: 'delete_task', args: { task_id: taskId } });
  assert.equal(deleted.state, 'SUCCESS', JSON.stringify(deleted.result));
  const result = deleted.result.job_states![0]!.results[0]!;
  assert.deepEqual((result.success_tasks as Array<{ host_id: string }>).map((host) => host.host_id).sort(), [seed.hostId, peer.hostId].sort());
  assert.deepEqual(result.failure_tasks, []);
});

/**
 * A scheduler with two manager replicas (`manager.addr` and `manager.addrs`), two dfmanager
 * processes on one PostgreSQL with a short keepAlive.timeout: the scheduler keeps alive with the
 * first; that one is SIGKILLed; the scheduler registers with the second, and the second still
 * answers ListSchedulers with it after more than two keepAlive timeouts (a scheduler that stayed
 * with the dead replica would have been swept inactive by then).
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startScheduler } from '../support/daemon.ts';
import { requirePostgres, startPostgres } from '../support/postgres.ts';
import { startProcess, type NodeProcess } from '../support/process.ts';
import { tempDir } from '../support/temp.ts';
import { calls, managerClient } from './grpc-client.ts';

const DFMANAGER_BIN = join(import.meta.dirname, '..', '..', 'manager', 'bin', 'dfmanager.ts');
const KEEPALIVE_TIMEOUT_MS = 3_000;

test('a scheduler with two manager addresses stays active when the first manager is SIGKILLed', { timeout: 120_000 }, async (t) => {
  if (!requirePostgres(t)) return;
  const dir = await tempDir(t, 'df-manager-failover-');
  const postgres = await startPostgres(t);
  const databaseUrl = await postgres.createDatabase('failover');
  const managers: Array<{ proc: NodeProcess; grpcPort: number }> = [];
  for (const name of ['manager-a', 'manager-b']) {
    await mkdir(join(dir, name), { recursive: true });
    const configPath = join(dir, `${name}.yaml`);
    await writeFile(configPath, stringify({
      server: { rest: { listenIP: '127.0.0.1', port: 0 }, grpc: { listenIP: '127.0.0.1', port: 0 }, dataDir: join(dir, name) },
      database: { url: databaseUrl },
      auth: { rootPassword: 'failover-root-password' },
      keepAlive: { timeout: `${KEEPALIVE_TIMEOUT_MS}ms` },
    }));
    const proc = startProcess(t, name, DFMANAGER_BIN, ['--config', configPath]);
    const started = await proc.waitForLine((line) => line.msg === 'manager started');
    managers.push({ proc, grpcPort: Number(String(started.grpc).split(':').pop()) });
  }
  const [first, second] = managers as [(typeof managers)[0], (typeof managers)[0]];
  const firstAddr = `127.0.0.1:${first.grpcPort}`;
  const secondAddr = `127.0.0.1:${second.grpcPort}`;

  const scheduler = await startScheduler(t, join(dir, 'scheduler'), {
    server: { host: 'sched-failover' },
    manager: { addr: firstAddr, addrs: [secondAddr], keepAlive: { interval: '500ms' } },
    dynconfig: { refreshInterval: '1s', cacheDir: join(dir, 'scheduler', 'cache') },
  });
  const registered = await scheduler.proc.waitForLine((line) => line.msg === 'registered with the manager');
  assert.equal(registered.manager, firstAddr, 'the scheduler starts with manager.addr');

  const client = managerClient(second.grpcPort);
  t.onTestFinished(() => client.close());
  const rpc = calls(client);
  const listed = async () => (await rpc.listSchedulers({ hostname: 'some-peer', ip: '127.0.0.1' })).schedulers.map((row) => row.hostname);
  // Active as the second replica sees it: the state is shared through the database.
  for (const deadline = Date.now() + 10_000; !(await listed()).includes('sched-failover'); ) {
    assert.ok(Date.now() < deadline, 'the scheduler became active in the second manager');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  await first.proc.kill();
  // A bounded wait, not a speed claim: under load the switch may take longer than one timeout.
  const moved = await scheduler.proc.waitForLine((line) => line.msg === 'registered with the manager' && line.manager === secondAddr, 30_000);
  assert.ok(moved, 'the scheduler registered with the second manager');
  // Past two timeouts: a scheduler whose keepalives stopped would have been swept inactive.
  await new Promise((resolve) => setTimeout(resolve, 2 * KEEPALIVE_TIMEOUT_MS + 1_000));
  assert.deepEqual(await listed(), ['sched-failover'], 'the second manager still lists the scheduler');
  assert.ok(scheduler.proc.lines.some((line) => line.msg === 'manager replica failed; trying the next one'), 'the switch was logged');
});

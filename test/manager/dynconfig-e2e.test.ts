/**
 * Discovery and dynamic config end to end, all real processes: a dfmanager, a dfscheduler with
 * `manager.addr`, and dfdaemons with `manager.addrs` and no reachable static scheduler address.
 * The daemons find the scheduler through the manager and download through P2P; a cluster config
 * change reaches the running scheduler within its refresh interval; with the manager stopped, a
 * restarted daemon and a restarted scheduler start from their caches and keep working.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { openStore, updateClusterConfigs } from '../../manager/index.ts';
import { dfgetThrough, downloadTraffic, restartDaemon, startDaemon, startScheduler } from '../support/daemon.ts';
import { assertFileEquals } from '../support/engine.ts';
import { content, MiB, Origin } from '../support/origin.ts';
import { startProcess } from '../support/process.ts';
import { tempDir } from '../support/temp.ts';

const DFMANAGER_BIN = join(import.meta.dirname, '..', '..', 'manager', 'bin', 'dfmanager.ts');
const REFRESH = '1s';

test('a daemon finds its scheduler through the manager, downloads through P2P, and keeps working from its cache when the manager is down', { timeout: 180_000 }, async (t) => {
  const dir = await tempDir(t, 'df-dynconfig-');
  const cacheHome = join(dir, 'dfget-cache');
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());

  const managerDir = join(dir, 'manager');
  await mkdir(managerDir, { recursive: true });
  const managerConfig = join(managerDir, 'manager.yaml');
  await writeFile(
    managerConfig,
    stringify({ server: { rest: { listenIP: '127.0.0.1', port: 0 }, grpc: { listenIP: '127.0.0.1', port: 0 }, dataDir: managerDir }, auth: { rootPassword: 'test-root-password' }, keepAlive: { timeout: '3s' } }),
  );
  const manager = startProcess(t, 'dfmanager', DFMANAGER_BIN, ['--config', managerConfig]);
  const started = await manager.waitForLine((line) => line.msg === 'manager started');
  const managerAddr = `127.0.0.1:${String(started.grpc).split(':').pop()}`;

  const schedulerDir = join(dir, 'scheduler');
  const schedulerExtra = {
    server: { host: 'sched-e2e' },
    seedPeer: { enable: false },
    manager: { addr: managerAddr, keepAlive: { interval: '500ms' } },
    dynconfig: { refreshInterval: REFRESH, cacheDir: join(schedulerDir, 'cache') },
  };
  let scheduler = await startScheduler(t, schedulerDir, schedulerExtra);
  const first = await scheduler.proc.waitForLine((line) => line.msg === 'cluster config applied');
  assert.equal(first.source, 'manager');
  assert.equal(first.candidateParentLimit, 3, "the default cluster's Dragonfly default");

  // No static scheduler: daemonConfig's scheduler.addrs points at a closed port and is not used.
  const daemonExtra = { manager: { addrs: [managerAddr] }, dynconfig: { refreshInterval: REFRESH } };
  const a = await startDaemon(t, dir, { name: 'peer-a', config: daemonExtra });
  const b = await startDaemon(t, dir, { name: 'peer-b', config: daemonExtra });
  for (const daemon of [a, b]) {
    const listed = await daemon.proc.waitForLine((line) => line.msg === 'scheduler list updated');
    assert.deepEqual(listed.schedulers, [`127.0.0.1:${scheduler.port}`]);
  }

  const body = content(12 * MiB + 5, 301);
  origin.setFile('/one.bin', body);
  const runA = await dfgetThrough(a, [origin.url('/one.bin'), '-O', join(dir, 'a-one.bin')], { cacheHome });
  assert.equal(runA.code, 0, runA.stderr);
  const runB = await dfgetThrough(b, [origin.url('/one.bin'), '-O', join(dir, 'b-one.bin')], { cacheHome });
  assert.equal(runB.code, 0, runB.stderr);
  await assertFileEquals(join(dir, 'b-one.bin'), body);
  assert.equal((await downloadTraffic(b)).remote_peer, body.length, 'peer-b got every piece from peer-a, sent there by the scheduler the manager named');

  // A config change in the manager's database reaches the running scheduler without a restart.
  const store = await openStore('', managerDir);
  try {
    const row = await store.db.selectFrom('schedulers').select(['scheduler_cluster_id', 'state']).where('hostname', '=', 'sched-e2e').executeTakeFirstOrThrow();
    assert.equal(row.state, 'active');
    const changedAt = Date.now();
    assert.ok(await updateClusterConfigs(store.db, row.scheduler_cluster_id, { config: { candidate_parent_limit: 1, filter_parent_limit: 7, job_rate_limit: 10 } }, changedAt));
    const applied = await scheduler.proc.waitForLine((line) => line.msg === 'cluster config applied' && line.candidateParentLimit === 1, 10_000);
    assert.equal(applied.filterParentLimit, 7);
    process.stderr.write(`config change reached the scheduler after ${Date.parse(String(applied.time)) - changedAt} ms (refresh ${REFRESH})\n`);
  } finally {
    await store.close();
  }

  // A second file on peer-a while the manager still runs; then the manager goes away.
  const two = content(9 * MiB + 17, 302);
  origin.setFile('/two.bin', two);
  const runA2 = await dfgetThrough(a, [origin.url('/two.bin'), '-O', join(dir, 'a-two.bin')], { cacheHome });
  assert.equal(runA2.code, 0, runA2.stderr);
  await manager.stop();

  // peer-b restarts with the manager down: its cached list still names the scheduler.
  await restartDaemon(t, b);
  const fromCache = await b.proc.waitForLine((line) => line.msg === 'scheduler list updated');
  assert.equal(fromCache.source, 'cache');
  assert.deepEqual(fromCache.schedulers, [`127.0.0.1:${scheduler.port}`]);
  const runB2 = await dfgetThrough(b, [origin.url('/two.bin'), '-O', join(dir, 'b-two.bin')], { cacheHome });
  assert.equal(runB2.code, 0, runB2.stderr);
  await assertFileEquals(join(dir, 'b-two.bin'), two);
  assert.equal((await downloadTraffic(b)).remote_peer, two.length, 'the restarted peer-b got the file from peer-a through the cached scheduler');

  // The scheduler restarts with the manager down: the cluster's limits come from its cache.
  await scheduler.proc.stop();
  scheduler = await startScheduler(t, schedulerDir, schedulerExtra);
  const cached = await scheduler.proc.waitForLine((line) => line.msg === 'cluster config applied');
  assert.equal(cached.source, 'cache');
  assert.equal(cached.candidateParentLimit, 1);
  assert.equal(cached.filterParentLimit, 7);
});

/**
 * A cluster's client config reaches a running daemon through the manager, without a restart, and
 * takes effect: a download that names no piece concurrency gets the cluster's
 * `concurrent_piece_count`, and `load_limit` becomes the daemon's upload limit. All real processes:
 * a dfmanager, a dfscheduler found through it, a dfdaemon with `manager.addrs`, an origin.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { clientConfigOf, downloadViaDaemon, taskRequest } from '../../daemon/index.ts';
import { openStore, updateClusterConfigs } from '../../manager/index.ts';
import { startDaemon, startScheduler } from '../support/daemon.ts';
import { content, MiB, Origin } from '../support/origin.ts';
import { startProcess } from '../support/process.ts';
import { tempDir } from '../support/temp.ts';

const DFMANAGER_BIN = join(import.meta.dirname, '..', '..', 'manager', 'bin', 'dfmanager.ts');
const PIECE = 4 * MiB;

test('client config JSON: known limits in range are taken, anything else keeps the daemon config', () => {
  assert.deepEqual(clientConfigOf('{"load_limit":50,"concurrent_piece_count":4,"other":1}'), { loadLimit: 50, concurrentPieceCount: 4 });
  assert.deepEqual(clientConfigOf('{"load_limit":0,"concurrent_piece_count":"8"}'), { loadLimit: undefined, concurrentPieceCount: undefined });
  assert.deepEqual(clientConfigOf('not json'), {});
  assert.deepEqual(clientConfigOf(undefined), {});
});

test('a cluster client config change reaches a running daemon and sets its limits', { timeout: 180_000 }, async (t) => {
  const dir = await tempDir(t, 'df-client-config-');
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());

  const managerDir = join(dir, 'manager');
  await mkdir(managerDir, { recursive: true });
  const managerConfig = join(managerDir, 'manager.yaml');
  await writeFile(managerConfig, stringify({ server: { rest: { listenIP: '127.0.0.1', port: 0 }, grpc: { listenIP: '127.0.0.1', port: 0 }, dataDir: managerDir }, auth: { rootPassword: 'test-root-password' } }));
  const manager = startProcess(t, 'dfmanager', DFMANAGER_BIN, ['--config', managerConfig]);
  const started = await manager.waitForLine((line) => line.msg === 'manager started');
  const managerAddr = `127.0.0.1:${String(started.grpc).split(':').pop()}`;

  const scheduler = await startScheduler(t, join(dir, 'scheduler'), {
    server: { host: 'sched-client-config' },
    seedPeer: { enable: false },
    manager: { addr: managerAddr, keepAlive: { interval: '500ms' } },
    dynconfig: { refreshInterval: '1s', cacheDir: join(dir, 'scheduler', 'cache') },
  });
  await scheduler.proc.waitForLine((line) => line.msg === 'cluster config applied');

  const daemon = await startDaemon(t, dir, { name: 'peer', config: { manager: { addrs: [managerAddr] }, dynconfig: { refreshInterval: '1s' } } });
  const initial = await daemon.proc.waitForLine((line) => line.msg === 'cluster client config applied');
  assert.equal(initial.loadLimit, 200, "the default cluster's Dragonfly default");

  const store = await openStore('', managerDir);
  try {
    const row = await store.db.selectFrom('schedulers').select('scheduler_cluster_id').where('hostname', '=', 'sched-client-config').executeTakeFirstOrThrow();
    assert.ok(await updateClusterConfigs(store.db, row.scheduler_cluster_id, { client_config: { load_limit: 3, concurrent_piece_count: 2 } }, Date.now()));
  } finally {
    await store.close();
  }
  const changed = await daemon.proc.waitForLine((line) => line.msg === 'cluster client config applied' && line.loadLimit === 3, 15_000);
  assert.equal(changed.concurrentPieceCount, 2);
  assert.equal(changed.source, 'manager');

  // A request that names no concurrency gets the cluster's 2 (the daemon's own default is 8).
  const body = content(6 * PIECE, 911);
  origin.setFile('/cluster.bin', body);
  // Piece answers wait until two requests are open at once, so the count does not depend on the machine's speed.
  origin.holdPiecesUntilOpen(PIECE);
  const request = taskRequest({ url: origin.url('/cluster.bin'), outputPath: join(dir, 'cluster.bin'), pieceLength: PIECE });
  assert.equal(request.concurrentPieceCount, undefined);
  await downloadViaDaemon(request, daemon.socketPath, { onStarted: () => {}, onPiece: () => {} }, AbortSignal.timeout(60_000));
  assert.equal(origin.maxRangedInFlight, 2, "at most the cluster's concurrent_piece_count pieces were in flight");
});

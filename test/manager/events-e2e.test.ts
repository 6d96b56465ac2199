/**
 * The task index and the event stream end to end, all real processes: a dfmanager, a dfscheduler
 * with `manager.addr`, a seed peer and a peer, a throttled origin. A dfget through the peer makes
 * the seed fetch from the origin and the peer fetch from the seed; the manager's
 * `GET /api/v1/tasks?url=` then finds the task with both hosts and their bytes split by source,
 * and its `/api/v1/events` stream delivered task events while the download ran.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { dfgetThrough, startDaemon, startScheduler } from '../support/daemon.ts';
import { assertFileEquals } from '../support/engine.ts';
import { content, MiB, Origin } from '../support/origin.ts';
import { startProcess } from '../support/process.ts';
import { tempDir } from '../support/temp.ts';

const DFMANAGER_BIN = join(import.meta.dirname, '..', '..', 'manager', 'bin', 'dfmanager.ts');
const PASSWORD = 'test-root-password';
const PIECE = 4 * MiB;

/** Task events for `url`, as they arrive on the manager's SSE stream. */
function watchTasks(restPort: number, token: string, url: string) {
  const events: Array<{ at: number; task: any }> = [];
  const request = http.get({ host: '127.0.0.1', port: restPort, path: '/api/v1/events', headers: { authorization: `Bearer ${token}` } }, (res) => {
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (/^event: task$/m.test(block) && data) {
          const task = JSON.parse(data);
          if (task.url === url) events.push({ at: Date.now(), task });
        }
      }
    });
    res.on('error', () => {});
  });
  request.on('error', () => {});
  return { events, close: () => void request.destroy() };
}

test('a dfget through a peer shows in the task index with bytes by source, and live on the event stream', { timeout: 180_000 }, async (t) => {
  const dir = await tempDir(t, 'df-events-e2e-');
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());

  const managerDir = join(dir, 'manager');
  await mkdir(managerDir, { recursive: true });
  const managerConfig = join(managerDir, 'manager.yaml');
  await writeFile(managerConfig, stringify({ server: { rest: { listenIP: '127.0.0.1', port: 0 }, grpc: { listenIP: '127.0.0.1', port: 0 }, dataDir: managerDir }, auth: { rootPassword: PASSWORD } }));
  const manager = startProcess(t, 'dfmanager', DFMANAGER_BIN, ['--config', managerConfig]);
  const started = await manager.waitForLine((line) => line.msg === 'manager started');
  const restPort = Number(String(started.rest).split(':').pop());
  const managerAddr = `127.0.0.1:${String(started.grpc).split(':').pop()}`;
  const rest = `http://127.0.0.1:${restPort}`;
  const signin = await fetch(`${rest}/api/v1/users/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'root', password: PASSWORD }) });
  assert.equal(signin.status, 200);
  const { token } = (await signin.json()) as { token: string };

  const scheduler = await startScheduler(t, join(dir, 'scheduler'), {
    server: { host: 'sched-events' },
    seedPeer: { enable: true },
    manager: { addr: managerAddr, keepAlive: { interval: '1s' } },
    dynconfig: { cacheDir: join(dir, 'scheduler', 'cache') },
  });
  await scheduler.proc.waitForLine((line) => line.msg === 'registered with the manager');
  const seed = await startDaemon(t, dir, { name: 'seed-1', seed: true, schedulerPort: scheduler.port });
  const peer = await startDaemon(t, dir, { name: 'peer-1', schedulerPort: scheduler.port });

  // Pieces fetched in parallel finish one after another over a few seconds (piece n at ~(n+1) * 0.8 s):
  // the stream has progress to show while the download runs.
  const body = content(6 * PIECE, 404);
  origin.setFile('/weights.bin', body);
  for (let n = 0; n < 6; n++) origin.fault({ kind: 'throttle', match: { rangeStart: n * PIECE }, chunkBytes: 128 * 1024, delayMs: 25 * (n + 1) });
  const url = origin.url('/weights.bin');
  const signed = `${url}?X-Amz-Signature=not-for-the-manager&X-Amz-Expires=60`;

  const watch = watchTasks(restPort, token, url);
  t.onTestFinished(() => watch.close());
  const startedAt = Date.now();
  const run = await dfgetThrough(peer, [signed, '-O', join(dir, 'out.bin')], { cacheHome: join(dir, 'dfget-cache') });
  const tookMs = Date.now() - startedAt;
  assert.equal(run.code, 0, run.stderr);
  await assertFileEquals(join(dir, 'out.bin'), body);

  // The last batch reaches the index within a flush or two.
  let task: any;
  for (const deadline = Date.now() + 5_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 200))) {
    const response = await fetch(`${rest}/api/v1/tasks?url=${encodeURIComponent(signed)}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    [task] = (await response.json()) as any[];
    if (task?.hosts.find((host: any) => host.host_id === peer.hostId)?.state === 'succeeded') break;
  }
  assert.ok(task, 'the task is in the index');
  assert.equal(task.url, url, 'stored without its signature');
  assert.equal(task.content_length, body.length);
  assert.equal(task.state, 'succeeded');
  const peerHost = task.hosts.find((host: any) => host.host_id === peer.hostId);
  const seedHost = task.hosts.find((host: any) => host.host_id === seed.hostId);
  assert.ok(peerHost && seedHost, `both hosts are listed: ${JSON.stringify(task.hosts)}`);
  assert.equal(peerHost.state, 'succeeded');
  assert.equal(peerHost.finished_bytes, body.length);
  assert.ok(peerHost.bytes_by_source.seed_peer > 0, `the peer got bytes from the seed peer: ${JSON.stringify(peerHost)}`);
  assert.equal(peerHost.bytes_by_source.origin + peerHost.bytes_by_source.seed_peer + peerHost.bytes_by_source.peer, body.length);
  assert.ok(seedHost.bytes_by_source.origin > 0, 'the seed peer fetched from the origin');
  assert.equal(task.bytes_by_source.seed_peer, peerHost.bytes_by_source.seed_peer);

  const during = watch.events.filter((event) => event.at <= startedAt + tookMs);
  process.stderr.write(`dfget took ${tookMs} ms; ${watch.events.length} task events (${during.length} while it ran)\n`);
  assert.ok(during.length >= 2, `at least 2 task events while the download ran, got ${during.length}`);
  const progress = during.map((event) => event.task.hosts.reduce((sum: number, host: any) => sum + host.finished_bytes, 0));
  assert.ok(progress.some((bytes) => bytes > 0 && bytes < 2 * body.length), 'an event showed the download part-way');
  assert.doesNotMatch(JSON.stringify(watch.events), /not-for-the-manager/);
});

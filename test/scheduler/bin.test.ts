/** The dfscheduler executable, spawned: config errors name the key; SIGTERM stops it cleanly. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import type { schedulerv2 } from '../../api/index.ts';
import { schedulerProto, WAIT_MS } from './support.ts';

const BIN = join(import.meta.dirname, '..', '..', 'scheduler', 'bin', 'dfscheduler.ts');

interface Run {
  readonly code: Promise<number | null>;
  readonly stderr: () => string;
  /** The first JSON log line with this message. */
  line(msg: string): Promise<Record<string, unknown>>;
  kill(signal: NodeJS.Signals): void;
}

function run(t: TestContext, args: string[]): Run {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
    for (const listener of listeners) listener();
  });
  child.stdout.resume();
  const code = new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 4 * WAIT_MS);
  void code.then(() => clearTimeout(killer));
  t.onTestFinished(() => {
    child.kill('SIGKILL');
    clearTimeout(killer);
  });
  return {
    code,
    stderr: () => stderr,
    kill: (signal) => child.kill(signal),
    line: (msg) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${msg}" log line within ${WAIT_MS} ms:\n${stderr}`)), WAIT_MS);
        const check = () => {
          for (const text of stderr.split('\n')) {
            if (!text.startsWith('{')) continue;
            const record = JSON.parse(text) as Record<string, unknown>;
            if (record.msg === msg) {
              clearTimeout(timer);
              listeners.delete(check);
              resolve(record);
              return;
            }
          }
        };
        listeners.add(check);
        check();
      }),
  };
}

async function configFile(t: TestContext, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'df-scheduler-'));
  t.onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'scheduler.yaml');
  await writeFile(path, text);
  return path;
}

const CASES: readonly [string, string, RegExp][] = [
  ['unknown key', 'scheduler:\n  retryLimt: 3\n', /scheduler\.retryLimt.*unknown key/],
  ['bad duration', 'scheduler:\n  retryInterval: soon\n', /scheduler\.retryInterval/],
  ['bad nested value', 'scheduler:\n  gc:\n    peerTTL: -1h\n', /scheduler\.gc\.peerTTL/],
  ['port out of range', 'server:\n  port: 70000\n', /server\.port.*at most 65535/],
  ['wrong type', 'seedPeer:\n  enable: "yes"\n', /seedPeer\.enable/],
  ['log level', 'log:\n  level: loud\n', /log\.level/],
  ['not YAML', 'server: [\n', /YAML/],
];

for (const [name, text, pattern] of CASES) {
  test(`config with ${name}: the bin exits 1 naming the key`, async (t) => {
    const path = await configFile(t, text);
    const child = run(t, ['--config', path]);
    assert.equal(await child.code, 1);
    assert.match(child.stderr(), pattern);
  });
}

test('a missing config file exits 1', async (t) => {
  const child = run(t, ['--config', '/nonexistent/scheduler.yaml']);
  assert.equal(await child.code, 1);
  assert.match(child.stderr(), /cannot read/);
});

test('starts from a config, serves gRPC, /metrics and /healthy, and stops on SIGTERM with code 0', async (t) => {
  const path = await configFile(
    t,
    ['server:', '  listenIP: 127.0.0.1', '  port: 0', 'metrics:', '  enable: true', '  addr: 127.0.0.1:0', 'log:', '  level: info', ''].join('\n'),
  );
  const child = run(t, ['--config', path]);
  const started = await child.line('scheduler started');
  const grpcPort = Number(String(started.grpc).split(':').pop());
  const metricsPort = Number(String(started.metrics).split(':').pop());

  const healthy = await fetch(`http://127.0.0.1:${metricsPort}/healthy`);
  assert.equal(healthy.status, 200);
  const client = new schedulerProto.Scheduler(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  t.onTestFinished(() => client.close());
  await new Promise<void>((resolve, reject) =>
    client.AnnounceHost(
      { host: { id: 'host-a', ip: '127.0.0.1', port: 4000 }, intervalMs: 30_000 },
      { deadline: Date.now() + WAIT_MS },
      (error) => (error ? reject(error) : resolve()),
    ),
  );
  const hosts = await new Promise<schedulerv2.ListHostsResponse__Output>((resolve, reject) =>
    client.ListHosts({}, { deadline: Date.now() + WAIT_MS }, (error, response) => (error ? reject(error) : resolve(response!))),
  );
  assert.deepEqual(hosts.hosts.map((h) => h.id), ['host-a']);
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  assert.match(metrics, /dragonfly_scheduler_announce_host_total\{os="",platform="",host_type="normal",version=""\} 1/);
  assert.match(metrics, /dragonfly_scheduler_resources\{type="host"\} 1/);

  child.kill('SIGTERM');
  assert.equal(await child.code, 0);
  assert.ok((await child.line('scheduler stopped')).time);
});

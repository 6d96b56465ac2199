/**
 * dfdaemon's config and start checks, through the real binary: an unknown key or a bad value exits
 * non-zero with one line naming the key path; a port that is taken names its key; a socket another
 * live daemon answers on is not taken over, a stale one is.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { lstat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { resolveDfdaemonConfig } from '../../daemon/index.ts';
import { daemonConfig, DFDAEMON_BIN, startDaemon } from '../support/daemon.ts';
import { STACK_FRAME } from '../support/cli.ts';
import { tempDir } from '../support/temp.ts';

interface Exit {
  code: number | null;
  stderr: string;
}

function runDaemon(args: readonly string[], timeoutMs = 20_000): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DFDAEMON_BIN, ...args], { env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dfdaemon ${args.join(' ')} did not exit; stderr:\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** The one error line a failed start prints. */
function errorLine(exit: Exit): string {
  assert.notEqual(exit.code, 0, exit.stderr);
  assert.doesNotMatch(exit.stderr, STACK_FRAME);
  const lines = exit.stderr.split('\n').filter((line) => line.startsWith('dfdaemon: error:'));
  assert.equal(lines.length, 1, exit.stderr);
  return lines[0]!;
}

const BAD: ReadonlyArray<{ name: string; edit: Record<string, unknown>; names: RegExp }> = [
  { name: 'an unknown key', edit: { download: { server: { sokcetPath: '/x' } } }, names: /download\.server\.sokcetPath: unknown key/ },
  { name: 'an unknown top-level key', edit: { managers: { addrs: ['x'] } }, names: /config managers: unknown key/ },
  { name: 'a key the manager section does not have', edit: { manager: { addr: 'x' } }, names: /config manager\.addr: unknown key; allowed here: addrs/ },
  { name: 'a port out of range', edit: { upload: { server: { port: 70000 } } }, names: /upload\.server\.port/ },
  { name: 'a duration that is not one', edit: { download: { pieceTimeout: 'soon' } }, names: /download\.pieceTimeout/ },
  { name: 'a rate that is not one', edit: { upload: { bandwidthLimit: 'fast' } }, names: /upload\.bandwidthLimit/ },
  { name: 'a scheduler address without a port', edit: { scheduler: { addrs: ['127.0.0.1'] } }, names: /scheduler\.addrs\[0\]/ },
  { name: 'a boolean as a string', edit: { seedPeer: { enable: 'yes' } }, names: /seedPeer\.enable/ },
  { name: 'an unknown seed peer type', edit: { seedPeer: { type: 'giant' } }, names: /seedPeer\.type/ },
  { name: 'a log level that does not exist', edit: { log: { level: 'loud' } }, names: /log\.level/ },
  { name: 'disk thresholds upside down', edit: { gc: { policy: { diskHighThresholdPercent: 50, diskLowThresholdPercent: 70 } } }, names: /gc\.policy\.diskLowThresholdPercent/ },
  { name: 'a zero announce interval', edit: { scheduler: { announceInterval: '0s' } }, names: /scheduler\.announceInterval/ },
  { name: 'a client range that is not one', edit: { proxy: { server: { allowedClients: ['10.0.0.0/99'] } } }, names: /proxy\.server\.allowedClients\[0\]/ },
  { name: 'a proxy rule that is not a regex', edit: { proxy: { rules: [{ regex: 'a(' }] } }, names: /proxy\.rules\[0\]\.regex/ },
  { name: 'an unknown key in a proxy rule', edit: { proxy: { rules: [{ regx: 'a' }] } }, names: /proxy\.rules\[0\]\.regx: unknown key/ },
  { name: 'a CA certificate without its key', edit: { proxy: { server: { caCert: '/x.pem' } } }, names: /proxy\.server\.caKey/ },
  { name: 'a registry mirror that is not a URL', edit: { proxy: { registryMirror: { addr: 'ftp://r/x' } } }, names: /proxy\.registryMirror\.addr/ },
];

test('bad config: exit 1 and one line naming the key path', async (t) => {
  const dir = await tempDir(t, 'df-config-');
  // A few at a time: a dozen Node start-ups at once on a small machine take longer than the timeout.
  const exits: Exit[] = [];
  for (let first = 0; first < BAD.length; first += 4) {
    const batch = BAD.slice(first, first + 4).map(async (c, j) => {
      const i = first + j;
      const path = join(dir, `bad-${i}.yaml`);
      await writeFile(path, stringify(daemonConfig(join(dir, `d${i}`), { name: `d${i}`, config: c.edit })));
      return runDaemon(['--config', path]);
    });
    exits.push(...(await Promise.all(batch)));
  }
  BAD.forEach((c, i) => assert.match(errorLine(exits[i]!), c.names, c.name));
});

test('a missing config file, YAML that does not parse, an unknown flag: exit 1 with one line', async (t) => {
  const dir = await tempDir(t, 'df-config-');
  assert.match(errorLine(await runDaemon(['--config', join(dir, 'nope.yaml')])), /cannot read .*nope\.yaml/);
  await writeFile(join(dir, 'broken.yaml'), 'download: [unclosed\n');
  assert.match(errorLine(await runDaemon(['--config', join(dir, 'broken.yaml')])), /not valid YAML/);
  assert.match(errorLine(await runDaemon(['--frobnicate'])), /frobnicate/);
});

test('a taken port fails the start naming the port and its key; a live daemon\'s socket is not taken over', async (t) => {
  const dir = await tempDir(t, 'df-config-');
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.onTestFinished(() => {
    blocker.close();
  });
  const port = (blocker.address() as { port: number }).port;
  const path = join(dir, 'taken.yaml');
  await writeFile(path, stringify(daemonConfig(join(dir, 'taken'), { name: 'taken', config: { health: { server: { port } } } })));
  const line = errorLine(await runDaemon(['--config', path]));
  assert.match(line, new RegExp(`127\\.0\\.0\\.1:${port}`));
  assert.match(line, /health\.server\.port/);
  assert.match(line, /already in use/);

  const live = await startDaemon(t, dir, { name: 'live' });
  const second = join(dir, 'second.yaml');
  await writeFile(
    second,
    stringify(daemonConfig(join(dir, 'second'), { name: 'second', config: { download: { server: { socketPath: live.socketPath } } } })),
  );
  assert.match(errorLine(await runDaemon(['--config', second])), /another dfdaemon is serving on .*download\.server\.socketPath/);
  // The first one is unharmed: its socket is still there.
  assert.ok((await lstat(live.socketPath)).isSocket());
  const health = await fetch(`http://127.0.0.1:${live.ports.health}/healthy`);
  assert.equal(health.status, 200);
});

test('a stale socket file left by a daemon that was killed is replaced at the next start', async (t) => {
  const dir = await tempDir(t, 'df-config-');
  const daemon = await startDaemon(t, dir, { name: 'stale' });
  await daemon.proc.kill();
  const again = await startDaemon(t, dir, { name: 'stale' });
  assert.equal(again.socketPath, daemon.socketPath);
  assert.equal((await fetch(`http://127.0.0.1:${again.ports.health}/healthy`)).status, 200);
});

test('defaults are Dragonfly\'s', () => {
  const config = resolveDfdaemonConfig({ host: { hostname: 'h', ip: '10.0.0.1' } });
  assert.equal(config.upload.server.port, 4000);
  assert.equal(config.proxy.server.port, 4001);
  assert.equal(config.metrics.server.port, 4002);
  assert.equal(config.health.server.port, 4003);
  assert.equal(config.storage.server.tcpPort, 4005);
  assert.equal(config.download.server.socketPath, '/var/run/dragonfly/dfdaemon.sock');
  assert.equal(config.download.concurrentPieceCount, 8);
  assert.equal(config.download.pieceTimeout, 360_000);
  assert.equal(config.scheduler.announceInterval, 300_000);
  assert.equal(config.scheduler.maxScheduleCount, 5);
  assert.equal(config.scheduler.enableBackToSource, true);
  assert.deepEqual(config.scheduler.addrs, ['127.0.0.1:8002']);
  assert.equal(config.storage.keep, false);
  assert.equal(config.gc.policy.diskHighThresholdPercent, 80);
  assert.equal(config.gc.policy.diskLowThresholdPercent, 60);
  assert.equal(config.seedPeer.enable, false);
  assert.equal(config.proxy.server.ip, '127.0.0.1');
  assert.deepEqual(config.proxy.rules.map((rule) => rule.regex), ['blobs/sha256.*']);
  assert.equal(config.proxy.registryMirror.addr, 'https://index.docker.io');
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.host) && Object.isFrozen(config.proxy.rules[0]));
});

/**
 * The swarm benchmark on simulated hosts (bench/swarm), run as users run it: a small swarm (4 peers,
 * 16 MiB, p2p and http) whose outputs must all be right and whose origin must send less than twice
 * the file, the same swarm with one peer killed mid-run whose survivors must all finish, and whose
 * namespaces must be gone afterwards, also when it is interrupted mid-run.
 * It needs root (it creates network namespaces) and iproute2, nginx and curl: without them it is
 * skipped loudly, or fails when DF_E2E_REQUIRED=1.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..', '..');
const RUN = join(REPO, 'bench', 'swarm', 'run.ts');
const MiB = 1024 * 1024;
const TOOLS = [
  ['ip', 'iproute2'],
  ['tc', 'iproute2'],
  ['nginx', 'nginx-light'],
  ['curl', 'curl'],
] as const;

function onPath(name: string): boolean {
  return [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/sbin'].some((dir) => dir && existsSync(join(dir, name)));
}

function skipReason(): string | false {
  const reasons: string[] = [];
  if (process.getuid?.() !== 0) reasons.push('not root (network namespaces need it)');
  for (const [tool, apt] of TOOLS) if (!onPath(tool)) reasons.push(`${tool} missing (apt-get install -y ${apt})`);
  if (reasons.length === 0) return false;
  const reason = `SWARM BENCH TESTS SKIPPED: ${reasons.join('; ')}`;
  if (process.env['DF_E2E_REQUIRED'] === '1') throw new Error(`DF_E2E_REQUIRED=1 but ${reason}`);
  console.error(`\n!!!!! ${reason} !!!!!\n`);
  return reason;
}

const skip = skipReason();

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  readonly stdout: string;
}

/** Runs the bench; `onStderr` may act on its progress (the child is passed along). */
function runBench(args: readonly string[], timeoutMs: number, onStderr?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [RUN, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let stderr = '';
    let stdout = '';
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      onStderr?.(stderr, child);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench did not end within ${timeoutMs / 1000}s; stderr: ${stderr.slice(-2000)}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stderr, stdout });
    });
  });
}

function prefixOf(stderr: string): string {
  const prefix = /namespace prefix (\S+)/.exec(stderr)?.[1];
  assert.ok(prefix, `the bench names its namespace prefix; stderr: ${stderr.slice(0, 500)}`);
  return prefix;
}

function namespacesWith(prefix: string): string[] {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  assert.equal(listed.status, 0, listed.stderr);
  return listed.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.startsWith(prefix));
}

/** Live processes whose command line mentions `text` (the run's work dir). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return pids;
}

test('4 peers x 16 MiB on simulated 100 Mbit/s hosts: every output verified, the p2p origin sends < 2 x the file, no namespace left', { timeout: 120_000 }, async (t) => {
  if (skip) t.skip(skip);
  const out = mkdtempSync(join(tmpdir(), 'df-swarm-test-'));
  try {
    const run = await runBench(['--peers', '4', '--size', '16MiB', '--systems', 'p2p,http', '--out', out], 110_000);
    assert.equal(run.code, 0, `exit ${run.code ?? run.signal}; stderr: ${run.stderr.slice(-3000)}`);
    const prefix = prefixOf(run.stderr);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    assert.equal(results.peers, 4);
    assert.equal(results.sizeBytes, 16 * MiB);
    assert.equal(results.rate, '100mbit');
    assert.ok(Math.abs(results.floorSeconds - (16 * MiB * 8) / 100e6) < 1e-9);
    // 1514-byte frames carrying 1448 payload bytes (Ethernet, IPv4, TCP with timestamps).
    assert.ok(Math.abs(results.payloadFloorSeconds / results.floorSeconds - 1514 / 1448) < 1e-9, `payload floor ${results.payloadFloorSeconds}`);
    assert.equal(results.namespacePrefix, prefix);
    for (const name of ['p2p', 'http']) {
      const system = results.systems[name];
      assert.equal(system.verified, true, `${name}: ${JSON.stringify(system.failures)}`);
      assert.equal(system.peerUploadBytes.length, 4);
      const { p50, p95, max } = system.completionSeconds;
      assert.ok(p50 > 0 && p50 <= p95 && p95 <= max, `${name}: ${JSON.stringify(system.completionSeconds)}`);
    }
    const p2p = results.systems.p2p;
    assert.ok(p2p.originEgressBytes >= 16 * MiB, `the origin sent the file at least once: ${p2p.originEgressBytes}`);
    assert.ok(p2p.originEgressBytes < 2 * 16 * MiB, `p2p origin egress ${p2p.originEgressBytes} < 2 x the file`);
    // curl from the origin on every peer: the origin sends the file once per peer.
    assert.ok(results.systems.http.originEgressBytes >= 4 * 16 * MiB, `http origin egress ${results.systems.http.originEgressBytes}`);
    assert.ok(readFileSync(join(out, 'chart.svg'), 'utf8').startsWith('<svg'), 'a chart was written');
    assert.deepEqual(namespacesWith(prefix), [], 'the run removed its namespaces');
    const workDir = /work dir (\S+)/.exec(run.stderr)?.[1];
    assert.ok(workDir && !existsSync(workDir), 'the run removed its work dir');
    assert.deepEqual(processesMentioning(workDir), [], 'no process of the run is left');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('one peer SIGKILLed mid-run (--kill-peers 1): every survivor finishes with a verified output, the killed one is reported, nothing is left', { timeout: 120_000 }, async (t) => {
  if (skip) t.skip(skip);
  const out = mkdtempSync(join(tmpdir(), 'df-swarm-test-'));
  try {
    const run = await runBench(['--peers', '4', '--size', '16MiB', '--systems', 'p2p', '--kill-peers', '1', '--kill-at', '0.3', '--out', out], 110_000);
    assert.equal(run.code, 0, `exit ${run.code ?? run.signal}; stderr: ${run.stderr.slice(-3000)}`);
    const prefix = prefixOf(run.stderr);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    assert.equal(results.killPeers, 1);
    const p2p = results.systems.p2p;
    assert.equal(p2p.killed.length, 1, `one peer was killed: ${JSON.stringify(p2p.killed)}; stderr: ${run.stderr.slice(-2000)}`);
    const [killed] = p2p.killed;
    assert.ok(killed.progress >= 0.3 && killed.atSeconds > 0, `killed once the peers were 30% along: ${JSON.stringify(killed)}`);
    assert.equal(p2p.survivors, 3);
    assert.equal(p2p.verified, true, `every survivor's output is the file: ${JSON.stringify(p2p.failures)}`);
    p2p.peerSeconds.forEach((seconds: number | null, i: number) => {
      if (i === killed.index) assert.equal(seconds, null, 'the killed peer has no completion time');
      else assert.ok(typeof seconds === 'number' && seconds > 0, `peer-${i + 1} finished: ${seconds}`);
    });
    assert.ok(Number.isFinite(p2p.completionSeconds.max), 'the survivors\' max is a time');
    // The undisturbed run of the same system on the same hosts comes first, for the comparison.
    assert.equal(p2p.undisturbed.verified, true, 'the undisturbed run is verified');
    assert.ok(p2p.maxOverUndisturbed > 0 && Number.isFinite(p2p.maxOverUndisturbed), `survivors' max over the undisturbed max: ${p2p.maxOverUndisturbed}`);
    assert.equal(p2p.peerCpuPerGiB.kind, 'dfdaemon');
    assert.ok(p2p.peerCpuPerGiB.secondsPerGiB > 0, `daemon CPU per GiB moved: ${JSON.stringify(p2p.peerCpuPerGiB)}`);
    assert.deepEqual(namespacesWith(prefix), [], 'the run removed its namespaces');
    const workDir = /work dir (\S+)/.exec(run.stderr)?.[1];
    assert.ok(workDir && !existsSync(workDir), 'the run removed its work dir');
    assert.deepEqual(processesMentioning(workDir), [], 'no daemon, dfget or server of the run is left');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('Ctrl-C in the middle of a run: every process it started is stopped and its namespaces are gone', { timeout: 60_000 }, async (t) => {
  if (skip) t.skip(skip);
  const out = mkdtempSync(join(tmpdir(), 'df-swarm-test-'));
  try {
    let interrupted = false;
    const run = await runBench(['--peers', '2', '--size', '64MiB', '--systems', 'http', '--out', out], 50_000, (stderr, child) => {
      if (!interrupted && /http: 2 peers start now/.test(stderr)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    assert.ok(interrupted, `the run reached its launch; stderr: ${run.stderr.slice(-2000)}`);
    assert.notEqual(run.code, 0, 'an interrupted run does not exit 0');
    const prefix = prefixOf(run.stderr);
    assert.deepEqual(namespacesWith(prefix), [], 'the interrupted run removed its namespaces');
    const workDir = /work dir (\S+)/.exec(run.stderr)?.[1];
    assert.ok(workDir && !existsSync(workDir), 'the interrupted run removed its work dir');
    assert.deepEqual(processesMentioning(workDir), [], 'no curl or nginx of the run is left');
    assert.equal(existsSync(join(out, 'results.json')), false, 'no results from an interrupted run');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

const setpriv = onPath('setpriv');
test('without root the bench says so and exits non-zero (run as nobody through setpriv)', { timeout: 30_000 }, (t) => {
  if (skip) t.skip(skip);
  if (!setpriv) t.skip('setpriv missing (util-linux)');
  // Reading files is kept (CAP_DAC_READ_SEARCH), so the checkout may sit in a directory only root can enter.
  const readAnything = ['--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search'];
  const result = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...readAnything, process.execPath, RUN, '--peers', '2', '--size', '16MiB'], {
    cwd: '/',
    encoding: 'utf8',
    timeout: 25_000,
    env: { ...process.env, NODE_OPTIONS: '', HOME: '/nonexistent', NODE_COMPILE_CACHE: '' },
  });
  assert.equal(result.status, 2, `exit ${result.status}; stderr: ${result.stderr}`);
  assert.match(result.stderr, /need root/);
});

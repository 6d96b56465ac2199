/**
 * dfget through a real dfdaemon (--endpoint): the daemon downloads and writes the output; dfget's
 * exit codes and one-line errors are those of the standalone path. Without a daemon, dfget says so
 * once and downloads by itself.
 */
import { test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dfget, errorLines, STACK_FRAME, startDfget, type CliResult } from '../support/cli.ts';
import { dfgetThrough, downloadTraffic, startDaemon, type DaemonHandle } from '../support/daemon.ts';
import { assertFileEquals, exists } from '../support/engine.ts';
import { content, MiB, Origin } from '../support/origin.ts';
import { tempDir, waitFor } from '../support/temp.ts';

async function setup(t: TestContext): Promise<{ dir: string; origin: Origin; daemon: DaemonHandle; run: (...args: string[]) => Promise<CliResult> }> {
  const dir = await tempDir(t, 'df-via-');
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());
  const daemon = await startDaemon(t, dir, { name: 'local' });
  const run = (...args: string[]) => dfgetThrough(daemon, args, { cacheHome: join(dir, 'cache') });
  return { dir, origin, daemon, run };
}

function failure(result: CliResult): string {
  assert.equal(result.code, 1, result.stderr);
  assert.doesNotMatch(result.stderr, STACK_FRAME);
  const lines = errorLines(result.stderr);
  assert.equal(lines.length, 1, result.stderr);
  return lines[0]!;
}

test('through the daemon: exit 0, an identical file, and the daemon keeps the task to serve it', { timeout: 60_000 }, async (t) => {
  const { dir, origin, daemon, run } = await setup(t);
  const body = content(9 * MiB + 3, 601);
  origin.setFile('/file', body);
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const result = await run(origin.url(), '-O', join(dir, 'out.bin'), '--digest', digest);
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /no dfdaemon answers/);
  await assertFileEquals(join(dir, 'out.bin'), body);
  assert.equal((await downloadTraffic(daemon)).back_to_source, body.length);
  // A second request is served from the daemon's store: no piece from the origin again.
  origin.resetLog();
  const again = await run(origin.url(), '-O', join(dir, 'again.bin'));
  assert.equal(again.code, 0, again.stderr);
  await assertFileEquals(join(dir, 'again.bin'), body);
  assert.deepEqual(origin.pieceStarts(), []);
  assert.equal((await downloadTraffic(daemon)).local_peer, body.length);
});

test('through the daemon, failures read as standalone: origin status, existing output, digest mismatch, missing directory', { timeout: 60_000 }, async (t) => {
  const { dir, origin, run } = await setup(t);
  origin.setFile('/file', content(5 * MiB, 602));
  assert.match(failure(await run(origin.url('/missing'), '-O', join(dir, 'a'))), /origin answered 404 for http:\/\/127\.0\.0\.1:\d+\/missing/);

  await writeFile(join(dir, 'exists.bin'), 'keep');
  origin.resetLog();
  const exists1 = failure(await run(origin.url(), '-O', join(dir, 'exists.bin')));
  assert.match(exists1, /already exists/);
  assert.equal(await readFile(join(dir, 'exists.bin'), 'utf8'), 'keep');
  assert.equal(origin.log.length, 0, 'nothing fetched for an output that cannot be written');

  const overwrite = await run(origin.url(), '-O', join(dir, 'exists.bin'), '--overwrite');
  assert.equal(overwrite.code, 0, overwrite.stderr);

  const wrong = failure(await run(origin.url(), '-O', join(dir, 'wrong.bin'), '--digest', `sha256:${'0'.repeat(64)}`));
  assert.match(wrong, /digest mismatch/);
  assert.equal(await exists(join(dir, 'wrong.bin')), false);

  const parent = join(dir, 'no', 'such');
  assert.ok(failure(await run(origin.url(), '-O', join(parent, 'x'))).includes(parent));
});

test('two dfgets for the same file at once share one download in the daemon', { timeout: 60_000 }, async (t) => {
  const { dir, origin, daemon } = await setup(t);
  const body = content(6 * 4 * MiB, 603);
  origin.setFile('/file', body);
  // Slow pieces, so the second request joins while the first runs.
  for (let n = 0; n < 6; n++) origin.fault({ kind: 'throttle', match: { rangeStart: n * 4 * MiB }, chunkBytes: 128 * 1024, delayMs: 40 });
  const cacheHome = join(dir, 'cache');
  const runs = [1, 2].map((i) => dfgetThrough(daemon, [origin.url(), '-O', join(dir, `out-${i}.bin`)], { cacheHome }));
  for (const result of await Promise.all(runs)) assert.equal(result.code, 0, result.stderr);
  for (const i of [1, 2]) await assertFileEquals(join(dir, `out-${i}.bin`), body);
  assert.deepEqual(origin.pieceStarts().sort((a, b) => a - b), [0, 1, 2, 3, 4, 5].map((n) => n * 4 * MiB), 'each piece fetched once');
});

test('Ctrl-C through the daemon: exit 130, no output; the rerun gets only what the daemon does not have', { timeout: 60_000 }, async (t) => {
  const { dir, origin, daemon } = await setup(t);
  const body = content(6 * 4 * MiB, 604);
  origin.setFile('/file', body);
  for (let n = 2; n < 6; n++) origin.fault({ kind: 'throttle', match: { rangeStart: n * 4 * MiB }, chunkBytes: 64 * 1024, delayMs: 50 });
  const cacheHome = join(dir, 'cache');
  const out = join(dir, 'out.bin');
  const first = startDfget([origin.url(), '-O', out, '--endpoint', daemon.socketPath], { cacheHome });
  await waitFor('two pieces in the daemon', async () => (await downloadTraffic(daemon)).back_to_source >= 2 * 4 * MiB, 20_000);
  first.child.kill('SIGINT');
  const interrupted = await first.result;
  assert.equal(interrupted.code, 130, interrupted.stderr);
  assert.match(interrupted.stderr, /interrupted/);
  assert.equal(await exists(out), false);
  origin.clearFaults();
  origin.resetLog();
  const rerun = await dfgetThrough(daemon, [origin.url(), '-O', out], { cacheHome });
  assert.equal(rerun.code, 0, rerun.stderr);
  await assertFileEquals(out, body);
  assert.ok(!origin.pieceStarts().includes(0) && !origin.pieceStarts().includes(4 * MiB), 'the pieces the daemon had were not fetched again');
});

test('no daemon on the endpoint: one line says so, and dfget downloads by itself', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t, 'df-via-');
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());
  const body = content(5 * MiB, 605);
  origin.setFile('/file', body);
  const socket = join(dir, 'nobody.sock');
  const result = await dfget([origin.url(), '-O', join(dir, 'out.bin'), '-e', socket], { cacheHome: join(dir, 'cache') });
  assert.equal(result.code, 0, result.stderr);
  await assertFileEquals(join(dir, 'out.bin'), body);
  const notices = result.stderr.split('\n').filter((line) => line.includes('no dfdaemon answers'));
  assert.equal(notices.length, 1, result.stderr);
  assert.ok(notices[0]!.includes(socket));
  assert.deepEqual(errorLines(result.stderr), [], 'not an error');
});

test('DFDAEMON_SOCKET in the environment is the default endpoint', { timeout: 60_000 }, async (t) => {
  const { dir, origin, daemon } = await setup(t);
  const body = content(5 * MiB, 606);
  origin.setFile('/file', body);
  const { spawn } = await import('node:child_process');
  const { DFGET_BIN } = await import('../support/cli.ts');
  const child = spawn(process.execPath, [DFGET_BIN, origin.url(), '-O', join(dir, 'env.bin')], {
    env: { ...process.env, NODE_OPTIONS: '', DFDAEMON_SOCKET: daemon.socketPath, XDG_CACHE_HOME: join(dir, 'cache') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /no dfdaemon answers/);
  await assertFileEquals(join(dir, 'env.bin'), body);
  assert.equal((await downloadTraffic(daemon)).back_to_source, body.length, 'the daemon did the download');
});

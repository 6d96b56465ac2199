/** The dfget CLI as a user runs it: a child process against a real origin, exit codes and the lines it prints. */
import { test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertFileEquals, exists } from '../support/engine.ts';
import { dfget, errorLines, STACK_FRAME, type CliResult } from '../support/cli.ts';
import { content, MiB, Origin } from '../support/origin.ts';
import { closedPort, tempDir } from '../support/temp.ts';

async function setup(t: TestContext) {
  const dir = await tempDir(t, 'df-cli-');
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());
  const run = (...args: string[]) => dfget(args, { cacheHome: join(dir, 'cache'), cwd: dir });
  return { dir, origin, run, out: join(dir, 'out.bin') };
}

/** A failure: exit 1, exactly one error line (returned), no stack trace. */
function failure(result: CliResult): string {
  assert.equal(result.code, 1, `exit code; stderr:\n${result.stderr}`);
  assert.doesNotMatch(result.stderr, STACK_FRAME, 'no stack trace for the user');
  const lines = errorLines(result.stderr);
  assert.equal(lines.length, 1, `one error line; stderr:\n${result.stderr}`);
  return lines[0]!;
}

test('a download succeeds with exit 0 and an identical file', async (t) => {
  const { origin, run, out } = await setup(t);
  const body = content(9 * MiB + 17, 50);
  origin.setFile('/file', body);
  const result = await run(origin.url(), '-O', out, '--piece-length', '4MiB');
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, STACK_FRAME);
  await assertFileEquals(out, body);
  assert.equal(origin.pieceStarts().length, 3);
});

test('a relative -O is resolved against the working directory', async (t) => {
  const { dir, origin, run } = await setup(t);
  const body = content(1000, 51);
  origin.setFile('/file', body);
  const result = await run(origin.url(), '-O', 'relative.bin');
  assert.equal(result.code, 0, result.stderr);
  await assertFileEquals(join(dir, 'relative.bin'), body);
});

test('--digest that matches: exit 0', async (t) => {
  const { origin, run, out } = await setup(t);
  const body = content(5 * MiB, 52);
  origin.setFile('/file', body);
  const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const result = await run(origin.url(), '-O', out, '--digest', digest);
  assert.equal(result.code, 0, result.stderr);
  await assertFileEquals(out, body);
});

test('--digest that does not match: exit 1, one line saying digest mismatch, no output file', async (t) => {
  const { origin, run, out } = await setup(t);
  origin.setFile('/file', content(5 * MiB, 53));
  const wrong = `sha256:${'0'.repeat(64)}`;
  const line = failure(await run(origin.url(), '-O', out, '--digest', wrong));
  assert.match(line, /digest mismatch/);
  assert.equal(await exists(out), false);
});

test('404: exit 1 and the line names the status', async (t) => {
  const { origin, run, out } = await setup(t);
  const line = failure(await run(origin.url('/missing'), '-O', out));
  assert.match(line, /\b404\b/);
  assert.equal(await exists(out), false);
});

test('500 after retries: exit 1 and the line names the status', async (t) => {
  const { origin, run, out } = await setup(t);
  origin.setStatus('/file', 500);
  const line = failure(await run(origin.url(), '-O', out));
  assert.match(line, /\b500\b/);
});

test('an unreachable host: exit 1 and the line says it cannot reach it', async (t) => {
  const { run, out } = await setup(t);
  const port = await closedPort();
  const line = failure(await run(`http://127.0.0.1:${port}/file`, '-O', out));
  assert.match(line, /cannot reach/);
  assert.match(line, new RegExp(`127\\.0\\.0\\.1:${port}`));
});

test('an existing output without --overwrite: exit 1, the file is untouched and nothing is fetched', async (t) => {
  const { origin, run, out } = await setup(t);
  origin.setFile('/file', content(1000, 54));
  await writeFile(out, 'keep');
  const line = failure(await run(origin.url(), '-O', out));
  assert.match(line, /already exists/);
  assert.ok(line.includes(out), 'the line names the path');
  assert.equal(await readFile(out, 'utf8'), 'keep');
  assert.equal(origin.log.length, 0);
});

test('an existing output with --overwrite is replaced', async (t) => {
  const { origin, run, out } = await setup(t);
  const body = content(2 * MiB, 55);
  origin.setFile('/file', body);
  await writeFile(out, 'old');
  const result = await run(origin.url(), '-O', out, '--overwrite');
  assert.equal(result.code, 0, result.stderr);
  await assertFileEquals(out, body);
});

test('a missing parent directory: exit 1 and the line names the directory', async (t) => {
  const { dir, origin, run } = await setup(t);
  origin.setFile('/file', content(10));
  const parent = join(dir, 'no', 'such');
  const line = failure(await run(origin.url(), '-O', join(parent, 'out.bin')));
  assert.ok(line.includes(parent), line);
  assert.equal(origin.log.length, 0);
});

test('-H headers reach the origin on every request', async (t) => {
  const { origin, run, out } = await setup(t);
  origin.setFile('/file', content(9 * MiB, 56));
  const result = await run(origin.url(), '-O', out, '-H', 'Authorization: Bearer t0ken', '--header', 'X-Extra:  spaced value ');
  assert.equal(result.code, 0, result.stderr);
  assert.ok(origin.log.length >= 2);
  for (const request of origin.log) {
    assert.equal(request.headers.authorization, 'Bearer t0ken');
    assert.equal(request.headers['x-extra'], 'spaced value');
  }
});

test('--help prints the usage and exits 0; --version prints the version', async (t) => {
  const { run } = await setup(t);
  const help = await run('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: dfget <URL> -O <PATH>/);
  assert.match(help.stdout, /--digest/);
  assert.equal(help.stderr, '');
  const version = await run('-V');
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^dfget \d+\.\d+\.\d+\n$/);
});

test('logs are JSON lines on stderr at the level asked for', async (t) => {
  const { origin, run, out } = await setup(t);
  origin.setFile('/file', content(5 * MiB, 57));
  const result = await run(origin.url(), '-O', out, '--log-level', 'debug');
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stderr.split('\n').filter(Boolean);
  assert.ok(lines.length > 0);
  const records = lines.map((line) => JSON.parse(line) as { level: string; msg: string });
  assert.ok(records.some((r) => r.msg === 'download finished'));
  assert.ok(records.some((r) => r.level === 'debug'));
});

test('the pieces are kept in $XDG_CACHE_HOME/dragonfly/dfget only until the file is complete', async (t) => {
  const { dir, origin, run, out } = await setup(t);
  origin.setFile('/file', content(5 * MiB, 58));
  const result = await run(origin.url(), '-O', out);
  assert.equal(result.code, 0, result.stderr);
  const storage = join(dir, 'cache', 'dragonfly', 'dfget');
  assert.ok(await exists(storage), 'the store is under XDG_CACHE_HOME');
  const shards = await readdir(join(storage, 'content', 'tasks'));
  for (const shard of shards) assert.deepEqual(await readdir(join(storage, 'content', 'tasks', shard)), []);
});

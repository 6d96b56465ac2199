/**
 * `npx dfget` as the README tells a user to run it: with the machine's own npm and Node, which may
 * be older than the Node 24 the `node` devDependency brings. npm checks package.json `engines`
 * against the Node that runs npm itself (when npx links the project into its cache), so an
 * `engines` that names the project's runtime instead prints EBADENGINE warnings on every fresh
 * checkout.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { errorLines, STACK_FRAME } from '../support/cli.ts';
import { tempDir } from '../support/temp.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** PATH without node_modules/.bin folders: what a shell outside npm scripts sees. */
const systemPath = (process.env['PATH'] ?? '')
  .split(path.delimiter)
  .filter((dir) => dir !== '' && !dir.split(path.sep).includes('node_modules'))
  .join(path.delimiter);

function onPath(name: string): string | undefined {
  for (const dir of systemPath.split(path.delimiter)) {
    try {
      accessSync(path.join(dir, name), constants.X_OK);
      return path.join(dir, name);
    } catch {
      // Not in this folder: try the next.
    }
  }
  return undefined;
}

const npx = onPath('npx');

test.skipIf(npx === undefined)('npx dfget --help with the system npm prints usage and no npm warnings', async (t) => {
  const cache = await tempDir(t, 'df-npx-cache-');
  // npm_* variables from an enclosing `npm test` (a loglevel, say) would change what npx prints.
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_') && key !== 'NODE_OPTIONS'));
  Object.assign(env, {
    PATH: systemPath,
    // A fresh cache: npx then links the checkout again, which is when npm checks `engines`.
    npm_config_cache: cache,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  });
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(npx!, ['dfget', '--help'], { cwd: ROOT, env, signal: t.signal, timeout: 30_000 },
      (error, out, err) => (error ? reject(Object.assign(error, { stderr: err })) : resolve({ stdout: out, stderr: err })));
  });
  assert.match(stdout, /^Usage: dfget /m);
  assert.doesNotMatch(stderr, /^npm warn/im, `stderr:\n${stderr}`);
}, 40_000);

const systemNode = onPath('node');
const systemNodeMajor = systemNode === undefined ? undefined
  : Number(execFileSync(systemNode, ['-p', 'process.versions.node'], { encoding: 'utf8' }).split('.')[0]);

test.skipIf(systemNodeMajor === undefined || systemNodeMajor >= 24)('dfget run by a system Node older than 24 fails with one line, no stack', async (t) => {
  const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = execFile(systemNode!, [path.join(ROOT, 'daemon', 'bin', 'dfget.js'), '--help'], { signal: t.signal, timeout: 10_000 },
      (_error, _out, stderr) => resolve({ code: child.exitCode, stderr }));
  });
  assert.equal(result.code, 1, `stderr:\n${result.stderr}`);
  assert.doesNotMatch(result.stderr, STACK_FRAME);
  assert.equal(errorLines(result.stderr).length, 1, `stderr:\n${result.stderr}`);
});

import { test } from 'vitest';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isRoot, onPath, runCommand } from '../support/registry/index.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const VITEST = join(import.meta.dirname, '..', '..', 'node_modules', 'vitest', 'vitest.mjs');

function runFixture(required: boolean) {
  // Without the VITEST_* variables of this worker the child is a test run of its own, not part of ours.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST')));
  const env = { ...inherited, NODE_OPTIONS: '', NO_COLOR: '1', FORCE_COLOR: '', DF_E2E_REQUIRED: required ? '1' : '' };
  return runCommand(process.execPath, [VITEST, 'run', '--config', join(FIXTURES, 'vitest.config.ts')], { env, timeoutMs: 30_000 });
}

test('a missing binary skips the test loudly, naming the package to install', async () => {
  const result = await runFixture(false);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /↓ missing-tool\.ts > needs a missing tool .*\[missing df-e2e-no-such-binary: apt-get install df-e2e-no-such-package\]\n/);
  assert.match(result.stdout, /Tests +1 skipped \(1\)/);
  // What the test itself writes to stderr.
  assert.match(result.stderr, /\*\*\* SKIPPED "needs a missing tool": missing df-e2e-no-such-binary/);
});

test('with DF_E2E_REQUIRED=1 a missing binary fails the test instead', async () => {
  const result = await runFixture(true);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /× missing-tool\.ts > needs a missing tool/);
  assert.match(result.stdout + result.stderr, /DF_E2E_TOOL_MISSING/);
  assert.match(result.stdout, /apt-get install df-e2e-no-such-package/);
});

test('onPath finds executables on PATH only; isRoot matches the effective uid', () => {
  assert.equal(onPath('sh'), true);
  assert.equal(onPath('df-e2e-no-such-binary'), false);
  assert.equal(isRoot(), process.geteuid!() === 0);
});

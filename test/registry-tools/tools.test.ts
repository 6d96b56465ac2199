import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { isRoot, onPath, runCommand } from '../support/registry/index.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'missing-tool.ts');

function runFixture(required: boolean) {
  // Without NODE_TEST_CONTEXT the child runs as a test run of its own, not as part of ours.
  const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
  const env = { ...inherited, NODE_OPTIONS: '', DF_E2E_REQUIRED: required ? '1' : '' };
  return runCommand(process.execPath, ['--test', '--test-reporter=tap', FIXTURE], { env, timeoutMs: 30_000 });
}

test('a missing binary skips the test loudly, naming the package to install', async () => {
  const result = await runFixture(false);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /# SKIP missing df-e2e-no-such-binary: apt-get install df-e2e-no-such-package\n/);
  // The test's stderr, which the runner passes on as a TAP comment.
  assert.match(result.stdout, /# \*\*\* SKIPPED "needs a missing tool": missing df-e2e-no-such-binary/);
});

test('with DF_E2E_REQUIRED=1 a missing binary fails the test instead', async () => {
  const result = await runFixture(true);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stdout, /not ok 1 - needs a missing tool/);
  assert.match(result.stdout, /DF_E2E_TOOL_MISSING/);
  assert.match(result.stdout, /apt-get install df-e2e-no-such-package/);
});

test('onPath finds executables on PATH only; isRoot matches the effective uid', () => {
  assert.equal(onPath('sh'), true);
  assert.equal(onPath('df-e2e-no-such-binary'), false);
  assert.equal(isRoot(), process.geteuid!() === 0);
});

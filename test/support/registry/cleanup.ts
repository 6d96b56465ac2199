/**
 * Ordered cleanup for end-to-end tests: everything registered through `deferCleanup` runs
 * last-in first-out in one `onTestFinished` hook, every step even when an earlier one fails, and
 * `scratchDir` registers its removal first so it runs after every process in it has stopped
 * (containerd would otherwise still write into a directory being removed).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'vitest';
import { unmountUnder } from './exec.ts';

type Cleanup = () => unknown;

const stacks = new WeakMap<TestContext, Cleanup[]>();

/** Runs `fn` when the test ends, before everything registered earlier through this function. */
export function deferCleanup(t: TestContext, fn: Cleanup): void {
  let stack = stacks.get(t);
  if (!stack) {
    const created: Cleanup[] = [];
    stacks.set(t, created);
    stack = created;
    t.onTestFinished(async () => {
      const failures: unknown[] = [];
      while (created.length > 0) {
        try {
          await created.pop()!();
        } catch (error) {
          failures.push(error);
        }
      }
      if (failures.length === 1) throw failures[0];
      if (failures.length > 1) throw new AggregateError(failures, `${failures.length} cleanups failed`);
    });
  }
  stack.push(fn);
}

/**
 * A fresh temp directory removed when the test ends, after every process and mount that
 * `startRegistry`, `startContainerd` and friends registered later on the same `t` is gone.
 */
export async function scratchDir(t: TestContext, prefix = 'df-e2e-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  deferCleanup(t, async () => {
    // A mount left below (a crashed podman, an unpack cut short) would make rm fail with EBUSY.
    await unmountUnder(dir);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  });
  return dir;
}

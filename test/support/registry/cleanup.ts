/**
 * Ordered cleanup for end-to-end tests. node:test runs `t.after` hooks in the order they were
 * added, so a temp dir made first would be removed while containerd still writes into it; here
 * everything registered through `deferCleanup` runs last-in first-out in one `t.after` hook, and
 * `scratchDir` registers its removal first so it runs after every process has stopped.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
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
    t.after(async () => {
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

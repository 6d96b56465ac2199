/**
 * Everything a benchmark starts (child processes, temp dirs) registers its undo here, so one
 * `runCleanup()` on exit, error or Ctrl-C removes it all, newest first.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Undo = () => void | Promise<void>;

const undos = new Map<number, { label: string; undo: Undo }>();
let nextId = 0;

/** Registers an undo; the returned function runs it now (once) and unregisters it. */
export function onCleanup(label: string, undo: Undo): () => Promise<void> {
  const id = nextId++;
  undos.set(id, { label, undo });
  return async () => {
    const entry = undos.get(id);
    if (!entry) return;
    undos.delete(id);
    await entry.undo();
  };
}

/** Runs every registered undo, newest first; reports failures without stopping. */
export async function runCleanup(): Promise<void> {
  const entries = [...undos.entries()].reverse();
  undos.clear();
  for (const [, { label, undo }] of entries) {
    try {
      await undo();
    } catch (error) {
      console.error(`bench: cleanup of ${label} failed: ${(error as Error).message}`);
    }
  }
}

/** A fresh directory under the OS temp dir, removed by the returned function or by runCleanup(). */
export function makeTempDir(prefix: string): { path: string; remove: () => Promise<void> } {
  const path = mkdtempSync(join(tmpdir(), `df-bench-${prefix}-`));
  const remove = onCleanup(`temp dir ${path}`, () => rmSync(path, { recursive: true, force: true }));
  return { path, remove };
}

/**
 * Aborts `controller` on SIGINT/SIGTERM and on the deadline; the caller's finally runs cleanup.
 * A second Ctrl-C cleans up synchronously as far as it can and exits at once.
 */
export function installInterruptHandlers(controller: AbortController, deadlineMs: number): () => void {
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      console.error(`bench: second ${signal}, exiting`);
      void runCleanup().finally(() => process.exit(130));
      return;
    }
    interrupted = true;
    console.error(`bench: ${signal}, stopping and cleaning up`);
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const timer = setTimeout(() => controller.abort(new Error(`bench exceeded its ${deadlineMs / 1000}s deadline`)), deadlineMs);
  timer.unref();
  return () => {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/** One origin, one engine and a temp dir per test, all closed when the test ends. */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'vitest';
import { createEngine, type Engine, type EngineOptions } from '../../engine/index.ts';
import { Origin, type OriginOptions } from './origin.ts';

/** Retries without real back-off: the tests count attempts, they do not wait for them. */
export const FAST_RETRY = Object.freeze({ retryBaseDelayMs: 1, retryMaxDelayMs: 5, pieceTimeoutMs: 5_000, ioThreads: 2 });

export interface Fixture {
  readonly origin: Origin;
  readonly engine: Engine;
  readonly dir: string;
  readonly storageDir: string;
  /** A path in the temp dir for an output file. */
  out(name?: string): string;
}

export async function fixture(
  t: TestContext,
  options: { origin?: OriginOptions; engine?: Partial<EngineOptions> } = {},
): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'df-engine-'));
  const storageDir = join(dir, 'store');
  const origin = await Origin.start(options.origin);
  const engine = createEngine({ storageDir, ...FAST_RETRY, ...options.engine });
  // Engine first (it holds connections to the origin), the directory last.
  t.onTestFinished(async () => {
    await engine.close();
    await origin.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { origin, engine, dir, storageDir, out: (name = 'out.bin') => join(dir, name) };
}

/** `<storageDir>/content/tasks/<id[0:3]>/<id>`, as DESIGN.md lays it out. */
export function taskDataPath(storageDir: string, taskId: string): string {
  return join(storageDir, 'content', 'tasks', taskId.slice(0, 3), taskId);
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function assertFileEquals(path: string, expected: Buffer): Promise<void> {
  const actual = await readFile(path);
  if (!actual.equals(expected)) {
    throw new Error(`${path}: ${actual.length} bytes differ from the expected ${expected.length}`);
  }
}

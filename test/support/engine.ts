/**
 * One origin, one engine and a temp dir per test, all closed when the test ends. `download` runs
 * a request through the daemon's task front door over the engine, as dfget without a daemon does.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'vitest';
import { createDaemonMetrics, createLogger, taskRequest, TaskManager, TaskService, type DownloadOutcome, type TaskRequestInit } from '../../daemon/index.ts';
import { createEngine, originOnly, type DownloadEventListener, type Engine, type EngineOptions, type PieceStrategy } from '../../engine/index.ts';
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
  /** A request through the task front door; the task leaves the store once exported unless `keepInStore`. */
  download(request: FrontDoorRequest): Promise<DownloadOutcome>;
}

export type FrontDoorRequest = TaskRequestInit & {
  readonly signal?: AbortSignal | undefined;
  readonly onEvent?: DownloadEventListener | undefined;
  readonly strategy?: PieceStrategy | undefined;
  readonly keepInStore?: boolean | undefined;
};

/** dfget's standalone composition over a given engine. */
export function frontDoor(engine: Engine, options: { strategy?: PieceStrategy; keepTasks?: boolean } = {}): TaskService {
  const log = createLogger('error', () => {});
  const manager = new TaskManager({ engine, strategyFor: () => options.strategy ?? originOnly, metrics: createDaemonMetrics(), log, newPeerId: () => 'test-peer', signal: new AbortController().signal });
  return new TaskService({ engine, manager, log, keepTasks: options.keepTasks ?? false });
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
  const download = async ({ signal, onEvent, strategy, keepInStore, ...init }: FrontDoorRequest) =>
    frontDoor(engine, { strategy, keepTasks: keepInStore }).download(taskRequest(init), { onStarted: () => {}, onPiece: () => {}, onProgress: onEvent }, { signal });
  return { origin, engine, dir, storageDir, out: (name = 'out.bin') => join(dir, name), download };
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

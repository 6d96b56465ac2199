/**
 * The direct data plane (engine/source/raw-range.ts + addon.receiveToFile) against the same
 * fault-injecting origin as the streamed path: every scenario runs through undici, through the raw
 * client with the native receiveToFile, and with the JS fallback receiveToFile, and must end alike
 * (same error code, same output, same requests to the origin).
 */
import { describe, test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAddon } from '../../addon/index.ts';
import { createEngine, HttpSource, SourceRegistry, type DownloadEvent, type Engine, type EngineOptions } from '../../engine/index.ts';
import { FAST_RETRY, assertFileEquals, exists, frontDoor, type FrontDoorRequest } from '../support/engine.ts';
import { taskRequest, type DownloadOutcome } from '../../daemon/index.ts';
import { content, MiB, Origin } from '../support/origin.ts';

const PIECE = 4 * MiB;
const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

const native = loadAddon();
const fallback = loadAddon({ forceFallback: true });
const MODES = [
  { name: 'undici (streamed)', directReceive: false as const, skip: false as const },
  { name: 'raw range + native receiveToFile', directReceive: native.receiveToFile, skip: native.kind === 'native' ? (false as const) : 'native addon not loaded' },
  { name: 'raw range + fallback receiveToFile', directReceive: fallback.receiveToFile, skip: false as const },
];

interface Fixture {
  origin: Origin;
  engine: Engine;
  out: string;
  /** A request through the task front door, as dfget without a daemon runs it. */
  download(request: FrontDoorRequest): Promise<DownloadOutcome>;
  /** Ranged GETs for pieces (not the stat probe), by start offset. */
  pieceGets(start?: number): number;
}

for (const mode of MODES) {
  const direct = mode.directReceive !== false;

  async function fixture(t: TestContext, engine: Partial<EngineOptions> = {}): Promise<Fixture> {
    const dir = await mkdtemp(join(tmpdir(), 'df-direct-'));
    const origin = await Origin.start();
    const http = new HttpSource({ maxRedirects: 3, redirectCacheTtlMs: 60_000, directReceive: mode.directReceive });
    const sources = new SourceRegistry().register('http', http);
    const e = createEngine({ storageDir: join(dir, 'store'), ...FAST_RETRY, ...engine }, { sources });
    t.onTestFinished(async () => {
      await e.close();
      await origin.close();
      await rm(dir, { recursive: true, force: true });
    });
    const pieceGets = (start?: number) => origin.pieceStarts().filter((s) => start === undefined || s === start).length;
    const download = async ({ signal, onEvent, ...init }: FrontDoorRequest) =>
      frontDoor(e).download(taskRequest(init), { onStarted: () => {}, onPiece: () => {}, onProgress: onEvent }, { signal });
    return { origin, engine: e, out: join(dir, 'out.bin'), pieceGets, download };
  }

  if (mode.skip !== false) console.error(`${mode.name}: skipped, ${mode.skip}`);
  describe.skipIf(mode.skip !== false)(mode.name, () => {
    test('13 MiB in 4 MiB pieces with sha256: the output is right, and the pieces took the expected path', async (t) => {
      const f = await fixture(t);
      const body = content(13 * MiB + 5, 60);
      f.origin.setFile('/file', body);
      const bytes: number[] = [];
      await f.download({
        url: f.origin.url(),
        outputPath: f.out,
        pieceLength: PIECE,
        digest: sha256(body),
        onEvent: (e) => (e.type === 'bytes' ? bytes.push(e.count) : undefined),
      });
      await assertFileEquals(f.out, body);
      assert.equal(bytes.reduce((a, b) => a + b, 0), body.length, 'progress adds up to the content length');
      const pieces = f.origin.gets('/file').slice(1);
      assert.equal(pieces.length, 4);
      assert.ok(pieces.every((r) => r.headers['if-range'] !== undefined), 'pieces carry If-Range');
      // Only the raw client closes its connection after each piece.
      assert.ok(pieces.every((r) => (r.headers.connection === 'close') === direct), `connection headers: ${pieces.map((r) => r.headers.connection)}`);
    });

    test('a piece still arriving shows its bytes on disk in its watermark, before its last byte (a relay from here follows it)', async (t) => {
      const f = await fixture(t);
      const body = content(2 * PIECE, 64);
      f.origin.setFile('/file', body).fault({ kind: 'throttle', chunkBytes: 256 * 1024, delayMs: 60, match: { rangeStart: PIECE } });
      const done = f.engine.download({ url: f.origin.url(), pieceLength: PIECE });
      const seen: number[] = [];
      let finished = false;
      void done.finally(() => (finished = true)).catch(() => {});
      while (!finished) {
        const view = (await f.engine.tasks.list())[0];
        const written = view?.receiving(1)?.written ?? 0;
        if (view && written > 0 && written < PIECE && written !== seen.at(-1)) {
          seen.push(written);
          const onDisk = await readFile(view.dataPath);
          assert.ok(onDisk.subarray(PIECE, PIECE + written).equals(body.subarray(PIECE, PIECE + written)), `the first ${written} bytes are on disk`);
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await done;
      assert.ok(seen.length >= 2, `the watermark moved while the piece arrived: ${seen.join(', ')}`);
    });

    for (const kind of ['reset', 'short'] as const) {
      test(`a piece ${kind === 'reset' ? 'reset' : 'closed early'} mid-body is retried once with DF_ERR_SOURCE_PROTOCOL`, async (t) => {
        const f = await fixture(t);
        const body = content(13 * MiB, 61);
        f.origin.setFile('/file', body).fault({ kind, match: { rangeStart: 2 * PIECE } });
        const retries: DownloadEvent[] = [];
        await f.download({
          url: f.origin.url(),
          outputPath: f.out,
          pieceLength: PIECE,
          digest: sha256(body),
          onEvent: (e) => (e.type === 'retry' ? retries.push(e) : undefined),
        });
        await assertFileEquals(f.out, body);
        assert.equal(f.pieceGets(2 * PIECE), 2);
        assert.deepEqual(retries.map((e) => e.type === 'retry' && (e.error as { code?: string }).code), ['DF_ERR_SOURCE_PROTOCOL']);
      });
    }

    test('a corrupt byte fails the sha256 with DF_ERR_TASK_DIGEST_MISMATCH and leaves no output', async (t) => {
      const f = await fixture(t);
      const body = content(9 * MiB, 62);
      f.origin.setFile('/file', body).fault({ kind: 'corrupt', match: { rangeStart: PIECE }, at: 12345 });
      await assert.rejects(f.download({ url: f.origin.url(), outputPath: f.out, pieceLength: PIECE, digest: sha256(body) }), {
        code: 'DF_ERR_TASK_DIGEST_MISMATCH',
      });
      assert.equal(await exists(f.out), false);
    });

    test('content changed at the origin: If-Range answers 200 and the download fails with DF_ERR_SOURCE_CHANGED', async (t) => {
      const f = await fixture(t, { concurrentPieceCount: 1 });
      f.origin.setFile('/file', content(10 * MiB, 63));
      await assert.rejects(
        f.download({
          url: f.origin.url(),
          outputPath: f.out,
          pieceLength: PIECE,
          onEvent: (e) => {
            if (e.type === 'piece' && e.piece.number === 0) f.origin.setFile('/file', content(10 * MiB, 64));
          },
        }),
        { code: 'DF_ERR_SOURCE_CHANGED' },
      );
      assert.equal(f.pieceGets(PIECE), 1, 'not retried');
      assert.equal(await exists(f.out), false);
    });

    test('an origin that stalls mid-body fails with DF_ERR_SOURCE_TIMEOUT after its retry', async (t) => {
      const f = await fixture(t, { pieceTimeoutMs: 300, retryWindowMs: 0, pieceRetries: 1, concurrentPieceCount: 1 });
      f.origin.setFile('/file', content(10 * MiB, 65)).fault({ kind: 'stall', match: { rangeStart: PIECE }, times: Infinity });
      await assert.rejects(f.download({ url: f.origin.url(), outputPath: f.out, pieceLength: PIECE }), { code: 'DF_ERR_SOURCE_TIMEOUT' });
      assert.equal(f.pieceGets(PIECE), 2);
    });

    test('an origin that sends no headers for a piece fails with DF_ERR_SOURCE_TIMEOUT', async (t) => {
      const f = await fixture(t, { pieceTimeoutMs: 300, retryWindowMs: 0, pieceRetries: 0, concurrentPieceCount: 1 });
      f.origin.setFile('/file', content(10 * MiB, 66)).fault({ kind: 'stall-headers', match: { rangeStart: PIECE } });
      await assert.rejects(f.download({ url: f.origin.url(), outputPath: f.out, pieceLength: PIECE }), { code: 'DF_ERR_SOURCE_TIMEOUT' });
    });

    test('a slow but steady origin is not timed out', async (t) => {
      const f = await fixture(t, { pieceTimeoutMs: 1_000 });
      const body = content(5 * MiB + 1, 67);
      f.origin.setFile('/file', body).fault({ kind: 'throttle', match: { rangeStart: PIECE }, chunkBytes: 64 * 1024, delayMs: 20 });
      await f.download({ url: f.origin.url(), outputPath: f.out, pieceLength: PIECE, digest: sha256(body) });
      await assertFileEquals(f.out, body);
    });

    test('a piece answered 503 once is asked for twice in all, and a 404 is not retried', async (t) => {
      const f = await fixture(t);
      const body = content(9 * MiB, 68);
      f.origin.setFile('/file', body).fault({ kind: 'status', status: 503, match: { rangeStart: PIECE } });
      await f.download({ url: f.origin.url(), outputPath: f.out, pieceLength: PIECE });
      await assertFileEquals(f.out, body);
      assert.equal(f.pieceGets(PIECE), 2);

      f.origin.resetLog();
      f.origin.fault({ kind: 'status', status: 404, match: { rangeStart: 2 * PIECE }, times: Infinity });
      await assert.rejects(f.download({ url: f.origin.url(), outputPath: f.out, pieceLength: PIECE, overwrite: true, tag: 'again' }), {
        code: 'DF_ERR_SOURCE_STATUS',
        status: 404,
      });
      assert.equal(f.pieceGets(2 * PIECE), 1);
    });

    test('a redirect followed at stat time sends the pieces straight to the target', async (t) => {
      const f = await fixture(t);
      const body = content(6 * MiB, 69);
      f.origin.setFile('/file', body).redirect('/moved', '/file', 307);
      await f.download({ url: f.origin.url('/moved'), outputPath: f.out, pieceLength: PIECE });
      await assertFileEquals(f.out, body);
      assert.equal(f.origin.gets('/moved').length, 1);
    });

    test('an abort mid-piece fails with DF_ERR_ABORTED and leaves no output', async (t) => {
      const f = await fixture(t, { concurrentPieceCount: 2 });
      f.origin.setFile('/file', content(10 * MiB, 70)).fault({ kind: 'stall', match: { rangeStart: PIECE } });
      const controller = new AbortController();
      await assert.rejects(
        f.download({
          url: f.origin.url(),
          outputPath: f.out,
          pieceLength: PIECE,
          signal: controller.signal,
          onEvent: (e) => (e.type === 'piece' ? controller.abort(new Error('test stops here')) : undefined),
        }),
        { code: 'DF_ERR_ABORTED' },
      );
      assert.equal(await exists(f.out), false);
    });
  });
}

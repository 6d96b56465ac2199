/**
 * The options a user sets on one download take effect, by dfget alone and through a real dfdaemon:
 * each case would fail if its field were dropped anywhere between the flag and the engine.
 */
import { describe, test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DaemonCallError, downloadViaDaemon, taskRequest } from '../../daemon/index.ts';
import { dfget, type CliResult } from '../support/cli.ts';
import { dfgetThrough, startDaemon, type DaemonHandle } from '../support/daemon.ts';
import { assertFileEquals } from '../support/engine.ts';
import { content, MiB, Origin } from '../support/origin.ts';
import { tempDir } from '../support/temp.ts';

const PIECE = 4 * MiB;

interface Setup {
  readonly dir: string;
  readonly origin: Origin;
  readonly daemon: DaemonHandle | undefined;
  run(...args: string[]): Promise<CliResult>;
}

const MODES = [
  { name: 'dfget alone', daemon: false },
  { name: 'through dfdaemon', daemon: true },
] as const;

for (const mode of MODES) {
  describe(mode.name, () => {
    async function setup(t: TestContext): Promise<Setup> {
      const dir = await tempDir(t, 'df-options-');
      const origin = await Origin.start();
      t.onTestFinished(() => origin.close());
      const cacheHome = join(dir, 'cache');
      if (!mode.daemon) {
        const run = (...args: string[]) => dfget([...args, '--endpoint', join(dir, 'no-daemon.sock'), '--no-progress'], { cacheHome, timeoutMs: 60_000 });
        return { dir, origin, daemon: undefined, run };
      }
      const daemon = await startDaemon(t, dir, { name: 'options' });
      return { dir, origin, daemon, run: (...args: string[]) => dfgetThrough(daemon, [...args, '--no-progress'], { cacheHome }) };
    }

    test('--concurrent-piece-count bounds the pieces in flight at the origin', { timeout: 60_000 }, async (t) => {
      const { dir, origin, run } = await setup(t);
      const body = content(6 * PIECE, 901);
      origin.setFile('/file', body);
      // Piece answers wait until two requests are open at once, so the count does not depend on the machine's speed.
      origin.holdPiecesUntilOpen(PIECE);
      const result = await run(origin.url(), '-O', join(dir, 'out.bin'), '--piece-length', '4MiB', '--concurrent-piece-count', '2');
      assert.equal(result.code, 0, result.stderr);
      await assertFileEquals(join(dir, 'out.bin'), body);
      assert.equal(origin.maxRangedInFlight, 2, 'the default (8) would have had all 6 pieces in flight');
    });

    test('--piece-timeout retries a piece that stalls', { timeout: 60_000 }, async (t) => {
      const { dir, origin, run } = await setup(t);
      const body = content(2 * PIECE, 902);
      origin.setFile('/file', body);
      origin.fault({ kind: 'stall', match: { rangeStart: PIECE } });
      // With the default (360 s) the stalled piece would outlive this test.
      const result = await run(origin.url(), '-O', join(dir, 'out.bin'), '--piece-length', '4MiB', '--piece-timeout', '1s');
      assert.equal(result.code, 0, result.stderr);
      await assertFileEquals(join(dir, 'out.bin'), body);
      assert.equal(origin.pieceStarts().filter((start) => start === PIECE).length, 2, 'the stalled piece was asked for again');
    });

    test('-H headers reach the origin with every piece request', { timeout: 60_000 }, async (t) => {
      const { dir, origin, run } = await setup(t);
      origin.setFile('/file', content(2 * PIECE, 903));
      const result = await run(origin.url(), '-O', join(dir, 'out.bin'), '--piece-length', '4MiB', '-H', 'X-Request-Option: on');
      assert.equal(result.code, 0, result.stderr);
      const gets = origin.gets('/file');
      assert.ok(gets.length >= 3);
      for (const get of gets) assert.equal(get.headers['x-request-option'], 'on', `request ${get.range}`);
    });

    test('--digest is checked: a wrong one fails and leaves no output', { timeout: 60_000 }, async (t) => {
      const { dir, origin, run } = await setup(t);
      origin.setFile('/file', content(PIECE + 5, 904));
      const result = await run(origin.url(), '-O', join(dir, 'out.bin'), '--digest', `sha256:${'0'.repeat(64)}`);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /digest mismatch/);
    });
  });
}

test('through dfdaemon: the request timeout is the daemon\'s to enforce (no client-side timer here)', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t, 'df-options-');
  const origin = await Origin.start();
  t.onTestFinished(() => origin.close());
  origin.setFile('/file', content(PIECE, 905));
  origin.fault({ kind: 'stall-headers', times: Infinity });
  const daemon = await startDaemon(t, dir, { name: 'timeout' });
  const request = taskRequest({ url: origin.url(), outputPath: join(dir, 'out.bin'), timeoutMs: 1_000 });
  const error = await downloadViaDaemon(request, daemon.socketPath, { onStarted: () => {}, onPiece: () => {} }, AbortSignal.timeout(50_000)).then(
    () => assert.fail('the download should have timed out'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof DaemonCallError, String(error));
  assert.equal(error.detail?.code, 'DF_ERR_ABORTED', error.message);
});

/**
 * The piece-strategy seam a peer daemon uses: pieces from a parent (here a second real HTTP server
 * serving the same bytes) checked against the digest the parent announced, a corrupt one refused
 * and fetched from the origin instead.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { request } from 'undici';
import type { DownloadEvent, PieceJob, PieceStrategy } from '../../engine/index.ts';
import { assertFileEquals, fixture } from '../support/engine.ts';
import { content, MiB, Origin } from '../support/origin.ts';

const PIECE = 4 * MiB;

test('a strategy takes pieces from a parent, refuses a corrupt one by digest, and falls back to the origin', async (t) => {
  const f = await fixture(t);
  const body = content(3 * PIECE + 77, 7);
  f.origin.setFile('/file', body);
  const parent = await Origin.start();
  t.onTestFinished(() => parent.close());
  parent.setFile('/file', body).fault({ kind: 'corrupt', match: { rangeStart: PIECE } });

  // What a parent announces for each piece (SyncPieces carries the same crc32 strings).
  const announced = (number: number) => `crc32:${crc32(body.subarray(number * PIECE, Math.min(body.length, (number + 1) * PIECE)))}`;
  const refused: number[] = [];
  const strategy: PieceStrategy = async (session) => {
    const queue: PieceJob[] = session.task.missingPieces().map((number) => ({
      number,
      fetch: async (range, signal) => {
        const answer = await request(parent.url(), {
          headers: { range: `bytes=${range.offset}-${range.offset + range.length - 1}` },
          signal,
        });
        return { body: answer.body, source: 'parent-1', expectedDigest: announced(number) };
      },
    }));
    await session.runPieces(
      async () => queue.shift(),
      (number, error) => {
        assert.equal((error as { code?: string }).code, 'DF_ERR_PIECE_DIGEST_MISMATCH');
        refused.push(number);
        queue.push(session.originJob(number));
        return true;
      },
    );
  };

  const events: DownloadEvent[] = [];
  await f.download({ url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE, strategy, onEvent: (e) => events.push(e) });

  await assertFileEquals(f.out(), body);
  assert.deepEqual(refused, [1]);
  const sources = new Map(events.flatMap((e) => (e.type === 'piece' ? [[e.piece.number, e.piece.source] as const] : [])));
  assert.deepEqual([...sources.entries()].sort(), [[0, 'parent-1'], [1, 'origin'], [2, 'parent-1'], [3, 'parent-1']]);
  const originRanges = f.origin.gets('/file').map((r) => r.range);
  assert.deepEqual(originRanges, ['bytes=0-0', `bytes=${PIECE}-${2 * PIECE - 1}`], 'the origin served the stat probe and the refused piece only');
});

test('an unhandled piece failure fails the download and leaves no output', async (t) => {
  const f = await fixture(t);
  const body = content(2 * PIECE, 8);
  f.origin.setFile('/file', body);
  const strategy: PieceStrategy = async (session) => {
    const numbers = session.task.missingPieces();
    await session.runPieces(async () => {
      const number = numbers.shift();
      return number === undefined
        ? undefined
        : { number, fetch: async () => ({ body: (async function* () { yield Buffer.alloc(PIECE); })(), source: 'bad-parent', expectedDigest: 'crc32:1' }) };
    });
  };
  await assert.rejects(
    f.download({ url: f.origin.url(), outputPath: f.out(), pieceLength: PIECE, strategy }),
    { code: 'DF_ERR_PIECE_DIGEST_MISMATCH' },
  );
  await assert.rejects(import('node:fs/promises').then((fs) => fs.stat(f.out())), { code: 'ENOENT' });
});

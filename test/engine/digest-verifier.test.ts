/**
 * The one whole-content digest check, on a real hashing pool and a real task file: fed by pieces
 * in any arrival order and by bytes from memory, it hashes in content order and names a mismatch.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DigestVerifier, IoPool } from '../../engine/index.ts';
import { content } from '../support/origin.ts';
import { tempDir } from '../support/temp.ts';

const PIECE = 64 * 1024;

async function setup(t: Parameters<typeof tempDir>[0], length: number) {
  const dir = await tempDir(t, 'df-verifier-');
  const body = content(length, 77);
  const path = join(dir, 'task');
  await writeFile(path, body);
  const pool = new IoPool({ threads: 2 });
  t.onTestFinished(() => pool.close());
  return { body, path, pool, layout: { contentLength: length, pieceLength: PIECE } };
}

const sha256 = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

test('pieces arriving out of order are hashed in content order', async (t) => {
  const { body, path, pool, layout } = await setup(t, 5 * PIECE + 123);
  const verifier = new DigestVerifier(pool, path, sha256(body));
  verifier.start(layout, [3]);
  for (const number of [5, 1, 4, 0]) verifier.piece(number);
  assert.equal(verifier.hashedBytes, 2 * PIECE, 'only the contiguous prefix (0, 1) is hashed so far');
  verifier.piece(2);
  assert.equal(verifier.hashedBytes, body.length);
  assert.equal(await verifier.finish(), sha256(body));
});

test('a mismatch is DF_ERR_TASK_DIGEST_MISMATCH with both digests', async (t) => {
  const { path, pool, layout } = await setup(t, 2 * PIECE);
  const wrong = `sha256:${'0'.repeat(64)}`;
  const verifier = new DigestVerifier(pool, path, wrong);
  verifier.start(layout, [0, 1]);
  await assert.rejects(verifier.finish(), { code: 'DF_ERR_TASK_DIGEST_MISMATCH', expected: wrong });
});

test('bytes from the file and from memory make one digest (a body finished from the origin)', async (t) => {
  const { body, path, pool, layout } = await setup(t, 3 * PIECE + 7);
  for (const algorithm of ['sha256', 'crc32'] as const) {
    const expected = algorithm === 'sha256' ? sha256(body) : `crc32:${(await import('node:zlib')).crc32(body)}`;
    const verifier = new DigestVerifier(pool, path, expected);
    verifier.start(layout);
    verifier.fileRange(PIECE + 5);
    verifier.bytes(body.subarray(PIECE + 5, 2 * PIECE));
    verifier.bytes(body.subarray(2 * PIECE));
    assert.equal(await verifier.finish(), expected, algorithm);
  }
});

test('finishing before every byte reached the hash fails instead of passing a prefix', async (t) => {
  const { body, path, pool, layout } = await setup(t, 2 * PIECE);
  const verifier = new DigestVerifier(pool, path, sha256(body.subarray(0, PIECE)));
  verifier.start(layout, [0]);
  await assert.rejects(verifier.finish(), { code: 'DF_ERR_STORAGE' });
});

/**
 * The piece server on a real port with a real store filled by the engine: only recorded pieces are
 * served, with exact lengths and their digest; anything else is a 4xx without touching files
 * outside the store; sendfile and the fallback path serve the same bytes over keep-alive.
 */
import { test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { Pool, request } from 'undici';
import { createPieceSender, TokenBucket, type Engine, type PieceStrategy } from '../../engine/index.ts';
import { createDaemonMetrics, createLogger, PIECE_DIGEST_HEADER, PieceServer, parsePiecePath } from '../../daemon/index.ts';
import { fixture, type Fixture } from '../support/engine.ts';
import { content, MiB } from '../support/origin.ts';

const PIECE = 4 * MiB;

async function serve(t: TestContext, engine: Engine, options: { fallback?: boolean; limit?: number; bytesPerSecond?: number } = {}) {
  const server = new PieceServer({
    tasks: engine.tasks,
    sender: createPieceSender({ forceFallback: options.fallback ?? false }),
    limiter: new TokenBucket({ bytesPerSecond: options.bytesPerSecond ?? 0, burstBytes: options.bytesPerSecond ? 1 : undefined }),
    concurrentUploadLimit: options.limit ?? 10,
    metrics: createDaemonMetrics(),
    log: createLogger('error', () => {}),
  });
  const port = await server.listen('127.0.0.1', 0);
  t.onTestFinished(() => server.close());
  return { server, base: `http://127.0.0.1:${port}` };
}

async function storedTask(f: Fixture, body: Buffer): Promise<string> {
  f.origin.setFile('/file', body);
  const result = await f.engine.download({ url: f.origin.url(), pieceLength: PIECE });
  return result.taskId;
}

const digestOf = (bytes: Buffer) => `crc32:${crc32(bytes)}`;

test('a recorded piece: exact bytes, Content-Length and digest; sendfile and fallback agree, over one keep-alive connection', async (t) => {
  const f = await fixture(t);
  const body = content(3 * PIECE + 1234, 401);
  const taskId = await storedTask(f, body);
  for (const fallback of [false, true]) {
    const { base } = await serve(t, f.engine, { fallback });
    const pool = new Pool(base, { connections: 1 });
    t.onTestFinished(() => pool.close());
    for (const number of [0, 3, 1, 2]) {
      const answer = await pool.request({ path: `/pieces/${taskId}/${number}`, method: 'GET' });
      const bytes = Buffer.from(await answer.body.arrayBuffer());
      const expected = body.subarray(number * PIECE, Math.min(body.length, (number + 1) * PIECE));
      assert.equal(answer.statusCode, 200);
      assert.equal(Number(answer.headers['content-length']), expected.length);
      assert.equal(answer.headers[PIECE_DIGEST_HEADER], digestOf(expected));
      assert.ok(bytes.equals(expected), `piece ${number} (${fallback ? 'fallback' : 'sendfile'})`);
    }
  }
});

test('unknown task, unfinished piece, out-of-range number, path-like ids and other methods are 4xx', async (t) => {
  const f = await fixture(t);
  const body = content(3 * PIECE, 402);
  f.origin.setFile('/file', body);
  // A download held after its first piece: the task is open with piece 0 recorded and 1, 2 not.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const strategy: PieceStrategy = async (session) => {
    const [first, ...rest] = session.task.missingPieces();
    const queue = [session.originJob(first!)];
    await session.runPieces(async () => queue.shift());
    await held;
    const more = rest.map((n) => session.originJob(n));
    await session.runPieces(async () => more.shift());
  };
  const download = f.engine.download({ url: f.origin.url(), pieceLength: PIECE, strategy });
  t.onTestFinished(async () => {
    release();
    await download.catch(() => {});
  });
  const { base } = await serve(t, f.engine);
  let taskId = '';
  const deadline = Date.now() + 10_000;
  while (!taskId && Date.now() < deadline) {
    taskId = (await f.engine.tasks.list()).find((task) => task.piece(0))?.taskId ?? '';
    if (!taskId) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(taskId, 'the held task is open with piece 0');
  const status = async (path: string, method = 'GET') => {
    const answer = await request(`${base}${path}`, { method });
    await answer.body.dump();
    return answer.statusCode;
  };
  assert.equal(await status(`/pieces/${taskId}/0`), 200);
  assert.equal(await status(`/pieces/${taskId}/1`), 404, 'an unfinished piece');
  assert.equal(await status(`/pieces/${taskId}/3`), 400, 'past the last piece');
  assert.equal(await status(`/pieces/${taskId}/-1`), 400);
  assert.equal(await status(`/pieces/${taskId}/1e3`), 400);
  assert.equal(await status(`/pieces/${'0'.repeat(64)}/0`), 404, 'an unknown task');
  assert.equal(await status(`/pieces/${taskId.toUpperCase()}/0`), 400);
  assert.equal(await status('/pieces/../../../../etc/passwd/0'), 404);
  assert.equal(await status('/pieces/..%2F..%2Fetc%2Fpasswd/0'), 400);
  assert.equal(await status(`/pieces/${taskId}/0/../1`), 404);
  assert.equal(await status('/'), 404);
  assert.equal(await status(`/pieces/${taskId}/0`, 'POST'), 400);
  assert.equal(await status(`/pieces/${taskId}/0`, 'DELETE'), 400);
  release();
  await download;
  assert.equal(await status(`/pieces/${taskId}/2`), 200, 'served once recorded');
});

test('over the concurrent upload limit: 429', async (t) => {
  const f = await fixture(t);
  const taskId = await storedTask(f, content(2 * PIECE, 403));
  // 8 MiB/s and no burst: the first piece holds its slot for about half a second.
  const { base } = await serve(t, f.engine, { limit: 1, bytesPerSecond: 8 * MiB });
  const first = request(`${base}/pieces/${taskId}/0`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const second = await request(`${base}/pieces/${taskId}/1`);
  await second.body.dump();
  assert.equal(second.statusCode, 429);
  const answer = await first;
  assert.equal(answer.statusCode, 200);
  assert.equal((await answer.body.arrayBuffer()).byteLength, PIECE);
});

test('piece paths are parsed before any lookup', () => {
  const id = 'a'.repeat(64);
  assert.deepEqual(parsePiecePath(`/pieces/${id}/12?x=1`), { taskId: id, number: 12 });
  for (const [path, code] of [
    ['/pieces/../0', 'DF_ERR_INVALID_ARGUMENT'],
    ['/pieces/../x/0', 'DF_ERR_NOT_FOUND'],
    [`/pieces/${id}/x`, 'DF_ERR_INVALID_ARGUMENT'],
    [`/pieces/${id}/12345678901`, 'DF_ERR_INVALID_ARGUMENT'],
    [`/pieces/${id}`, 'DF_ERR_NOT_FOUND'],
    [`/tasks/${id}/0`, 'DF_ERR_NOT_FOUND'],
  ] as const) {
    assert.throws(() => parsePiecePath(path), { code }, path);
  }
});

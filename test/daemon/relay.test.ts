/**
 * Cut-through relay on loopback, with a real engine as the parent (its piece bodies fed by the test,
 * so a piece stays half-written as long as the test wants), its real piece server, and a real child
 * engine fetching through PieceClient: a child that asks reads a piece while it still arrives and
 * gets its last byte only after the parent's own check (the digest itself comes over SyncPieces,
 * daemon/test/relay-sync.test.ts); a child that does not ask gets 404; a piece that fails the
 * parent's check is cut and the child takes it from elsewhere, nothing of it exported, whether
 * the child receives natively or through undici.
 */
import { test, type TestContext } from 'vitest';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { Pool } from 'undici';
import { createPieceSender, TokenBucket, type Engine, type PieceJob, type PieceStrategy, type TaskView } from '../../engine/index.ts';
import { createDaemonMetrics, createLogger, PIECE_DIGEST_HEADER, PieceClient, PieceServer } from '../../daemon/index.ts';
import { fixture } from '../support/engine.ts';
import { content, MiB } from '../support/origin.ts';

const PIECE = 4 * MiB;
const HALF = PIECE / 2;

async function serve(t: TestContext, engine: Engine): Promise<number> {
  const server = new PieceServer({
    tasks: engine.tasks,
    sender: createPieceSender(),
    limiter: new TokenBucket({ bytesPerSecond: 0 }),
    concurrentUploadLimit: 10,
    metrics: createDaemonMetrics(),
    log: createLogger('error', () => {}),
  });
  const port = await server.listen('127.0.0.1', 0);
  t.onTestFinished(() => server.close());
  return port;
}

/**
 * A parent downloading `body` whose piece 0 arrives in two halves, the second once `release()` is
 * called; `expectedDigest` is what the parent's own check wants for it. The rest from the origin.
 */
async function halfReceivedParent(t: TestContext, body: Buffer, expectedDigest: string) {
  const f = await fixture(t);
  f.origin.setFile('/file', body);
  const gate = Promise.withResolvers<void>();
  async function* halves(): AsyncIterable<Uint8Array> {
    yield body.subarray(0, HALF);
    await gate.promise;
    yield body.subarray(HALF, PIECE);
  }
  const strategy: PieceStrategy = async (session) => {
    const first: PieceJob = { number: 0, fetch: async () => ({ body: halves(), source: 'test-feed', expectedDigest }) };
    const queue = [first];
    // Its failure is the test's point: the piece then comes from the origin.
    await session.runPieces(async () => queue.shift(), async () => true);
    const rest = session.task.missingPieces().map((n) => session.originJob(n));
    await session.runPieces(async () => rest.shift());
  };
  const download = f.engine.download({ url: f.origin.url(), pieceLength: PIECE, strategy });
  t.onTestFinished(async () => {
    gate.resolve();
    await download.catch(() => {});
  });
  let view: TaskView | undefined;
  const deadline = Date.now() + 10_000;
  while (!view && Date.now() < deadline) {
    view = (await f.engine.tasks.list()).find((task) => (task.receiving(0)?.written ?? 0) >= HALF);
    if (!view) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(view, 'the parent has half of piece 0 written');
  const port = await serve(t, f.engine);
  return { f, view, port, release: () => gate.resolve(), download };
}

const digestOf = (bytes: Uint8Array) => `crc32:${crc32(bytes)}`;

test('a child that asks reads a piece its parent is still receiving; its last byte follows the parent check; without asking: 404', async (t) => {
  const body = content(2 * PIECE, 1201);
  const piece = body.subarray(0, PIECE);
  const parent = await halfReceivedParent(t, body, digestOf(piece));
  const pool = new Pool(`http://127.0.0.1:${parent.port}`, { connections: 2 });
  t.onTestFinished(() => pool.close());

  const plain = await pool.request({ path: `/pieces/${parent.view.taskId}/0`, method: 'GET' });
  await plain.body.dump();
  assert.equal(plain.statusCode, 404, 'a child without the relay header sees only finished pieces');

  const answer = await pool.request({ path: `/pieces/${parent.view.taskId}/0`, method: 'GET', headers: { 'x-dragonfly-relay': '1' } });
  assert.equal(answer.statusCode, 200);
  assert.equal(Number(answer.headers['x-dragonfly-piece-length']), PIECE);
  assert.equal(Number(answer.headers['content-length']), PIECE, 'an exact length, as for a finished piece');
  assert.equal(answer.headers[PIECE_DIGEST_HEADER], undefined, 'no digest before the parent checked the piece');
  const chunks: Buffer[] = [];
  let received = 0;
  // One iterator for both halves: leaving a for-await would destroy the body.
  const reader = answer.body[Symbol.asyncIterator]();
  while (received < HALF) {
    const next = await reader.next();
    assert.ok(!next.done, 'the body ended before the first half');
    chunks.push(next.value);
    received += next.value.byteLength;
  }
  assert.equal(parent.view.piece(0), undefined, 'the first half arrived while the parent had not recorded piece 0');
  assert.ok(Buffer.concat(chunks).equals(piece.subarray(0, received)));
  parent.release();
  for (let next = await reader.next(); !next.done; next = await reader.next()) {
    chunks.push(next.value);
    received += next.value.byteLength;
    if (received === PIECE) assert.equal(parent.view.piece(0)?.digest, digestOf(piece), 'recorded by the parent before the last byte went out');
  }
  const relayed = Buffer.concat(chunks);
  assert.ok(relayed.equals(piece), 'the whole piece, byte for byte');
  assert.equal(answer.trailers[PIECE_DIGEST_HEADER], undefined, 'no trailer: the digest is announced over SyncPieces');
  await parent.download;
});

type Parent = Awaited<ReturnType<typeof halfReceivedParent>>;

/**
 * A child that asks `parent` for piece 0 while it is still arriving (the parent's check released
 * 50 ms later) and piece 1 from the origin; a failed piece goes back to the origin. Resolves what
 * failed, where each recorded piece came from, and the output.
 */
async function relayThenOrigin(t: TestContext, parent: Parent, client: PieceClient, body: Buffer, verifiedDigest: () => Promise<string | undefined>) {
  const child = await fixture(t);
  child.origin.setFile('/file', body);
  const failures: unknown[] = [];
  const strategy: PieceStrategy = async (session) => {
    const piece = { number: 0, offset: 0, length: PIECE, digest: '', receiving: true, verifiedDigest };
    const relayJob: PieceJob = { number: 0, fetch: (_range, signal) => client.fetch({ peerId: 'parent', ip: '127.0.0.1', port: parent.port }, parent.view.taskId, piece, signal) };
    const queue: PieceJob[] = [relayJob, session.originJob(1)];
    await session.runPieces(
      async () => {
        // The parent's bytes are on their way before its check runs.
        if (queue[0] === relayJob) setTimeout(parent.release, 50);
        return queue.shift();
      },
      async (number, error) => {
        failures.push(error);
        queue.push(session.originJob(number));
        return true;
      },
    );
  };
  const out = child.out();
  const pieces: Array<{ number: number; source: string }> = [];
  await child.download({
    url: child.origin.url(),
    pieceLength: PIECE,
    outputPath: out,
    strategy,
    onEvent: (event) => {
      if (event.type === 'piece') pieces.push({ number: event.piece.number, source: event.piece.source });
    },
  });
  return { failures, pieces, output: await readFile(out) };
}

for (const [label, verifiedDigest, code] of [
  ['never announced', async () => undefined, 'DF_ERR_PARENT_FAILED'],
  ['announced but not matching', async () => 'crc32:1', 'DF_ERR_PIECE_DIGEST_MISMATCH'],
] as const) test(`a relayed piece whose verified digest is ${label} is refused (${code}), refetched, and only good bytes exported`, async (t) => {
  const body = content(2 * PIECE, 1203);
  // The parent's own check passes: the whole body reaches the child, and only the digest decides.
  const parent = await halfReceivedParent(t, body, digestOf(body.subarray(0, PIECE)));
  const client = new PieceClient({ timeoutMs: 5_000 });
  t.onTestFinished(() => client.close());
  const { failures, pieces, output } = await relayThenOrigin(t, parent, client, body, verifiedDigest);
  assert.deepEqual(failures.map((e) => (e as { code?: string }).code), [code]);
  assert.deepEqual(pieces.filter((p) => p.number === 0), [{ number: 0, source: 'origin' }], 'piece 0 recorded once, from the origin');
  assert.ok(output.equals(body));
  await parent.download;
});

for (const receive of ['undici', 'native'] as const) test(`a relayed piece that fails the parent check is cut; the child (${receive}) refuses it, refetches it, and exports only good bytes`, async (t) => {
  const body = content(2 * PIECE, 1202);
  // The parent's own check wants another digest: its attempt at piece 0 fails after the last byte.
  const parent = await halfReceivedParent(t, body, 'crc32:1');
  const client = new PieceClient({ timeoutMs: 5_000, ...(receive === 'undici' && { directReceive: false }) });
  t.onTestFinished(() => client.close());
  // The bytes are right (only the parent's check is wrong), and so is this digest: only the cut can fail the piece.
  const { failures, pieces, output } = await relayThenOrigin(t, parent, client, body, async () => digestOf(body.subarray(0, PIECE)));
  assert.equal(failures.length, 1);
  assert.equal((failures[0] as { code?: string }).code, 'DF_ERR_PARENT_FAILED', 'the cut body fails the piece as the parent\'s fault');
  assert.deepEqual(
    pieces.filter((p) => p.number === 0),
    [{ number: 0, source: 'origin' }],
    'piece 0 recorded once, from the origin',
  );
  assert.ok(output.equals(body));
  await parent.download;
});

/** The registry of open and finished tasks: live pieces while downloading, the disk afterwards, also for a new process. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { ContentStore, TaskRegistry, type TaskEvent } from '../../engine/index.ts';
import { fixture } from '../support/engine.ts';
import { content, MiB } from '../support/origin.ts';

const PIECE = 4 * MiB;

test('subscribers see each recorded piece and the close; the finished task is then read from disk', async (t) => {
  const f = await fixture(t);
  const body = content(3 * PIECE - 5, 701);
  f.origin.setFile('/file', body);
  const events: TaskEvent[] = [];
  let taskId = '';
  let seenWhileOpen: boolean | undefined;
  const result = await f.engine.download({
    url: f.origin.url(),
    pieceLength: PIECE,
    onEvent: (event) => {
      if (event.type !== 'started') return;
      taskId = event.taskId;
      f.engine.tasks.subscribe(taskId, (e) => events.push(e));
      seenWhileOpen = f.engine.tasks.isOpen(taskId);
    },
  });
  assert.equal(seenWhileOpen, true);
  assert.deepEqual(events.filter((e) => e.type === 'piece').map((e) => (e.type === 'piece' ? e.record.number : -1)).sort(), [0, 1, 2]);
  assert.deepEqual(events.at(-1), { type: 'closed', complete: true });
  const view = await f.engine.tasks.get(result.taskId);
  assert.ok(view);
  assert.equal(view.downloading, false);
  assert.equal(view.complete, true);
  assert.equal(view.pieceCount, 3);
  assert.equal(view.piece(2)?.length, body.length - 2 * PIECE);

  // Another process (a restarted daemon) sees the same from the files alone.
  const fresh = new TaskRegistry(new ContentStore(f.storageDir));
  const reread = await fresh.get(result.taskId);
  assert.deepEqual(reread?.finishedPieces().map((p) => p.digest), view.finishedPieces().map((p) => p.digest));
  assert.deepEqual((await fresh.list()).map((v) => v.taskId), [result.taskId]);

  assert.equal(await fresh.get('../../etc/passwd'), undefined, 'not a task id: nothing, and no path built');
  assert.equal(await fresh.get('0'.repeat(64)), undefined);
  assert.equal(await fresh.remove(result.taskId), true);
  assert.equal(await fresh.get(result.taskId), undefined);
  assert.equal(await fresh.remove(result.taskId), false);
});

test('an unfinished task from an earlier process is not shown until a download resumes it', async (t) => {
  const f = await fixture(t, { engine: { concurrentPieceCount: 1 } });
  f.origin.setFile('/file', content(3 * PIECE, 702));
  const controller = new AbortController();
  let taskId = '';
  await assert.rejects(
    f.engine.download({
      url: f.origin.url(),
      pieceLength: PIECE,
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'started') taskId = event.taskId;
        if (event.type === 'piece') controller.abort(new Error('stop'));
      },
    }),
    { code: 'DF_ERR_ABORTED' },
  );
  assert.equal(await new TaskRegistry(new ContentStore(f.storageDir)).get(taskId), undefined);
});

test('a download that fails in this process leaves its task shown with the pieces it recorded (Failed, for GC and other peers) until a download opens it again', async (t) => {
  const f = await fixture(t, { engine: { concurrentPieceCount: 1 } });
  const body = content(3 * PIECE, 703);
  f.origin.setFile('/file', body);
  // The last piece answers 404 (not retried): pieces 0 and 1 are recorded, then the download fails.
  f.origin.fault({ kind: 'status', status: 404, times: Infinity, match: { rangeStart: 2 * PIECE } });
  let taskId = '';
  await assert.rejects(
    f.engine.download({
      url: f.origin.url(),
      pieceLength: PIECE,
      onEvent: (event) => {
        if (event.type === 'started') taskId = event.taskId;
      },
    }),
  );
  const view = await f.engine.tasks.get(taskId);
  assert.ok(view, 'still shown');
  assert.equal(view.complete, false);
  assert.equal(view.downloading, false);
  assert.deepEqual(view.finishedPieces().map((p) => p.number), [0, 1]);
  assert.equal(view.finishedBytes, 2 * PIECE);
  assert.equal(view.piece(2), undefined);
  assert.deepEqual((await f.engine.tasks.list()).map((v) => v.taskId), [taskId], 'listed for GC');

  // Downloaded again once the origin answers: opened, resumed, and complete.
  f.origin.clearFaults();
  await f.engine.download({ url: f.origin.url(), pieceLength: PIECE });
  const done = await f.engine.tasks.get(taskId);
  assert.equal(done?.complete, true);
  assert.equal(done?.finishedPieces().length, 3);
  assert.equal(await f.engine.tasks.remove(taskId), true);
  assert.equal(await f.engine.tasks.get(taskId), undefined);
});

/** The daemon's pure rules, table-driven: parent weights, GC eviction, request validation. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { checkPieceNumbers, checkTaskId, DEFAULT_PARENT_TX_BPS, taskRequestOfDownload, idleBandwidth, pickWeighted, tasksToEvict, type GcPolicy } from '../../daemon/index.ts';
import type { TaskView } from '../../engine/index.ts';

test('idle bandwidth: max - tx, at least 10% of max; 10 Gbps when unknown', () => {
  const cases: Array<[Parameters<typeof idleBandwidth>[0], number]> = [
    [{ maxTxBandwidth: 1000, txBandwidth: 200 }, 800],
    [{ maxTxBandwidth: 1000, txBandwidth: 990 }, 100],
    [{ maxTxBandwidth: 1000, txBandwidth: 5000 }, 100],
    [{ maxTxBandwidth: 0, txBandwidth: 0 }, DEFAULT_PARENT_TX_BPS],
    [undefined, DEFAULT_PARENT_TX_BPS],
    [{ maxTxBandwidth: 1000 }, 1000],
  ];
  for (const [network, expected] of cases) assert.equal(idleBandwidth(network), expected, JSON.stringify(network));
});

test('weighted choice follows the weights', () => {
  const items = ['a', 'b', 'c'];
  const weights: Record<string, number> = { a: 1, b: 3, c: 0 };
  // A random source walking evenly over [0, 1): the counts come out exactly proportional.
  const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
  for (let i = 0; i < 400; i++) counts[pickWeighted(items, (x) => weights[x]!, () => i / 400)!]!++;
  assert.deepEqual(counts, { a: 100, b: 300, c: 0 });
  assert.equal(pickWeighted([], () => 1), undefined);
  assert.equal(pickWeighted(['only'], () => 0), 'only');
  assert.ok(['x', 'y'].includes(pickWeighted(['x', 'y'], () => 0, () => 0.7)!), 'all weights 0: uniform');
});

function view(taskId: string, updatedAt: number, contentLength: number, extra: Partial<TaskView> = {}): TaskView {
  return { taskId, updatedAt, contentLength, finishedBytes: contentLength, downloading: false, complete: true, ...extra } as TaskView;
}

test('GC: TTL first, then least recently used until under the low mark; open tasks never', () => {
  const policy: GcPolicy = { intervalMs: 1, taskTtlMs: 1000, diskHighThresholdPercent: 80, diskLowThresholdPercent: 60 };
  const now = 10_000;
  const tasks = [view('old', 1000, 10), view('new', 9500, 10), view('mid', 5000, 10), view('busy', 0, 10, { downloading: true })];
  assert.deepEqual(tasksToEvict(tasks, policy, now).map((t) => t.taskId), ['old', 'mid']);
  assert.deepEqual(tasksToEvict(tasks, { ...policy, taskTtlMs: 1e9 }, now, { totalBytes: 100, usedBytes: 70 }).map((t) => t.taskId), [], 'under the high mark');
  assert.deepEqual(
    tasksToEvict(tasks, { ...policy, taskTtlMs: 1e9 }, now, { totalBytes: 100, usedBytes: 85 }).map((t) => t.taskId),
    ['old', 'mid', 'new'],
    'over the high mark: oldest first until at or below 60',
  );
  assert.deepEqual(
    tasksToEvict(tasks, { ...policy, taskTtlMs: 1e9, diskLowThresholdPercent: 65 }, now, { totalBytes: 100, usedBytes: 81 }).map((t) => t.taskId),
    ['old', 'mid'],
    'stops once at or below the low mark',
  );
  // A task whose download failed here holds only the pieces it recorded: evicted like the others, counted by what it holds.
  const failed = view('failed', 2000, 40, { complete: false, finishedBytes: 20 });
  assert.deepEqual(tasksToEvict([...tasks, failed], policy, now).map((t) => t.taskId), ['old', 'failed', 'mid']);
  assert.deepEqual(
    tasksToEvict([...tasks, failed], { ...policy, taskTtlMs: 1e9 }, now, { totalBytes: 100, usedBytes: 85 }).map((t) => t.taskId),
    ['old', 'failed'],
    'its 20 bytes, not its 40, bring the disk from 85 to 55',
  );
});

test('request validation names the field', () => {
  assert.equal(checkTaskId('a'.repeat(64)), 'a'.repeat(64));
  for (const bad of ['', 'A'.repeat(64), '../x', 'a'.repeat(65)]) assert.throws(() => checkTaskId(bad), { code: 'DF_ERR_INVALID_ARGUMENT' });
  assert.equal(checkPieceNumbers([], 3), undefined);
  assert.deepEqual([...checkPieceNumbers([0, 2], 3)!], [0, 2]);
  assert.throws(() => checkPieceNumbers([3], 3), /out of range/);
  const base = { url: 'https://example.com/f', type: 'STANDARD', priority: 'LEVEL6', filteredQueryParams: [], requestHeader: {} };
  const spec = taskRequestOfDownload(base as never, { output: true });
  assert.equal(spec.url, base.url);
  assert.equal(spec.filteredQueryParams, undefined, 'an empty list means the default filters');
  assert.equal(taskRequestOfDownload({ ...base, outputPath: '/tmp/x' } as never, { output: false }).outputPath, undefined, 'the upload service writes no output');
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ url: '' }, /download\.url is required/],
    [{ url: 'ftp://x/y' }, /schemes/],
    [{ outputPath: 'rel' }, /output_path/],
    [{ pieceLength: 1 }, /piece_length/],
    [{ digest: 'sha256:zz' }, /download\.digest/],
    [{ concurrentPieceCount: 0 }, /concurrent_piece_count/],
    [{ requestHeader: { 'a b': 'x' } }, /request_header/],
    [{ type: 'PERSISTENT' }, /type/],
  ];
  for (const [patch, message] of bad) {
    const code = 'url' in patch && patch.url ? 'DF_ERR_UNSUPPORTED_SCHEME' : 'digest' in patch ? 'DF_ERR_INVALID_DIGEST' : 'DF_ERR_INVALID_ARGUMENT';
    assert.throws(() => taskRequestOfDownload({ ...base, ...patch } as never, { output: true }), { code, message }, JSON.stringify(patch));
  }
});

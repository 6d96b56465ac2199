/**
 * The soak bench's pure part (bench/soak/analysis.ts): growth per hour from a least-squares slope
 * after the warm-up, and which daemon error lines an injected cancellation explains.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { classifyLines, growthPerHour, isAbortLike, leastSquares, leastSquaresSlope, type InjectedFault, type SeenLine } from './analysis.ts';

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} != ${expected}`);

test('least-squares slope: exact on lines, NaN when undefined, and the fit of noisy points', () => {
  const cases: Array<[string, Array<[number, number]>, number]> = [
    ['rising line', [[0, 1], [1, 3], [2, 5], [3, 7]], 2],
    ['flat', [[0, 4], [10, 4], [20, 4]], 0],
    ['falling, uneven spacing', [[0, 10], [1, 9], [5, 5]], -1],
    ['symmetric noise around a flat mean', [[0, 1], [1, 3], [2, 1], [3, 3], [4, 1], [5, 3], [6, 1], [7, 3], [8, 1], [9, 3], [10, 1], [11, 3]], 6 / 143],
  ];
  for (const [name, points, slope] of cases) close(leastSquaresSlope(points.map(([t, v]) => ({ t, v }))), slope, name);
  assert.ok(Number.isNaN(leastSquaresSlope([])));
  assert.ok(Number.isNaN(leastSquaresSlope([{ t: 1, v: 1 }])));
  assert.ok(Number.isNaN(leastSquaresSlope([{ t: 5, v: 1 }, { t: 5, v: 2 }])), 'no time span');
});

test('growth per hour leaves out the warm-up and is a percentage of the mean after it', () => {
  // A steep warm-up (0 -> 100 in 60 s), then 100 MB growing 10 MB an hour.
  const points = [
    ...Array.from({ length: 6 }, (_, i) => ({ t: i * 10, v: (i * 100) / 6 })),
    ...Array.from({ length: 61 }, (_, i) => ({ t: 60 + i * 60, v: 100 + (10 * i * 60) / 3600 })),
  ];
  const g = growthPerHour(points, 60);
  assert.equal(g.samples, 61);
  close(g.spanSeconds, 3600, 'span');
  close(g.slopePerHour, 10, 'slope per hour');
  close(g.mean, 105, 'mean');
  close(g.percentPerHour, (10 / 105) * 100, '% per hour');
  close(g.noisePercentPerHour, 0, 'noise of points exactly on a line');
  assert.equal(g.min, 100);
  close(g.max, 110, 'max');
  // With the warm-up included the slope is dominated by it.
  assert.ok(growthPerHour(points, 0).percentPerHour > 20);
  // A shrinking series has negative growth; nothing after the warm-up gives NaN.
  assert.ok(growthPerHour([{ t: 0, v: 10 }, { t: 3600, v: 9 }], 0).percentPerHour < 0);
  assert.ok(Number.isNaN(growthPerHour(points, 10_000).percentPerHour));
  assert.ok(Number.isNaN(growthPerHour([{ t: 0, v: 0 }, { t: 1, v: 0 }], 0).percentPerHour), 'zero mean');
});

const T0 = Date.parse('2026-12-02T12:00:00Z');
const line = (atS: number, level: string, msg: string, fields: Record<string, unknown> = {}): SeenLine => ({ process: 'peer', atMs: T0 + atS * 1000, level, msg, fields });

test('the noise band is two standard errors of the slope, in % of the mean per hour', () => {
  // Alternating 99 / 101 every 60 s for an hour: no trend, a slope that is pure noise.
  const points = Array.from({ length: 61 }, (_, i) => ({ t: i * 60, v: i % 2 === 0 ? 99 : 101 }));
  const { slope, standardError } = leastSquares(points);
  const n = points.length;
  const meanT = 1800;
  const den = points.reduce((sum, p) => sum + (p.t - meanT) ** 2, 0);
  const meanV = points.reduce((sum, p) => sum + p.v, 0) / n;
  const residuals = points.reduce((sum, p) => sum + (p.v - meanV - slope * (p.t - meanT)) ** 2, 0);
  close(standardError, Math.sqrt(residuals / (n - 2) / den), 'standard error');
  const g = growthPerHour(points, 0);
  close(g.noisePercentPerHour, Math.abs(((2 * standardError * 3600) / g.mean) * 100), 'noise band');
  assert.ok(Math.abs(g.percentPerHour) < g.noisePercentPerHour, 'a trendless series stays inside its noise band');
  assert.ok(Number.isNaN(leastSquares([{ t: 0, v: 1 }, { t: 1, v: 2 }]).standardError), 'two points have no standard error');
});

test('abort-like lines: by message, by error code or name, by error message', () => {
  const cases: Array<[SeenLine, boolean]> = [
    [line(0, 'error', 'download aborted'), true],
    [line(0, 'error', 'request cancelled by the client'), true],
    [line(0, 'error', 'download failed', { error: { name: 'DfError', code: 'DF_ERR_CLIENT_GONE', message: 'x' } }), true],
    [line(0, 'error', 'download failed', { error: { name: 'AbortedError', code: 'X', message: 'x' } }), true],
    [line(0, 'error', 'stream closed', { error: { name: 'Error', message: 'no request follows this download any more' } }), true],
    [line(0, 'error', 'write failed', { reason: 'EPIPE' }), true],
    [line(0, 'error', 'content does not match the digest asked for; task dropped', { taskId: 'a' }), false],
    [line(0, 'error', 'gc failed', { error: { name: 'Error', code: 'ENOENT', message: 'no such file' } }), false],
  ];
  for (const [l, expected] of cases) assert.equal(isAbortLike(l), expected, `${l.msg} ${JSON.stringify(l.fields)}`);
});

test('error lines: explained only when abort-like and within the window after a kill', () => {
  const faults: InjectedFault[] = [
    { kind: 'cancel', atMs: T0 + 10_000, detail: 'dfget SIGINT, killed mid-download' },
    { kind: 'cancel', atMs: T0 + 100_000, detail: 'dfget SIGKILL, killed mid-download' },
  ];
  const lines = [
    line(5, 'error', 'download aborted'), // before any kill (beyond the 1 s skew)
    line(9.5, 'error', 'download aborted'), // within the skew before the first kill
    line(12, 'error', 'download aborted'), // 2 s after the first kill
    line(45, 'error', 'download aborted'), // 35 s after: outside the 30 s window
    line(13, 'error', 'content does not match the digest asked for; task dropped'), // not abort-like
    line(101, 'warn', 'download failed', { error: { name: 'AbortedError', code: 'DF_ERR_ABORTED', message: 'download aborted' } }),
    line(102, 'warn', 'download failed', { error: { name: 'DfError', code: 'DF_ERR_SOURCE_STATUS', message: 'origin answered 500' } }),
    line(103, 'info', 'download finished'),
    line(104, 'raw', 'FATAL ERROR: Reached heap limit'),
    line(105, 'raw', '   '),
  ];
  const summary = classifyLines(lines, faults, 30_000);
  assert.equal(summary.errors.length, 5);
  assert.deepEqual(
    summary.errors.map((e) => e.explainedBy !== undefined),
    [false, true, true, false, false],
  );
  assert.match(summary.errors[2]!.explainedBy!, /^cancel 2\.0 s before \(dfget SIGINT/);
  // Unexplained: the three error lines and the non-blank non-JSON line.
  assert.equal(summary.unexplainedErrors.length, 4);
  assert.deepEqual(summary.raw.map((l) => l.msg), ['FATAL ERROR: Reached heap limit']);
  assert.deepEqual([...summary.warnings], [['download failed', 2]]);
  assert.equal(summary.warningsExplained, 1, 'the aborted download 1 s after the second kill; not the origin error');
  // Without faults nothing is explained.
  assert.equal(classifyLines(lines, [], 30_000).unexplainedErrors.length, 6);
});

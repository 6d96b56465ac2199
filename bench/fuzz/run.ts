/**
 * `npm run bench:fuzz -- [--runs 10000] [--seed N]`: the listener fuzz test (test/fuzz/listeners.test.ts)
 * at bench volume. It runs the test itself, in a child vitest with DF_FUZZ_RUNS / DF_FUZZ_SEED, so
 * the inputs come from the very generators `npm test` uses (bench may not import test/, and the
 * components are started by the test's own helpers); each listener's counts come back as JSON lines
 * through DF_FUZZ_REPORT and are printed as one table. Exit status is the test's.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = join(import.meta.dirname, '..', '..');
const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');

interface Report {
  readonly listener: string;
  readonly seed: number;
  readonly sent: number;
  readonly answers: Record<string, number>;
  readonly own5xx: number;
  readonly hangs: number;
  readonly crashes: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly wallMs: number;
}

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10000' }, seed: { type: 'string' } }, strict: true });
const runs = Number(values.runs);
if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
const seed = values.seed ?? String((Date.now() ^ (process.pid << 16)) >>> 0);

const dir = mkdtempSync(join(tmpdir(), 'df-bench-fuzz-'));
const reportPath = join(dir, 'reports.jsonl');
const started = Date.now();
// The test allows 120 s + 60 ms per input per listener; the whole run gets that for all three tests, plus a margin.
const deadlineMs = 3 * (120_000 + runs * 60) + 60_000;
const child = spawn(process.execPath, [VITEST, 'run', 'test/fuzz/listeners.test.ts'], {
  cwd: ROOT,
  env: { ...process.env, DF_FUZZ_RUNS: String(runs), DF_FUZZ_SEED: seed, DF_FUZZ_REPORT: reportPath },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const timer = setTimeout(() => {
  process.stderr.write(`bench:fuzz: no end within ${deadlineMs / 1000} s; stopping the test run\n`);
  child.kill('SIGTERM');
}, deadlineMs);
const interrupt = () => child.kill('SIGTERM');
process.once('SIGINT', interrupt);
const code = await new Promise<number>((resolve) => child.on('close', (exit) => resolve(exit ?? 1)));
clearTimeout(timer);
process.off('SIGINT', interrupt);

let reports: Report[] = [];
try {
  reports = readFileSync(reportPath, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Report);
} catch {
  reports = [];
}
rmSync(dir, { recursive: true, force: true });

const rows = reports.map((r) => [
  r.listener,
  String(r.sent),
  Object.entries(r.answers).sort(([, a], [, b]) => b - a).map(([label, count]) => `${label} ${count}`).join(', '),
  String(r.crashes),
  String(r.own5xx),
  String(r.hangs),
  r.p50Ms.toFixed(1),
  r.p99Ms.toFixed(1),
  (r.wallMs / 1000).toFixed(1),
]);
const header = ['listener', 'inputs', 'answers', 'crashes', 'own 5xx / INTERNAL', 'hangs', 'p50 ms', 'p99 ms', 'wall s'];
console.log(`\nbench:fuzz: seed ${seed}, ${runs} inputs per listener, ${((Date.now() - started) / 1000).toFixed(0)} s in all (load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')})`);
for (const cells of [header, header.map(() => '---'), ...rows]) console.log(`| ${cells.join(' | ')} |`);
if (reports.length === 0) console.log('no reports: the test run failed before any listener was fuzzed');
process.exitCode = code;

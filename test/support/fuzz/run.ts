/**
 * The fuzz loop: inputs from a seeded generator sent to one listener a few at a time, every answer
 * classified (HTTP status, gRPC code, closed, hang), latency kept, and what must never happen (a
 * 5xx of our own, INTERNAL/UNKNOWN, a hang, a refused connection) collected with the input that
 * caused it. The same loop serves the test (test/fuzz) and `npm run bench:fuzz`.
 */
import { Rng } from './rng.ts';

/** How one input was answered: `label` is its column in the table; `problem` says what was wrong, if anything. */
export interface Verdict {
  readonly label: string;
  readonly ms: number;
  readonly problem?: string | undefined;
}

export interface FuzzListener<I> {
  readonly name: string;
  generate(rng: Rng): I;
  /** A short printable form of the input for failure reports. */
  describe(input: I): string;
  send(input: I): Promise<Verdict>;
}

export interface FuzzProblem {
  readonly index: number;
  readonly input: string;
  readonly problem: string;
}

export interface FuzzReport {
  readonly listener: string;
  readonly seed: number;
  readonly sent: number;
  readonly answers: Readonly<Record<string, number>>;
  /** Inputs answered with a 5xx of our own (HTTP) or INTERNAL / UNKNOWN (gRPC). */
  readonly own5xx: number;
  readonly hangs: number;
  /** Set by the caller after checking the process still runs and answers (0 or 1). */
  crashes: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly problems: readonly FuzzProblem[];
  readonly wallMs: number;
}

export interface FuzzOptions {
  readonly runs: number;
  readonly seed: number;
  readonly concurrency: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runFuzz<I>(listener: FuzzListener<I>, options: FuzzOptions): Promise<FuzzReport> {
  const rng = Rng.derive(options.seed, listener.name);
  const started = performance.now();
  const answers: Record<string, number> = {};
  const latencies: number[] = [];
  const problems: FuzzProblem[] = [];
  let own5xx = 0;
  let hangs = 0;
  let next = 0;
  // Inputs are drawn in index order whatever the concurrency, so a seed names the same inputs.
  const inputs: I[] = [];
  const take = (): [number, I] | undefined => {
    if (next >= options.runs) return undefined;
    const index = next++;
    inputs[index] ??= listener.generate(rng);
    return [index, inputs[index]!];
  };
  const worker = async () => {
    for (let item = take(); item; item = take()) {
      const [index, input] = item;
      const verdict = await listener.send(input);
      delete inputs[index];
      answers[verdict.label] = (answers[verdict.label] ?? 0) + 1;
      latencies.push(verdict.ms);
      if (verdict.problem) {
        if (/^hang/.test(verdict.problem)) hangs++;
        else own5xx++;
        if (problems.length < 50) problems.push({ index, input: listener.describe(input).slice(0, 400), problem: verdict.problem });
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  latencies.sort((a, b) => a - b);
  return {
    listener: listener.name,
    seed: options.seed,
    sent: options.runs,
    answers,
    own5xx,
    hangs,
    crashes: 0,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    problems,
    wallMs: performance.now() - started,
  };
}

/** What went wrong, with the seed and the command that replays it; undefined when nothing did. */
export function failureText(report: FuzzReport, runs: number): string | undefined {
  if (report.problems.length === 0 && report.crashes === 0) return undefined;
  const lines = report.problems.slice(0, 12).map((p) => `  #${p.index}: ${p.problem}\n      input: ${p.input}`);
  return [
    `${report.listener}: ${report.own5xx} bad answers, ${report.hangs} hangs, ${report.crashes} crashes in ${report.sent} inputs`,
    `  reproduce: DF_FUZZ_SEED=${report.seed} DF_FUZZ_RUNS=${runs} npx vitest run test/fuzz/`,
    ...lines,
  ].join('\n');
}

/** One table of every listener's report, as bench/README.md records it. */
export function formatReports(reports: readonly FuzzReport[]): string {
  const header = ['listener', 'inputs', 'answers', 'crashes', 'own 5xx / INTERNAL', 'hangs', 'p50 ms', 'p99 ms'];
  const rows = reports.map((r) => [
    r.listener,
    String(r.sent),
    Object.entries(r.answers)
      .sort(([, a], [, b]) => b - a)
      .map(([label, count]) => `${label} ${count}`)
      .join(', '),
    String(r.crashes),
    String(r.own5xx),
    String(r.hangs),
    r.p50Ms.toFixed(1),
    r.p99Ms.toFixed(1),
  ]);
  const lines = [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`);
  return lines.join('\n');
}

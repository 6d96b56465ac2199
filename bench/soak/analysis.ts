/**
 * The soak's pure part: growth of a sampled quantity per hour (least-squares slope over the samples
 * after the warm-up, as a percentage of their mean), and the classification of daemon log lines
 * into those an injected fault explains and those nothing explains.
 */

/** One sample: seconds since the soak started, and the value then. */
export interface Point {
  readonly t: number;
  readonly v: number;
}

export interface Growth {
  /** Samples the slope was fitted to (those at or after the warm-up). */
  readonly samples: number;
  /** Seconds the fitted samples span. */
  readonly spanSeconds: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  /** Least-squares slope, in the value's unit per hour. */
  readonly slopePerHour: number;
  /** slopePerHour / mean x 100; NaN with fewer than 2 samples, no time span or a zero mean. */
  readonly percentPerHour: number;
  /**
   * Two standard errors of the slope, in % of the mean per hour: a growth inside +-this cannot be
   * told from noise over the samples' span (a short run's slope is mostly GC sawtooth and bursts).
   */
  readonly noisePercentPerHour: number;
}

/**
 * The least-squares line of v over t: its slope (unit of v per unit of t) and the slope's standard
 * error (NaN with fewer than 3 points); both NaN when the slope is undefined.
 */
export function leastSquares(points: readonly Point[]): { slope: number; standardError: number } {
  const n = points.length;
  if (n < 2) return { slope: Number.NaN, standardError: Number.NaN };
  let meanT = 0;
  let meanV = 0;
  for (const p of points) {
    meanT += p.t / n;
    meanV += p.v / n;
  }
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - meanT) * (p.v - meanV);
    den += (p.t - meanT) ** 2;
  }
  if (!(den > 0)) return { slope: Number.NaN, standardError: Number.NaN };
  const slope = num / den;
  let residuals = 0;
  for (const p of points) residuals += (p.v - meanV - slope * (p.t - meanT)) ** 2;
  return { slope, standardError: n > 2 ? Math.sqrt(residuals / (n - 2) / den) : Number.NaN };
}

/** The least-squares slope of v over t (unit of v per unit of t); NaN when it is undefined. */
export function leastSquaresSlope(points: readonly Point[]): number {
  return leastSquares(points).slope;
}

/** Growth per hour of the points at or after `warmupSeconds`. */
export function growthPerHour(points: readonly Point[], warmupSeconds: number): Growth {
  const kept = points.filter((p) => p.t >= warmupSeconds && Number.isFinite(p.v));
  const values = kept.map((p) => p.v);
  const mean = values.length > 0 ? values.reduce((sum, v) => sum + v, 0) / values.length : Number.NaN;
  const fit = leastSquares(kept);
  const slopePerHour = fit.slope * 3600;
  const percentOfMean = (perHour: number) => (mean !== 0 && Number.isFinite(mean) ? (perHour / mean) * 100 : Number.NaN);
  const spanSeconds = kept.length > 0 ? kept[kept.length - 1]!.t - kept[0]!.t : 0;
  return {
    samples: kept.length,
    spanSeconds,
    mean,
    min: values.length > 0 ? Math.min(...values) : Number.NaN,
    max: values.length > 0 ? Math.max(...values) : Number.NaN,
    slopePerHour,
    percentPerHour: percentOfMean(slopePerHour),
    noisePercentPerHour: Math.abs(percentOfMean(2 * fit.standardError * 3600)),
  };
}

/** A daemon log line as the soak keeps it: which process, when it came, its JSON fields. */
export interface SeenLine {
  readonly process: string;
  /** Epoch ms: the line's own `time` when it has one, else when the bench read it. */
  readonly atMs: number;
  readonly level: string;
  readonly msg: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A fault the soak injected on purpose. */
export interface InjectedFault {
  readonly kind: 'cancel';
  /** Epoch ms of the kill. */
  readonly atMs: number;
  readonly detail: string;
}

export interface Classified {
  readonly line: SeenLine;
  /** Why an injected fault explains it; undefined when nothing does. */
  readonly explainedBy: string | undefined;
}

export interface LogSummary {
  readonly errors: readonly Classified[];
  readonly unexplainedErrors: readonly Classified[];
  /** Warn-level lines by message (informational: the target is on errors). */
  readonly warnings: ReadonlyMap<string, number>;
  /** Warn-level lines an injected fault explains, by the same rule as errors. */
  readonly warningsExplained: number;
  /** Lines that were not JSON (a crash trace, a Node warning): counted as unexplained errors. */
  readonly raw: readonly SeenLine[];
}

/** Error codes and names of a download stopped because its client went away. */
const ABORT_CODES = new Set(['DF_ERR_ABORTED', 'DF_ERR_CLIENT_GONE', 'DF_ERR_SCHEDULE_ABORTED']);
const ABORT_NAMES = new Set(['AbortError', 'AbortedError']);
const ABORT_TEXT = /\babort|\bcancel|client (?:went away|gone|closed)|no request follows|premature close|ECONNRESET|EPIPE/i;

/** True when the line is about a download or request stopped because its client left. */
export function isAbortLike(line: SeenLine): boolean {
  if (ABORT_TEXT.test(line.msg)) return true;
  for (const value of Object.values(line.fields)) {
    if (typeof value === 'string' && ABORT_TEXT.test(value)) return true;
    if (value !== null && typeof value === 'object') {
      const error = value as { code?: unknown; name?: unknown; message?: unknown };
      if (typeof error.code === 'string' && ABORT_CODES.has(error.code)) return true;
      if (typeof error.name === 'string' && ABORT_NAMES.has(error.name)) return true;
      if (typeof error.message === 'string' && ABORT_TEXT.test(error.message)) return true;
    }
  }
  return false;
}

/**
 * An abort-like line within `windowMs` after an injected cancellation (and at most `skewMs`
 * before it: the daemon's clock and the bench's are the same machine's, but the kill is stamped
 * after it was sent) is explained by that cancellation; every other error-level line, and every
 * line that is not JSON, is unexplained.
 */
export function classifyLines(lines: readonly SeenLine[], faults: readonly InjectedFault[], windowMs: number, skewMs = 1_000): LogSummary {
  const errors: Classified[] = [];
  const warnings = new Map<string, number>();
  const raw: SeenLine[] = [];
  let warningsExplained = 0;
  const sorted = [...faults].sort((a, b) => a.atMs - b.atMs);
  const explain = (line: SeenLine): string | undefined => {
    if (!isAbortLike(line)) return undefined;
    let nearest: InjectedFault | undefined;
    for (const fault of sorted) {
      if (fault.atMs - skewMs > line.atMs) break;
      if (line.atMs - fault.atMs <= windowMs) nearest = fault;
    }
    return nearest ? `${nearest.kind} ${((line.atMs - nearest.atMs) / 1000).toFixed(1)} s before (${nearest.detail})` : undefined;
  };
  for (const line of lines) {
    if (line.level === 'raw') {
      if (line.msg.trim() !== '') raw.push(line);
    } else if (line.level === 'error' || line.level === 'fatal') errors.push({ line, explainedBy: explain(line) });
    else if (line.level === 'warn') {
      warnings.set(line.msg, (warnings.get(line.msg) ?? 0) + 1);
      if (explain(line) !== undefined) warningsExplained++;
    }
  }
  const unexplainedErrors = [...errors.filter((e) => e.explainedBy === undefined), ...raw.map((line) => ({ line, explainedBy: undefined }))];
  return { errors, unexplainedErrors, warnings, warningsExplained, raw };
}

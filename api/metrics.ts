/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text
 * exposition format 0.0.4. Pure: serving `render()` over HTTP is the caller's job. Hot paths bind
 * their label values once with `labels(...)` and then only add numbers.
 */

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The samples of a Prometheus text page, by `name{labels}` (comments skipped). */
export function parseMetricsText(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

type LabelValues = Readonly<Record<string, string | number>>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** Label set rendered once, when a child is created. */
function renderLabels(names: readonly string[], values: readonly string[], extra = ''): string {
  const parts = names.map((name, i) => `${name}="${escapeLabelValue(values[i]!)}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

abstract class Metric<Child> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly children = new Map<string, { values: readonly string[]; child: Child }>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    if (!NAME.test(name)) throw new RangeError(`invalid metric name "${name}"`);
    for (const label of labelNames) {
      if (!LABEL.test(label) || label === 'le') throw new RangeError(`invalid label name "${label}" on ${name}`);
    }
    this.name = name;
    this.help = help;
    this.labelNames = Object.freeze([...labelNames]);
  }

  protected abstract create(values: readonly string[]): Child;

  /** The child for these label values; bind it once on hot paths. */
  labels(values: LabelValues = {}): Child {
    const ordered = this.labelNames.map((name) => {
      const value = values[name];
      if (value === undefined) throw new RangeError(`metric ${this.name} needs label "${name}"`);
      return String(value);
    });
    if (Object.keys(values).length !== ordered.length) {
      throw new RangeError(`metric ${this.name} takes labels ${this.labelNames.join(', ') || '(none)'}`);
    }
    const key = ordered.join('\u0000');
    let entry = this.children.get(key);
    if (!entry) {
      entry = { values: ordered, child: this.create(ordered) };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  abstract type(): string;
  abstract renderSamples(out: string[]): void;

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type()}`);
    this.renderSamples(out);
  }
}

export interface CounterChild {
  inc(value?: number): void;
  readonly value: number;
}

class CounterValue implements CounterChild {
  value = 0;
  inc(value = 1): void {
    if (!(value >= 0)) throw new RangeError(`a counter only goes up, got ${value}`);
    this.value += value;
  }
}

export class Counter extends Metric<CounterChild> {
  protected create(): CounterChild {
    return new CounterValue();
  }
  inc(labels?: LabelValues, value = 1): void {
    this.labels(labels).inc(value);
  }
  type(): string {
    return 'counter';
  }
  renderSamples(out: string[]): void {
    for (const { values, child } of this.children.values()) {
      out.push(`${this.name}${renderLabels(this.labelNames, values)} ${formatNumber(child.value)}`);
    }
  }
}

export interface GaugeChild {
  set(value: number): void;
  inc(value?: number): void;
  dec(value?: number): void;
  readonly value: number;
}

class GaugeValue implements GaugeChild {
  value = 0;
  set(value: number): void {
    this.value = value;
  }
  inc(value = 1): void {
    this.value += value;
  }
  dec(value = 1): void {
    this.value -= value;
  }
}

export class Gauge extends Metric<GaugeChild> {
  /** Called before rendering, for gauges computed from state (sizes of maps, say). */
  private readonly collect: ((gauge: Gauge) => void) | undefined;
  constructor(name: string, help: string, labelNames: readonly string[], collect?: (gauge: Gauge) => void) {
    super(name, help, labelNames);
    this.collect = collect;
  }
  protected create(): GaugeChild {
    return new GaugeValue();
  }
  set(labels: LabelValues | undefined, value: number): void {
    this.labels(labels).set(value);
  }
  type(): string {
    return 'gauge';
  }
  renderSamples(out: string[]): void {
    this.collect?.(this);
    for (const { values, child } of this.children.values()) {
      out.push(`${this.name}${renderLabels(this.labelNames, values)} ${formatNumber(child.value)}`);
    }
  }
}

export interface HistogramChild {
  observe(value: number): void;
  readonly count: number;
  readonly sum: number;
  /** Cumulative counts per upper bound, the last one being +Inf. */
  bucketCounts(): number[];
}

class HistogramValue implements HistogramChild {
  count = 0;
  sum = 0;
  private readonly bounds: readonly number[];
  private readonly counts: Float64Array;
  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.count++;
    this.sum += value;
  }
  bucketCounts(): number[] {
    let running = 0;
    return Array.from(this.counts, (n) => (running += n));
  }
}

export class Histogram extends Metric<HistogramChild> {
  readonly buckets: readonly number[];
  constructor(name: string, help: string, buckets: readonly number[], labelNames: readonly string[]) {
    super(name, help, labelNames);
    const sorted = [...buckets].sort((a, b) => a - b);
    if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
      throw new RangeError(`histogram ${name} needs distinct finite buckets`);
    }
    this.buckets = Object.freeze(sorted);
  }
  protected create(): HistogramChild {
    return new HistogramValue(this.buckets);
  }
  observe(labels: LabelValues | undefined, value: number): void {
    this.labels(labels).observe(value);
  }
  type(): string {
    return 'histogram';
  }
  renderSamples(out: string[]): void {
    for (const { values, child } of this.children.values()) {
      const cumulative = child.bucketCounts();
      this.buckets.forEach((bound, i) => {
        out.push(`${this.name}_bucket${renderLabels(this.labelNames, values, `le="${formatNumber(bound)}"`)} ${cumulative[i]}`);
      });
      out.push(`${this.name}_bucket${renderLabels(this.labelNames, values, 'le="+Inf"')} ${child.count}`);
      out.push(`${this.name}_sum${renderLabels(this.labelNames, values)} ${formatNumber(child.sum)}`);
      out.push(`${this.name}_count${renderLabels(this.labelNames, values)} ${child.count}`);
    }
  }
}

/** `start * factor^i` for i in [0, count): Prometheus' ExponentialBuckets. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}

/** Metrics of one process, rendered together. Names are unique within a registry. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric<unknown>>();

  private add<M extends Metric<unknown>>(metric: M): M {
    if (this.metrics.has(metric.name)) throw new RangeError(`metric ${metric.name} is already registered`);
    this.metrics.set(metric.name, metric);
    return metric;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = [], collect?: (gauge: Gauge) => void): Gauge {
    return this.add(new Gauge(name, help, labelNames, collect));
  }

  histogram(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []): Histogram {
    return this.add(new Histogram(name, help, buckets, labelNames));
  }

  /** The text exposition format, one metric family after another in registration order. */
  render(): string {
    const out: string[] = [];
    for (const metric of this.metrics.values()) metric.render(out);
    return `${out.join('\n')}\n`;
  }
}

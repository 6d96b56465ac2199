/** Pieces every page uses: loading data, errors in words, empty states, badges, bars, a chart. */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.ts';
import { bytes, percent, rate } from './format.ts';
import { html } from './html.ts';
import type { BytesBySource } from './types.ts';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Loads again; `quiet` keeps the current data on screen (live refreshes). */
  reload(quiet?: boolean): void;
  set(data: T): void;
}

/** Loads `load()` when `key` changes; answers that arrive after a newer load began are dropped. */
export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const generation = useRef(0);
  const latest = useRef(load);
  latest.current = load;
  const reload = useCallback((quiet = false) => {
    const mine = ++generation.current;
    if (!quiet) setState((previous) => ({ ...previous, loading: true, error: undefined }));
    latest.current().then(
      (data) => mine === generation.current && setState({ data, error: undefined, loading: false }),
      (error: unknown) => mine === generation.current && setState((previous) => ({ data: quiet ? previous.data : undefined, error, loading: false })),
    );
  }, []);
  useEffect(() => reload(), [key]);
  const set = useCallback((data: T) => setState({ data, error: undefined, loading: false }), []);
  return { ...state, reload, set };
}

export function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message.charAt(0).toUpperCase() + error.message.slice(1);
  if (error instanceof Error) return error.message;
  return String(error);
}

export function ErrorNote(props: { error: unknown }) {
  if (props.error === undefined || props.error === null) return null;
  return html`<p class="error" role="alert">${messageOf(props.error)}</p>`;
}

export function Empty(props: { children: ComponentChildren }) {
  return html`<div class="empty">${props.children}</div>`;
}

export function Loading() {
  return html`<p class="muted" aria-live="polite">Loading…</p>`;
}

/** Shows loading, an error, or the content of a Loaded value. */
export function Show<T>(props: { loaded: Loaded<T>; children: (data: T) => ComponentChildren }) {
  const { loaded } = props;
  if (loaded.data !== undefined) return html`${loaded.error ? html`<${ErrorNote} error=${loaded.error} />` : null}${props.children(loaded.data)}`;
  if (loaded.error) return html`<${ErrorNote} error=${loaded.error} />`;
  return html`<${Loading} />`;
}

const STATE_CLASS: Record<string, string> = {
  active: 'ok', SUCCESS: 'ok', Succeeded: 'ok', succeeded: 'ok', enable: 'ok',
  inactive: 'off', disable: 'off',
  FAILURE: 'bad', Failed: 'bad', failed: 'bad',
  back_to_source: 'busy', PENDING: 'busy', RUNNING: 'busy', Running: 'busy', running: 'busy', Pending: 'busy', pending: 'busy',
};

export function StateBadge(props: { state: string }) {
  return html`<span class=${`badge ${STATE_CLASS[props.state] ?? ''}`}>${props.state}</span>`;
}

export function PageHeader(props: { title: ComponentChildren; children?: ComponentChildren }) {
  return html`<div class="page-header"><h1>${props.title}</h1><div class="actions">${props.children}</div></div>`;
}

const SOURCES: ReadonlyArray<{ key: keyof BytesBySource; label: string }> = [
  { key: 'origin', label: 'origin' },
  { key: 'seed_peer', label: 'seed peer' },
  { key: 'peer', label: 'other peers' },
];

/** One host's bytes so far, split by where they came from, against the task's length. */
export function SourceBar(props: { by: BytesBySource; total: number | null; label: string }) {
  const sum = props.by.origin + props.by.seed_peer + props.by.peer;
  const whole = Math.max(props.total ?? 0, sum);
  const title = SOURCES.map(({ key, label }) => `${label} ${bytes(props.by[key])}`).join(', ');
  return html`<div class="source-bar" role="img" aria-label=${`${props.label}: ${title}`} title=${title}>
    ${SOURCES.map(({ key }) => html`<span class=${`seg ${key}`} style=${{ width: `${percent(props.by[key], whole)}%` }}></span>`)}
  </div>`;
}

export function SourceLegend(props: { by?: BytesBySource }) {
  return html`<ul class="legend">${SOURCES.map(
    ({ key, label }) => html`<li><span class=${`swatch ${key}`}></span>${label}${props.by ? html` <b>${bytes(props.by[key])}</b>` : null}</li>`,
  )}</ul>`;
}

export function ProgressBar(props: { value: number; whole: number; label: string }) {
  const share = percent(props.value, props.whole);
  return html`<div class="progress" role="progressbar" aria-label=${props.label} aria-valuemin="0" aria-valuemax="100" aria-valuenow=${Math.round(share)}>
    <span style=${{ width: `${share}%` }}></span>
  </div>`;
}

export interface Sample {
  /** ms since the epoch */
  at: number;
  bytesPerSecond: number;
}

/** Throughput over time as an SVG line; the newest sample on the right. */
export function ThroughputChart(props: { samples: readonly Sample[] }) {
  const width = 600;
  const height = 120;
  const { samples } = props;
  if (samples.length < 2) return html`<p class="muted">The throughput chart fills in while bytes arrive.</p>`;
  const first = samples[0]!.at;
  const span = Math.max(1, samples[samples.length - 1]!.at - first);
  const peak = Math.max(1, ...samples.map((sample) => sample.bytesPerSecond));
  const points = samples.map((sample) => `${((sample.at - first) / span) * width},${height - (sample.bytesPerSecond / peak) * (height - 8)}`).join(' ');
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label="throughput over time">
      <polyline points=${points} fill="none" stroke="currentColor" stroke-width="2" vector-effect="non-scaling-stroke" />
    </svg>
    <figcaption>peak ${rate(peak)} · now ${rate(samples[samples.length - 1]!.bytesPerSecond)} · last ${Math.round(span / 1000)} s</figcaption>
  </figure>`;
}

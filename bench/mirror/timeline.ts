/**
 * Where a mirror request's time goes before its first byte: the registry's own log (each
 * request's completion time to the nanosecond and its handler's duration) and the daemon's JSON log
 * lines, put on one clock relative to the moment the bench sent the request. All processes run on
 * this machine, so their wall clocks agree to well under a millisecond; the daemon logs in whole
 * milliseconds.
 */
import type { LogLine } from '../cluster/process.ts';
import { median } from '../lib/format.ts';
import type { CompletedRequest } from './registry.ts';

export type EventKind = 'access-check' | 'stat' | 'piece' | 'other-request' | 'log' | 'headers' | 'first-byte';

export interface TimelineEvent {
  /** Milliseconds after the request was sent. */
  readonly startMs: number;
  readonly endMs: number;
  readonly source: 'bench' | 'registry' | 'daemon';
  readonly kind: EventKind;
  readonly what: string;
}

/** The bench's clock as epoch milliseconds with a fractional part. */
export function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Which of the daemon's requests a registry log line is: Range is not logged, so by method and size. */
function kindOf(request: CompletedRequest): EventKind {
  const isBlob = /\/blobs\/sha256:/.test(request.uri);
  if (request.method === 'HEAD' && isBlob) return 'access-check';
  if (request.method === 'GET' && isBlob) return request.written === 1 ? 'stat' : 'piece';
  return 'other-request';
}

const KIND_LABEL: Partial<Record<EventKind, string>> = {
  'access-check': 'access check',
  stat: 'origin stat (bytes=0-0)',
  piece: 'piece from the registry',
};

export function buildTimeline(input: {
  fromEpochMs: number;
  firstByteMs: number;
  headersMs: number;
  registry: readonly CompletedRequest[];
  daemonLines: readonly LogLine[];
}): TimelineEvent[] {
  const { fromEpochMs } = input;
  const toEpochMs = fromEpochMs + input.firstByteMs;
  const events: TimelineEvent[] = [
    { startMs: input.headersMs, endMs: input.headersMs, source: 'bench', kind: 'headers', what: 'response headers received' },
    { startMs: input.firstByteMs, endMs: input.firstByteMs, source: 'bench', kind: 'first-byte', what: 'first body byte received' },
  ];
  for (const request of input.registry) {
    const start = request.endMs - request.durationMs;
    if (request.endMs < fromEpochMs || start > toEpochMs) continue;
    const kind = kindOf(request);
    const path = request.uri.replace(/sha256:([0-9a-f]{8})[0-9a-f]{56}/g, 'sha256:$1…');
    events.push({
      startMs: start - fromEpochMs,
      endMs: request.endMs - fromEpochMs,
      source: 'registry',
      kind,
      what: `${KIND_LABEL[kind] ?? 'request'}: ${request.method} ${path} -> ${request.status}, ${request.written} B`,
    });
  }
  for (const line of input.daemonLines) {
    const at = Date.parse(String(line['time'] ?? ''));
    // Whole milliseconds: a line stamped in the request's first millisecond belongs to it.
    if (!Number.isFinite(at) || at < Math.floor(fromEpochMs) || at > toEpochMs) continue;
    events.push({ startMs: at - fromEpochMs, endMs: at - fromEpochMs, source: 'daemon', kind: 'log', what: `log: ${line.msg ?? '?'}` });
  }
  return events.sort((a, b) => a.startMs - b.startMs);
}

/** Piece requests listed one by one in a formatted timeline; the rest are summed up in one line. */
const LISTED_PIECES = 3;

/** `+12.3 ms (3.4 ms) registry: piece from the registry: ...` lines for the report's notes. */
export function formatTimeline(events: readonly TimelineEvent[]): string[] {
  const lines: string[] = [];
  let pieces = 0;
  let unlisted: TimelineEvent[] = [];
  const flush = () => {
    if (unlisted.length === 0) return;
    const first = unlisted[0]!.startMs;
    const last = unlisted[unlisted.length - 1]!.startMs;
    lines.push(`+${first.toFixed(1).padStart(6)} ms ... +${last.toFixed(1)} ms: ${unlisted.length} more piece requests to the registry`);
    unlisted = [];
  };
  for (const event of events) {
    if (event.kind === 'piece' && ++pieces > LISTED_PIECES) {
      unlisted.push(event);
      continue;
    }
    flush();
    const took = event.endMs - event.startMs;
    lines.push(`+${event.startMs.toFixed(1).padStart(6)} ms${took > 0.05 ? ` (${took.toFixed(1)} ms)` : ''} ${event.source}: ${event.what}`);
  }
  flush();
  return lines;
}

export const PHASES = [
  'request -> access check',
  'access check (HEAD upstream)',
  '-> download started',
  '-> origin stat done',
  '-> scheduler answered',
  '-> first piece request',
  'first piece request',
  '-> first byte',
] as const;
export type Phase = (typeof PHASES)[number];

/**
 * The timeline cut into consecutive phases (ms each), as far as its events allow: a warm request
 * takes its pieces from a peer, so it has no piece requests at the registry and its last phase runs
 * from the scheduler's answer to the first byte.
 */
export function phasesOf(events: readonly TimelineEvent[]): Partial<Record<Phase, number>> {
  const first = (match: (e: TimelineEvent) => boolean) => events.find(match);
  const access = first((e) => e.kind === 'access-check');
  const started = first((e) => e.kind === 'log' && e.what === 'log: download started');
  const stat = first((e) => e.kind === 'stat');
  const answered = first((e) => e.kind === 'log' && e.what.startsWith('log: scheduler:'));
  const piece = first((e) => e.kind === 'piece' && (!answered || e.startMs >= answered.startMs - 1));
  const firstByte = first((e) => e.kind === 'first-byte');
  const points: Array<[Phase, number | undefined]> = [
    ['request -> access check', access?.startMs],
    ['access check (HEAD upstream)', access?.endMs],
    ['-> download started', started?.startMs],
    ['-> origin stat done', stat?.endMs],
    ['-> scheduler answered', answered?.startMs],
    ['-> first piece request', piece?.startMs],
    ['first piece request', piece?.endMs],
    ['-> first byte', firstByte?.startMs],
  ];
  const phases: Partial<Record<Phase, number>> = {};
  let previous = 0;
  for (const [phase, at] of points) {
    if (at === undefined) continue;
    phases[phase] = at - previous;
    previous = at;
  }
  return phases;
}

/** Per phase, the median over samples that have it. */
export function medianPhases(all: readonly Partial<Record<Phase, number>>[]): Partial<Record<Phase, number>> {
  const out: Partial<Record<Phase, number>> = {};
  for (const phase of PHASES) {
    const values = all.map((phases) => phases[phase]).filter((value): value is number => value !== undefined);
    if (values.length > 0) out[phase] = median(values);
  }
  return out;
}

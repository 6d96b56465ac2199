/** The concurrent mirror bench's figures as the bench's Report: errors, latency percentiles, targets. */
import { checkTarget, type Report, type Table, type Target } from '../lib/report.ts';
import { fixed, percentile } from '../lib/format.ts';
import type { ConcurrentFigures, Round } from './concurrent.ts';
import type { Failure, LoadOutcome } from './load-client.ts';

const MiB = 2 ** 20;
const FAILURES: readonly Failure[] = ['status', 'reset', 'short', 'digest', 'timeout', 'other'];
/** Many readers of one blob must not multiply what the registry sends: one copy of each blob, a stat per blob and a little slack. */
const MAX_COLD_REGISTRY_SHARE = 1.05;
const MAX_PEER_REGISTRY_SHARE = 0.05;

function imageBytes(figures: ConcurrentFigures): number {
  // Layers plus a config blob of a few hundred bytes; the layers are what counts.
  return figures.image.layers.reduce((sum, size) => sum + size, 0);
}

function errorTable(figures: ConcurrentFigures): Table {
  const total = imageBytes(figures);
  return {
    caption: `${figures.concurrent} GETs at once per round, from ${figures.clients} client processes, each on its own connection (${fixed(figures.bytesPerRound / MiB, 0)} MiB of bodies per round); errors by kind`,
    header: ['round', 'through', 'wall s', 'ok', ...FAILURES, 'error rate', 'registry blob MiB', 'x image', 'daemon fds before -> after', 'daemon RSS MiB', 'client loop p99/max ms', 'load before -> after'],
    rows: figures.rounds.map((round) => {
      const failed = (kind: Failure) => round.outcomes.filter((o) => o.failure === kind).length;
      const errors = round.outcomes.filter((o) => o.failure).length;
      return [
        round.name,
        round.through,
        fixed(round.wallSeconds, 2),
        String(round.outcomes.length - errors),
        ...FAILURES.map((kind) => String(failed(kind))),
        fixed(errors / round.outcomes.length, 3),
        fixed(round.registryBlobBytes / MiB, 1),
        fixed(round.registryBlobBytes / total, 3),
        round.daemonBefore && round.daemonAfter ? `${round.daemonBefore.fds} -> ${round.daemonAfter.fds}` : '-',
        round.daemonAfter ? fixed(round.daemonAfter.rssBytes / MiB, 0) : '-',
        `${fixed(round.clientLoopDelayMs.p99, 0)}/${fixed(round.clientLoopDelayMs.max, 0)}`,
        `${fixed(round.loadAverage.before)} -> ${fixed(round.loadAverage.after)}`,
      ];
    }),
  };
}

function spread(values: readonly number[]): string[] {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return [50, 90, 99].map((p) => fixed(percentile(sorted, p), 0)).concat(fixed(sorted.at(-1), 0));
}

function latencyTable(figures: ConcurrentFigures): Table {
  const rows: string[][] = [];
  for (const round of figures.rounds) {
    const hot = new Set(round.requests.filter((r) => r.hot).map((r) => r.id));
    const ok = round.outcomes.filter((o) => !o.failure);
    const groups: Array<[string, LoadOutcome[]]> = [
      ['all', ok],
      ['same blob', ok.filter((o) => hot.has(o.id))],
      ['other blobs', ok.filter((o) => !hot.has(o.id))],
    ];
    for (const [kind, outcomes] of groups) {
      rows.push([`${round.name}: ${kind}`, String(outcomes.length), ...spread(outcomes.map((o) => o.firstByteMs)), ...spread(outcomes.map((o) => o.lastByteMs))]);
    }
  }
  return {
    caption: 'Successful requests, ms from just before the request is made (connection set-up included): first body byte, last body byte',
    header: ['round: requests', 'n', 'first p50', 'p90', 'p99', 'max', 'last p50', 'p90', 'p99', 'max'],
    rows,
  };
}

function failureNotes(round: Round): string[] {
  const notes: string[] = [];
  for (const kind of FAILURES) {
    const of = round.outcomes.filter((o) => o.failure === kind);
    if (of.length > 0) notes.push(`${round.name}: ${of.length} x ${kind}, e.g. status ${of[0]!.status}: ${of[0]!.message ?? ''}`);
  }
  if (round.daemonProblems?.length) notes.push(`${round.name}: the daemon logged ${round.daemonProblems.length} warnings/errors, first: ${round.daemonProblems[0]}`);
  return notes;
}

export function concurrentReport(title: string, figures: ConcurrentFigures): Report {
  const byName = new Map(figures.rounds.map((round) => [round.name, round]));
  const all = figures.rounds.flatMap((round) => round.outcomes);
  const total = imageBytes(figures);
  const targets: Target[] = [
    checkTarget('failed requests / requests, every round (non-2xx, resets, short bodies, wrong sha256, timeouts)', all.filter((o) => o.failure).length / all.length, '<=', 0),
    checkTarget(`cold round: registry blob bytes / image bytes (${figures.concurrent} readers, each blob fetched once)`, byName.get('cold')!.registryBlobBytes / total, '<=', MAX_COLD_REGISTRY_SHARE),
    checkTarget('peer round: registry blob bytes / image bytes (node-a has the image)', byName.get('peer')!.registryBlobBytes / total, '<=', MAX_PEER_REGISTRY_SHARE),
  ];
  const notes = [
    `Image: ${figures.image.layers.length} layers (${figures.image.layers.map((size) => fixed(size / MiB, 0)).join(', ')} MiB) and a config blob; half of the requests ask for the first layer, the others cycle over the other ${figures.image.blobs - 1} blobs.`,
    'Client, registry, scheduler and daemons share the machine\'s cores: the latencies measure this machine under the whole load, not the mirror alone; the direct round is the same load without a mirror.',
    `Daemon open fds before its first round -> after its last round and 6.5 s idle: ${figures.idleFds.map((d) => `${d.daemon} ${d.before} -> ${d.afterIdle}`).join(', ')}.`,
    ...figures.rounds.flatMap(failureNotes),
  ];
  return { title, tables: [errorTable(figures), latencyTable(figures)], notes, targets, data: figures };
}

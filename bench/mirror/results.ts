/** The mirror bench's figures as the bench's Report: tables, notes and the targets. */
import { checkTarget, type Report, type Table, type Target } from '../lib/report.ts';
import { fixed } from '../lib/format.ts';
import type { FirstByteCase } from './first-byte.ts';
import type { MirrorFigures } from './mirror.ts';
import { formatTimeline, PHASES } from './timeline.ts';

const MiB = 2 ** 20;
/** The bounds. */
const MAX_SECOND_PULL_REGISTRY_SHARE = 0.05;
const FIRST_BYTE_FACTOR = 1.2;
const FIRST_BYTE_ALLOWANCE_MS = 50;
const MIN_IMAGE_BYTES = 200 * MiB;

function pullTable(figures: MirrorFigures): Table {
  const imageBytes = figures.image.blobBytes;
  return {
    caption: `Pulls of ${figures.image.name} (${figures.image.blobs} blobs, ${fixed(imageBytes / MiB, 1)} MiB), one after the other; registry bytes from its access log`,
    header: ['pull through', 'wall s', 'MiB/s', 'manifest ms', 'registry blob MiB', 'x image', 'daemon from origin MiB', 'daemon from peers MiB', 'verified'],
    rows: figures.pulls.map((pull) => [
      pull.target,
      fixed(pull.wallSeconds, 3),
      fixed(imageBytes / MiB / pull.wallSeconds, 0),
      fixed(pull.manifestMs, 1),
      fixed(pull.registryBlobTotal / MiB, 1),
      fixed(pull.registryBlobTotal / imageBytes, 3),
      pull.traffic ? fixed(pull.traffic.backToSource / MiB, 1) : '-',
      pull.traffic ? fixed(pull.traffic.remotePeer / MiB, 1) : '-',
      `${pull.blobs.filter((blob) => blob.verified).length}/${pull.blobs.length}`,
    ]),
  };
}

function firstByteTable(figures: MirrorFigures): Table {
  const describe: Record<FirstByteCase['name'], string> = {
    direct: 'registry, page cache warm',
    'cold mirror': 'fresh cluster, nobody has the blob',
    'warm mirror': 'fresh daemon, node-a has the blob',
    'cold blob, used daemon': 'next layer, same cold daemon',
    'warm blob, used daemon': 'next layer, same warm daemon',
  };
  return {
    caption: `Time to first byte of the largest layer (${fixed(figures.largestLayerBytes / MiB, 0)} MiB), median of each case; every request on a new connection`,
    header: ['case', 'samples', 'first byte ms', 'headers ms', 'first byte ms (each)', 'whole blob ms', 'pieces from', 'verified'],
    rows: figures.firstByte.map((c) => {
      const sources = c.samples.map((s) => (s.traffic ? (s.traffic.remotePeer > 0 ? (s.traffic.backToSource > 0 ? 'mixed' : 'peer') : 'origin') : '-'));
      return [
        `${c.name} (${describe[c.name]})`,
        String(c.samples.length),
        fixed(c.medianFirstByteMs, 1),
        fixed(c.medianHeadersMs, 1),
        c.samples.map((s) => fixed(s.firstByteMs, 1)).join(' / '),
        fixed(c.medianTotalMs, 0),
        [...new Set(sources)].join(', '),
        `${c.samples.filter((s) => s.verified).length}/${c.samples.length}`,
      ];
    }),
  };
}

function phaseTable(figures: MirrorFigures): Table {
  const cases = figures.firstByte.filter((c) => c.medianPhases);
  return {
    caption: 'Where a mirror request waits before its first byte: median ms per phase, from the registry log and the daemon log (see the timelines below)',
    header: ['case', ...PHASES],
    rows: cases.map((c) => [c.name, ...PHASES.map((phase) => fixed(c.medianPhases![phase], 1))]),
  };
}

/** The sample whose first byte is the median one (the lower of the two middles). */
function medianSample(c: FirstByteCase) {
  const sorted = [...c.samples].sort((x, y) => x.firstByteMs - y.firstByteMs);
  return sorted[(sorted.length - 1) >> 1];
}

/** Tables, notes and the targets; `figures.pulls` is direct, node-a, node-b in that order. */
export function mirrorReport(title: string, figures: MirrorFigures): Report {
  const byName = new Map(figures.firstByte.map((c) => [c.name, c]));
  const direct = byName.get('direct')!;
  const cold = byName.get('cold mirror')!;
  const warm = byName.get('warm mirror')!;
  const bound = FIRST_BYTE_FACTOR * direct.medianFirstByteMs + FIRST_BYTE_ALLOWANCE_MS;
  const second = figures.pulls[2]!; // node-b, pulling after node-a
  const share = second.registryBlobTotal / figures.image.blobBytes;
  const allPulled = figures.pulls.flatMap((pull) => pull.blobs);
  const allSampled = figures.firstByte.flatMap((c) => c.samples);
  const verified = allPulled.filter((blob) => blob.verified).length + allSampled.filter((s) => s.verified).length;

  const targets: Target[] = [
    checkTarget(
      "second node's pull: registry blob bytes / image blob bytes",
      share,
      '<=',
      MAX_SECOND_PULL_REGISTRY_SHARE,
      `node-b made the registry send ${fixed(second.registryBlobTotal / MiB, 1)} MiB of blobs`,
    ),
    checkTarget(`cold mirror first byte ms (bound = ${FIRST_BYTE_FACTOR} x direct + ${FIRST_BYTE_ALLOWANCE_MS} ms = ${fixed(bound, 1)})`, cold.medianFirstByteMs, '<=', Number(bound.toFixed(1)), 'see the phases and the cold timeline'),
    checkTarget(`warm mirror first byte ms (bound = ${fixed(bound, 1)})`, warm.medianFirstByteMs, '<=', Number(bound.toFixed(1))),
    checkTarget('blobs with the right sha256 / blobs fetched', verified / (allPulled.length + allSampled.length), '>=', 1),
  ];

  const notes: string[] = [];
  notes.push(`Every daemon: download.concurrentPieceCount ${figures.concurrentPieces ?? "8 (the daemon's default)"}.`);
  if (figures.image.blobBytes < MIN_IMAGE_BYTES) notes.push(`The image is ${fixed(figures.image.blobBytes / MiB, 1)} MiB, under the issue's 200 MiB: figures are not comparable with the targets' setting.`);
  for (const c of [cold, warm]) {
    const sample = medianSample(c);
    if (!sample?.timeline) continue;
    notes.push(`Timeline of the median ${c.name} sample (first byte at ${fixed(sample.firstByteMs, 1)} ms), from the bench's request on (registry: completion time minus the handler's duration):`);
    notes.push(...formatTimeline(sample.timeline).map((line) => `  ${line}`));
  }
  for (const pull of figures.pulls) {
    if (pull.daemonWarnings?.length) notes.push(`${pull.target}: the daemon logged ${pull.daemonWarnings.length} warnings/errors, first: ${pull.daemonWarnings[0]}`);
  }
  return { title, tables: [pullTable(figures), firstByteTable(figures), phaseTable(figures)], notes, targets, data: figures };
}

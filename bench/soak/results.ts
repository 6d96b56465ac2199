/**
 * A soak run turned into the bench's Report (tables, notes, targets, JSON data) and its chart's
 * panels. Targets, from the issue: RSS and open fds of each dfdaemon grow less than 5 % an hour
 * after the warm-up, and no error-level daemon log line that an injected fault does not explain.
 */
import { fixed, MB, median } from '../lib/format.ts';
import { checkTarget, type Report, type Table, type Target } from '../lib/report.ts';
import { classifyLines, growthPerHour, type Growth, type Point } from './analysis.ts';
import type { SoakArgs } from './args.ts';
import type { ChartPanel } from './chart.ts';
import type { OpKind } from './load.ts';
import { PROCESSES, GC_CONFIG, type ProcessName, type Sample, type SoakRun } from './soak.ts';

export const TITLE = 'soak: one dfdaemon (+ seed, scheduler) under a steady mix on loopback';
const GROWTH_TARGET_PERCENT_PER_HOUR = 5;
/** A cancellation explains abort-like error lines this long after its kill (the download, its scheduler stream and its parents close). */
const FAULT_WINDOW_MS = 30_000;
const DAEMONS: readonly ProcessName[] = ['peer', 'seed'];
const WARN_LINES_KEPT = 200;

type Quantity = 'rss' | 'fds' | 'threads';

function series(samples: readonly Sample[], name: ProcessName, quantity: Quantity): Point[] {
  return samples.flatMap((s) => {
    const proc = s.procs[name];
    if (!proc) return [];
    const v = quantity === 'rss' ? proc.rssBytes / MB : quantity === 'fds' ? proc.fds : proc.threads;
    return [{ t: s.t, v }];
  });
}

function growthRow(label: string, unit: string, growth: Growth, digits: number): string[] {
  return [
    label,
    unit,
    String(growth.samples),
    fixed(growth.mean, digits),
    fixed(growth.min, digits),
    fixed(growth.max, digits),
    fixed(growth.slopePerHour, digits),
    fixed(growth.percentPerHour, 1),
    `+-${fixed(growth.noisePercentPerHour, 1)}`,
  ];
}

function opsTable(run: SoakRun): Table {
  const kinds: OpKind[] = ['dfget', 'cancel', 'mirror'];
  return {
    caption: 'load: operations over the run',
    header: ['kind', 'ops', 'ok', 'failed', 'MB moved', 'median s', 'max s', 'note'],
    rows: kinds.map((kind) => {
      const ops = run.ops.filter((op) => op.kind === kind);
      const seconds = ops.map((op) => (op.endMs - op.startMs) / 1000);
      let note = '';
      if (kind === 'cancel') {
        const mid = ops.filter((op) => op.detail?.includes('mid-download')).length;
        const early = ops.filter((op) => op.detail?.includes('before the daemon started')).length;
        note = `${mid} killed mid-download, ${early} before the daemon started, ${ops.length - mid - early} ended first`;
      }
      if (kind === 'mirror' && run.mirrorSkipped) note = 'SKIPPED (no docker-registry)';
      return [
        kind,
        String(ops.length),
        String(ops.filter((op) => op.ok).length),
        String(ops.filter((op) => !op.ok).length),
        fixed(ops.reduce((sum, op) => sum + op.bytes, 0) / MB, 0),
        fixed(median(seconds)),
        fixed(seconds.length > 0 ? Math.max(...seconds) : Number.NaN),
        note,
      ];
    }),
  };
}

function storeTable(run: SoakRun, warmupSeconds: number): Table {
  const rows = DAEMONS.map((name) => {
    const name2 = name as 'peer' | 'seed';
    const allocated = run.samples.map((s) => s.disk[name2].allocatedBytes / MB);
    const afterWarmup = run.samples.filter((s) => s.t >= warmupSeconds).map((s) => ({ t: s.t, v: s.disk[name2].allocatedBytes / MB }));
    const last = run.samples[run.samples.length - 1];
    return [
      name,
      fixed(allocated[0], 1),
      fixed(last ? last.disk[name2].allocatedBytes / MB : Number.NaN, 1),
      fixed(allocated.length > 0 ? Math.max(...allocated) : Number.NaN, 1),
      fixed(growthPerHour(afterWarmup, warmupSeconds).mean, 1),
      fixed(growthPerHour(afterWarmup, warmupSeconds).slopePerHour, 0),
      String(last?.disk[name2].files ?? '-'),
      String(run.gcEvicted[name2]),
    ];
  });
  return {
    caption: `store on disk (allocated blocks of <storage.dir>), GC every ${GC_CONFIG.interval} with taskTTL ${GC_CONFIG.policy.taskTTL}`,
    header: ['daemon', 'first MB', 'last MB', 'max MB', 'mean MB after warm-up', 'slope MB/h', 'files at end', 'tasks evicted by GC'],
    rows,
  };
}

const COUNTER_COLUMNS: readonly [string, string, number][] = [
  ['tasks', 'dragonfly_client_download_task_total{type="normal"}', 1],
  ['task failures', 'dragonfly_client_download_task_failure_total{type="normal"}', 1],
  ['from origin MB', 'dragonfly_client_download_traffic{type="back_to_source"}', MB],
  ['from peers MB', 'dragonfly_client_download_traffic{type="remote_peer"}', MB],
  ['local MB', 'dragonfly_client_download_traffic{type="local_peer"}', MB],
  ['uploaded MB', 'dragonfly_client_upload_traffic', MB],
  ['proxy requests', 'dragonfly_client_proxy_request_total', 1],
  ['proxy failures', 'dragonfly_client_proxy_request_failure_total', 1],
  ['digest mismatches', 'dragonfly_client_piece_digest_mismatch_total', 1],
];

function countersTable(run: SoakRun): Table {
  const lastOf = (name: 'peer' | 'seed') => [...run.samples].reverse().find((s) => s.counters[name])?.counters[name];
  return {
    caption: "daemon counters at the last sample (/metrics)",
    header: ['daemon', ...COUNTER_COLUMNS.map(([label]) => label)],
    rows: (['peer', 'seed'] as const).map((name) => {
      const counters = lastOf(name);
      return [name, ...COUNTER_COLUMNS.map(([, key, unit]) => (counters ? fixed((counters[key] ?? 0) / unit, unit === 1 ? 0 : 1) : '-'))];
    }),
  };
}

function fdKindsNote(samples: readonly Sample[], warmupSeconds: number): string {
  const from = samples.find((s) => s.t >= warmupSeconds)?.procs.peer?.fdKinds;
  const to = samples[samples.length - 1]?.procs.peer?.fdKinds;
  if (!from || !to) return 'peer fds by kind: -';
  const kinds = Object.keys(to) as (keyof typeof to)[];
  return `peer fds by kind, end of warm-up -> last sample: ${kinds.map((k) => `${k} ${from[k]} -> ${to[k]}`).join(', ')}`;
}

export function buildReport(run: SoakRun, args: SoakArgs): Report {
  const warmupSeconds = args.warmupMs / 1000;
  const growth: Record<string, Growth> = {};
  const growthRows: string[][] = [];
  for (const name of PROCESSES) {
    for (const [quantity, unit, digits] of [['rss', 'MB', 1], ['fds', 'count', 1], ['threads', 'count', 1]] as const) {
      if (quantity === 'threads' && name !== 'peer') continue;
      const g = growthPerHour(series(run.samples, name, quantity), warmupSeconds);
      growth[`${name}.${quantity}`] = g;
      growthRows.push(growthRow(`${name} ${quantity === 'rss' ? 'RSS' : quantity}`, unit, g, digits));
    }
  }
  const daemonLines = run.lines.filter((line) => line.process !== 'scheduler');
  const daemonLog = classifyLines(daemonLines, run.faults, FAULT_WINDOW_MS);
  const schedulerLog = classifyLines(run.lines.filter((line) => line.process === 'scheduler'), run.faults, FAULT_WINDOW_MS);
  const logRows = PROCESSES.map((name) => {
    const summary = classifyLines(run.lines.filter((line) => line.process === name), run.faults, FAULT_WINDOW_MS);
    const warnings = [...summary.warnings.values()].reduce((sum, n) => sum + n, 0);
    const explained = summary.errors.length - summary.unexplainedErrors.length + summary.raw.length;
    return [name, String(summary.errors.length), String(explained), String(summary.unexplainedErrors.length), String(summary.raw.length), String(warnings), String(summary.warningsExplained)];
  });
  const failedOps = run.ops.filter((op) => !op.ok);
  const targets: Target[] = [];
  for (const name of DAEMONS) {
    for (const quantity of ['rss', 'fds'] as const) {
      const g = growth[`${name}.${quantity}`]!;
      targets.push(
        checkTarget(
          `${name} dfdaemon ${quantity === 'rss' ? 'RSS' : 'open fds'} growth after warm-up, % of mean per hour`,
          g.percentPerHour,
          '<',
          GROWTH_TARGET_PERCENT_PER_HOUR,
          `slope ${fixed(g.slopePerHour, 1)} ${quantity === 'rss' ? 'MB' : 'fds'}/h over ${fixed(g.spanSeconds, 0)} s of samples, noise +-${fixed(g.noisePercentPerHour, 1)} %/h${
            Math.abs(g.percentPerHour) <= g.noisePercentPerHour ? ': not told from noise, a longer run decides' : ''
          }`,
        ),
      );
    }
  }
  targets.push(checkTarget('dfdaemon error-level log lines no injected fault explains', daemonLog.unexplainedErrors.length, '<=', 0, daemonLog.unexplainedErrors[0]?.line.msg));
  const notes: string[] = [
    `load ${fixed(run.loadSeconds, 0)} s, samples every ${args.sampleIntervalMs / 1000} s (${run.samples.length}), warm-up ${warmupSeconds} s left out of the slopes; the load then took ${fixed(run.drainSeconds, 1)} s to finish what it had started`,
    'growth: least-squares slope of the samples after the warm-up, per hour, as % of their mean; noise: two standard errors of that slope (a growth inside it is not told from the sawtooth of GC and load bursts); RSS = VmRSS of /proc/<pid>/status, fds = entries of /proc/<pid>/fd',
    fdKindsNote(run.samples, warmupSeconds),
    `handles: ${Object.keys(run.samples.find((s) => s.handles.peer && Object.keys(s.handles.peer).length > 0)?.handles.peer ?? {}).join(', ') || "not exported by the daemon's /metrics (no nodejs_active_handles / process_open_fds series): fds stand for them"}`,
    `files: ${run.files.map((f) => `${f.name} ${fixed(f.size / MB, 2)} MB`).join(', ')}${run.images.length ? `; images: ${run.images.join(', ')}` : ''}`,
    `injected faults: ${run.faults.length} dfget kills; an abort-like error line (aborted/cancelled/client gone) up to ${FAULT_WINDOW_MS / 1000} s after a kill counts as explained`,
  ];
  if (run.mirrorSkipped) notes.push(`SKIPPED: ${run.mirrorSkipped}`);
  for (const crash of run.crashed) notes.push(`SKIPPED: a server exited during the load: ${crash.slice(0, 500)}`);
  for (const op of failedOps.slice(0, 10)) notes.push(`failed ${op.kind} at ${fixed((op.startMs - (run.samples[0]?.atMs ?? op.startMs)) / 1000, 0)} s: ${op.url}: ${op.detail ?? ''}`.slice(0, 600));
  if (failedOps.length > 10) notes.push(`... and ${failedOps.length - 10} more failed operations (results.json)`);
  for (const e of daemonLog.unexplainedErrors.slice(0, 20)) {
    notes.push(`unexplained ${e.line.level} (${e.line.process}, ${new Date(e.line.atMs).toISOString()}): ${e.line.msg} ${JSON.stringify(e.line.fields)}`.slice(0, 600));
  }
  for (const e of schedulerLog.unexplainedErrors.slice(0, 5)) notes.push(`scheduler ${e.line.level}: ${e.line.msg} ${JSON.stringify(e.line.fields)}`.slice(0, 400));
  const topWarnings = [...daemonLog.warnings.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
  if (topWarnings.length > 0) notes.push(`daemon warnings by message: ${topWarnings.map(([msg, n]) => `${n} x "${msg}"`).join('; ')}`);
  return {
    title: TITLE,
    tables: [
      {
        caption: `growth after the ${warmupSeconds} s warm-up (target < ${GROWTH_TARGET_PERCENT_PER_HOUR} %/h for each dfdaemon's RSS and fds)`,
        header: ['series', 'unit', 'samples', 'mean', 'min', 'max', 'slope /h', '% of mean /h', 'noise (2 SE) %/h'],
        rows: growthRows,
      },
      opsTable(run),
      storeTable(run, warmupSeconds),
      countersTable(run),
      { caption: 'log lines (error lines explained by an injected cancellation, or not)', header: ['process', 'errors', 'explained', 'unexplained', 'non-JSON', 'warnings', 'warnings explained'], rows: logRows },
    ],
    notes,
    targets,
    data: {
      growth,
      ops: run.ops,
      faults: run.faults,
      log: {
        daemonErrors: daemonLog.errors,
        unexplained: daemonLog.unexplainedErrors,
        schedulerErrors: schedulerLog.errors,
        warnings: Object.fromEntries(daemonLog.warnings),
        /** The first warn lines whole, to see what the counts above are about. */
        warnLines: daemonLines.filter((line) => line.level === 'warn').slice(0, WARN_LINES_KEPT),
        infoCounts: run.infoCounts,
      },
      gcEvicted: run.gcEvicted,
      mirrorSkipped: run.mirrorSkipped,
      crashed: run.crashed,
      samples: run.samples,
    },
  };
}

export function chartPanels(run: SoakRun): ChartPanel[] {
  const of = (quantity: Quantity) => DAEMONS.map((name) => ({ label: name, points: series(run.samples, name, quantity) }));
  return [
    { title: 'RSS, MB', series: of('rss') },
    { title: 'open fds', series: of('fds') },
    { title: 'store on disk, MB', series: DAEMONS.map((name) => ({ label: name, points: run.samples.map((s) => ({ t: s.t, v: s.disk[name as 'peer' | 'seed'].allocatedBytes / MB })) })) },
  ];
}

/**
 * Downloading one file from a private nginx on loopback: curl, aria2c and dfget (with and without
 * sha256 verification, with and without the addon), each run `runs` times in rotation, median
 * wall time reported. Nothing is dropped from the page cache: origin reads come from memory, so
 * this measures the client's own cost (CPU, copies, writes), not the disk.
 */
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../lib/cleanup.ts';
import { writeRandomFile } from '../lib/files.ts';
import { fixed, GB, MB, median } from '../lib/format.ts';
import { startNginx } from '../lib/nginx.ts';
import { checkTarget, skippedReport, type Report, type Target } from '../lib/report.ts';
import { findExecutable, peakRssMethod, runMeasured, type MeasuredRun } from '../lib/spawn.ts';
import { downloadTools, type RunPaths, type Tool } from './tools.ts';

const TITLE = 'macro: download from a local nginx (loopback, page cache warm)';
const FILE_NAME = 'data.bin';
const DFGET_RSS_LIMIT_MB = 150;
const DFGET_THROUGHPUT_TARGET = 1.0;
const VERIFIED_DFGET = 'dfget --digest sha256';

interface ToolResult {
  readonly tool: string;
  readonly runs: readonly MeasuredRun[];
  readonly medianSeconds: number;
  readonly gbPerSecond: number;
  readonly maxPeakRssMb: number;
  readonly medianCpuSeconds: number | undefined;
}

/** Per-run timeout: generous for a slow machine, still bounded. */
function runTimeoutMs(size: number): number {
  return 30_000 + Math.ceil(size / (20 * MB)) * 1000;
}

async function runOnce(tool: Tool, paths: RunPaths, size: number, signal: AbortSignal): Promise<MeasuredRun> {
  // A fresh output and store every run: nothing to resume, nothing to overwrite.
  rmSync(paths.output, { force: true });
  rmSync(paths.cacheDir, { recursive: true, force: true });
  mkdirSync(paths.cacheDir, { recursive: true });
  const run = await runMeasured(tool.command, tool.args(paths), { env: tool.env(paths), timeoutMs: runTimeoutMs(size), signal });
  if (run.exitCode !== 0) throw new Error(`${tool.name} exited with ${run.exitCode ?? run.signal}: ${run.stderr.trim()}`);
  const written = statSync(paths.output, { throwIfNoEntry: false })?.size;
  if (written !== size) throw new Error(`${tool.name} wrote ${written ?? 'no'} bytes, expected ${size}`);
  rmSync(paths.output, { force: true });
  return run;
}

function summarize(tool: string, runs: MeasuredRun[], size: number): ToolResult {
  const medianSeconds = median(runs.map((r) => r.wallSeconds));
  const cpu = runs.map((r) => r.cpuSeconds).filter((c): c is number => c !== undefined);
  return {
    tool,
    runs,
    medianSeconds,
    gbPerSecond: size / medianSeconds / GB,
    maxPeakRssMb: Math.max(...runs.map((r) => r.peakRssBytes)) / MB,
    medianCpuSeconds: cpu.length === runs.length ? median(cpu) : undefined,
  };
}

function targetsOf(results: readonly ToolResult[]): Target[] {
  const curl = results.find((r) => r.tool === 'curl');
  const verified = results.find((r) => r.tool === VERIFIED_DFGET);
  if (!verified) return [];
  const ratio = curl ? verified.gbPerSecond / curl.gbPerSecond : Number.NaN;
  return [
    checkTarget(`${VERIFIED_DFGET} throughput / curl`, ratio, '>=', DFGET_THROUGHPUT_TARGET),
    checkTarget(`${VERIFIED_DFGET} peak RSS (MB)`, verified.maxPeakRssMb, '<', DFGET_RSS_LIMIT_MB),
  ];
}

export async function benchDownloads(size: number, runs: number, signal: AbortSignal): Promise<Report> {
  const nginx = findExecutable('nginx');
  if (!nginx) return skippedReport(TITLE, 'nginx not found: apt-get install -y nginx-light');
  const { tools, missing } = downloadTools();
  const notes = missing.map((m) => `SKIPPED ${m.name}: not installed (apt-get install -y ${m.debianPackage})`);
  const dir = makeTempDir('macro');
  try {
    // nginx's worker runs as nobody when we are root: the served tree must be world-readable.
    chmodSync(dir.path, 0o755);
    const www = join(dir.path, 'www');
    mkdirSync(www, { mode: 0o755 });
    const sha256 = writeRandomFile(join(www, FILE_NAME), size, signal);
    const origin = await startNginx(nginx, join(dir.path, 'nginx'), www, `/${FILE_NAME}`, signal);
    const paths: RunPaths = {
      url: new URL(FILE_NAME, origin.baseUrl).href,
      output: join(dir.path, 'out', FILE_NAME),
      cacheDir: join(dir.path, 'cache'),
      sha256,
    };
    mkdirSync(join(dir.path, 'out'));
    const measured = new Map<string, MeasuredRun[]>(tools.map((t) => [t.name, []]));
    try {
      // In rotation rather than tool after tool, so a slow spell of the machine hits every tool.
      for (let run = 1; run <= runs; run++) {
        for (const tool of tools) {
          const result = await runOnce(tool, paths, size, signal);
          measured.get(tool.name)!.push(result);
          console.error(`  run ${run}/${runs} ${tool.name}: ${fixed(result.wallSeconds, 3)} s, ${fixed(result.peakRssBytes / MB, 0)} MB`);
        }
      }
    } finally {
      await origin.stop();
    }
    const results = tools.map((tool) => summarize(tool.name, measured.get(tool.name)!, size));
    const curl = results.find((r) => r.tool === 'curl');
    const rows = results.map((r) => [
      r.tool,
      fixed(r.medianSeconds, 3),
      fixed(r.gbPerSecond),
      curl ? fixed(r.gbPerSecond / curl.gbPerSecond) : '-',
      fixed(r.maxPeakRssMb, 0),
      fixed(r.medianCpuSeconds),
    ]);
    notes.push(
      `${fixed(size / GB)} GB file, median of ${runs} runs in rotation; outputs and dfget's store deleted between runs; page cache not dropped`,
      `peak RSS: max over runs, via ${peakRssMethod() === 'gnu-time' ? 'GNU time %M (rusage maxrss)' : '/proc/<pid>/status VmHWM polling'}`,
    );
    return {
      title: TITLE,
      tables: [{ caption: '', header: ['tool', 'median s', 'GB/s', 'x curl', 'peak RSS MB', 'CPU s'], rows }],
      targets: targetsOf(results),
      notes,
      data: { sizeBytes: size, runs, url: paths.url, rssMethod: peakRssMethod(), missing, results },
    };
  } finally {
    await dir.remove();
  }
}

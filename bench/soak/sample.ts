/**
 * What the soak samples every few seconds: a process's resident set, open file descriptors (by
 * kind, from the fd links) and threads, read from /proc/<pid>; the bytes a store really holds on
 * disk (allocated blocks: task files are sparse); and the daemon's /metrics.
 */
import { readdirSync, readFileSync, readlinkSync, lstatSync } from 'node:fs';
import { join } from 'node:path';

export interface FdKinds {
  readonly socket: number;
  readonly pipe: number;
  readonly file: number;
  /** eventfd, epoll, timerfd, inotify... (`anon_inode:`). */
  readonly anon: number;
  readonly other: number;
}

export interface ProcSample {
  readonly rssBytes: number;
  readonly fds: number;
  readonly fdKinds: FdKinds;
  readonly threads: number;
}

/** RSS, fds and threads of a live process; undefined once it is gone. */
export function sampleProc(pid: number): ProcSample | undefined {
  let status: string;
  let entries: string[];
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
    entries = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined; // Exited between samples.
  }
  const kinds = { socket: 0, pipe: 0, file: 0, anon: 0, other: 0 };
  for (const entry of entries) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${entry}`);
    } catch {
      continue; // Closed while we looked.
    }
    if (target.startsWith('socket:')) kinds.socket++;
    else if (target.startsWith('pipe:')) kinds.pipe++;
    else if (target.startsWith('anon_inode:')) kinds.anon++;
    else if (target.startsWith('/')) kinds.file++;
    else kinds.other++;
  }
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssBytes: kb('VmRSS') * 1024, fds: entries.length, fdKinds: kinds, threads: kb('Threads') };
}

export interface DiskSample {
  /** Allocated bytes (st_blocks x 512) of every file under the dir. */
  readonly allocatedBytes: number;
  /** Sum of file sizes (a sparse file counts its whole length). */
  readonly apparentBytes: number;
  readonly files: number;
}

/** Walks `dir`; files vanishing under the walk (GC, a finished task's rename) are skipped. */
export function diskUsage(dir: string): DiskSample {
  let allocatedBytes = 0;
  let apparentBytes = 0;
  let files = 0;
  const walk = (path: string) => {
    let names: string[];
    try {
      names = readdirSync(path);
    } catch {
      return;
    }
    for (const name of names) {
      const child = join(path, name);
      try {
        const stat = lstatSync(child);
        if (stat.isDirectory()) walk(child);
        else {
          files++;
          allocatedBytes += stat.blocks * 512;
          apparentBytes += stat.size;
        }
      } catch {
        // Removed while we looked.
      }
    }
  };
  walk(dir);
  return { allocatedBytes, apparentBytes, files };
}

/** The daemon's counters the soak reports, by `name{labels}` (missing ones are 0). */
export const SOAK_COUNTERS = [
  'dragonfly_client_download_task_total{type="normal"}',
  'dragonfly_client_download_task_failure_total{type="normal"}',
  'dragonfly_client_download_traffic{type="back_to_source"}',
  'dragonfly_client_download_traffic{type="remote_peer"}',
  'dragonfly_client_download_traffic{type="local_peer"}',
  'dragonfly_client_upload_traffic',
  'dragonfly_client_proxy_request_total',
  'dragonfly_client_proxy_request_failure_total',
  'dragonfly_client_proxy_request_via_dfdaemon_total',
  'dragonfly_client_piece_digest_mismatch_total',
] as const;

/**
 * Series that say how many handles, heap bytes or fds the process holds, if the page exports any
 * (prom-client's `nodejs_active_handles`, `process_open_fds`, `nodejs_heap_size_used_bytes`).
 */
const HANDLE_SERIES = /handles|open_fds|heap|event_loop/;

/** The soak's counters and any handle-like series of one scrape. */
export function pickMetrics(samples: ReadonlyMap<string, number>): { counters: Record<string, number>; handles: Record<string, number> } {
  const counters: Record<string, number> = {};
  for (const name of SOAK_COUNTERS) counters[name] = samples.get(name) ?? 0;
  const handles: Record<string, number> = {};
  for (const [name, value] of samples) if (HANDLE_SERIES.test(name)) handles[name] = value;
  return { counters, handles };
}

/**
 * What the kernel knows about a running process, read from /proc: CPU time of the whole thread
 * group (utime + stime of /proc/<pid>/stat, every thread included, reaped children not), peak RSS,
 * and its children. Linux only, like the rest of the cluster bench.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** USER_HZ (clock ticks per second of /proc/<pid>/stat), from getconf; 100 on every Linux seen. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond !== undefined) return ticksPerSecond;
  ticksPerSecond = 100;
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5_000 }).trim());
    if (Number.isSafeInteger(value) && value > 0) ticksPerSecond = value;
  } catch {
    // No getconf: USER_HZ is 100 on every architecture Linux runs this on.
  }
  return ticksPerSecond;
}

/**
 * User + system CPU seconds of a live process (all its threads), or of one of its threads when
 * `tid` is given (its main thread has tid = pid); throws if it is gone.
 */
export function cpuSecondsOf(pid: number, tid?: number): number {
  const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat${tid === undefined ? '' : ` of thread ${tid}`}`);
  return (utime + stime) / clockTicksPerSecond();
}

/** Sum of cpuSecondsOf over pids. */
export function cpuSecondsOfAll(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
}

/** Peak resident set (VmHWM) of a live process in bytes, 0 when it cannot be read. */
export function peakRssOf(pid: number): number {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0; // Gone already.
  }
}

/** The live children of pid (e.g. nginx's workers under its master). */
export function childPidsOf(pid: number): number[] {
  const children = new Set<number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      for (const child of text.split(/\s+/).filter(Boolean)) children.add(Number(child));
    }
    return [...children];
  } catch {
    // Kernels without CONFIG_PROC_CHILDREN: scan every process for its parent.
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.add(Number(entry));
    } catch {
      // It exited while we looked.
    }
  }
  return [...children];
}

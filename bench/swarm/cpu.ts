/**
 * Where the CPU went during one system's run: seconds per process kind (every process the harness
 * started, from /proc/<pid>/stat while it lives or GNU time's rusage when it exits), and how busy
 * the whole machine was (/proc/stat). When the machine's cores, not the links, were the limit, the
 * figures measure the machine: the run says so instead of passing them off as the system's.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { cpuSecondsOf } from '../cluster/proc.ts';

/** Busy fraction of all cores over a run at or above which the run is flagged CPU-bound. */
export const CPU_BOUND_BUSY_FRACTION = 0.9;
/** One process using this much of one core over the run is a single-thread bottleneck. */
export const CPU_BOUND_PROCESS_FRACTION = 0.9;

export interface MachineSnapshot {
  /** Jiffies of all cores that were not idle (or waiting for I/O). */
  readonly busy: number;
  readonly total: number;
}

/** The first `cpu` line of /proc/stat. */
export function machineSnapshot(): MachineSnapshot {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = values;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** Busy fraction of all cores between two snapshots. */
export function busyFraction(before: MachineSnapshot, after: MachineSnapshot): number {
  const total = after.total - before.total;
  return total > 0 ? (after.busy - before.busy) / total : 0;
}

export interface KindCpu {
  readonly kind: string;
  readonly processes: number;
  readonly cpuSeconds: number;
  /** The busiest single process of this kind, as a fraction of one core over the run. */
  readonly maxProcessCoreFraction: number;
}

export interface CpuReport {
  readonly cores: number;
  readonly wallSeconds: number;
  /** All cores, everything on the machine (not only ours). */
  readonly machineBusyFraction: number;
  /** The part of all cores this run's own processes used (the rest: the kernel's links, other work). */
  readonly ownBusyFraction: number;
  readonly kinds: readonly KindCpu[];
  readonly cpuBound: boolean;
  /** Why the run counts as CPU-bound, when it does. */
  readonly reason: string | undefined;
}

/**
 * Collects CPU seconds per process kind for one run. A long-running process is `track`ed at the
 * start (its current CPU time is the baseline) and `settle`d before it is stopped; a process that
 * ran only during the run is `add`ed with its total.
 */
export class CpuLedger {
  readonly #baselines = new Map<number, { kind: string; cpu: number }>();
  readonly #totals = new Map<string, number[]>();

  track(kind: string, pid: number): void {
    try {
      this.#baselines.set(pid, { kind, cpu: cpuSecondsOf(pid) });
    } catch {
      // Gone already: it used nothing during the run.
    }
  }

  /**
   * Books the CPU one tracked process used so far and stops tracking it: called just before the
   * harness kills it, since a killed process's time is gone from /proc once it is reaped.
   */
  settleProcess(pid: number): void {
    const baseline = this.#baselines.get(pid);
    if (!baseline) return;
    this.#baselines.delete(pid);
    try {
      this.add(baseline.kind, cpuSecondsOf(pid) - baseline.cpu);
    } catch {
      this.add(baseline.kind, 0);
    }
  }

  /** CPU used since `track` by every tracked process still alive. */
  settle(): void {
    for (const [pid, { kind, cpu }] of this.#baselines) {
      try {
        this.add(kind, cpuSecondsOf(pid) - cpu);
      } catch {
        // Exited during the run: its time is lost (reaped children do not count in /proc).
        this.add(kind, 0);
      }
    }
    this.#baselines.clear();
  }

  add(kind: string, cpuSeconds: number | undefined): void {
    let list = this.#totals.get(kind);
    if (!list) this.#totals.set(kind, (list = []));
    list.push(cpuSeconds ?? 0);
  }

  report(wallSeconds: number, before: MachineSnapshot, after: MachineSnapshot): CpuReport {
    const cores = availableParallelism();
    const machineBusyFraction = busyFraction(before, after);
    const kinds = [...this.#totals].map(([kind, list]) => ({
      kind,
      processes: list.length,
      cpuSeconds: list.reduce((sum, s) => sum + s, 0),
      maxProcessCoreFraction: wallSeconds > 0 ? Math.max(0, ...list) / wallSeconds : 0,
    }));
    const hot = kinds.filter((k) => k.maxProcessCoreFraction >= CPU_BOUND_PROCESS_FRACTION);
    const own = kinds.reduce((sum, k) => sum + k.cpuSeconds, 0);
    const ownBusyFraction = wallSeconds > 0 ? own / (wallSeconds * cores) : 0;
    const percent = (f: number) => `${(f * 100).toFixed(0)}%`;
    let reason: string | undefined;
    if (machineBusyFraction >= CPU_BOUND_BUSY_FRACTION) {
      reason = `the machine's ${cores} cores were ${percent(machineBusyFraction)} busy (this run's processes ${percent(ownBusyFraction)}, the rest the kernel's links and other work on the machine)`;
    } else if (hot.length > 0) {
      reason = `one ${hot[0]!.kind} process used ${percent(hot[0]!.maxProcessCoreFraction)} of a core`;
    }
    return { cores, wallSeconds, machineBusyFraction, ownBusyFraction, kinds, cpuBound: reason !== undefined, reason };
  }
}

export interface CpuPerGiB {
  /** The process kind that moves the peers' bytes (dfdaemon, aria2c (leecher), curl). */
  readonly kind: string;
  readonly processes: number;
  readonly cpuSeconds: number;
  /** Bytes those peers' links received plus sent over the launch (wire bytes). */
  readonly bytesMoved: number;
  /** cpuSeconds per 2^30 bytes moved. */
  readonly secondsPerGiB: number;
}

/** CPU seconds of `kind` per GiB the peers moved; undefined when the kind ran no process. */
export function cpuPerGiBMoved(report: CpuReport, kind: string, bytesMoved: number): CpuPerGiB | undefined {
  const k = report.kinds.find((entry) => entry.kind === kind);
  if (!k) return undefined;
  return { kind, processes: k.processes, cpuSeconds: k.cpuSeconds, bytesMoved, secondsPerGiB: bytesMoved > 0 ? k.cpuSeconds / (bytesMoved / 2 ** 30) : Number.NaN };
}

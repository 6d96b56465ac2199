/** The progress bar dfget draws on a terminal: bytes, speed, ETA. Rendering is pure; the ticker is not. */
import { formatBytes } from '../../api/index.ts';

export interface ProgressState {
  readonly doneBytes: number;
  readonly totalBytes: number;
  readonly bytesPerSecond: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One line, at most `columns` wide: `[=====>    ]  45% 460.2 MiB / 1.00 GiB  512.3 MiB/s  ETA 1s`. */
export function renderProgress(state: ProgressState, columns: number): string {
  const fraction = state.totalBytes > 0 ? Math.min(1, state.doneBytes / state.totalBytes) : 1;
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const eta = state.bytesPerSecond > 0 ? (state.totalBytes - state.doneBytes) / state.bytesPerSecond : Number.POSITIVE_INFINITY;
  const tail = ` ${percent} ${formatBytes(state.doneBytes)} / ${formatBytes(state.totalBytes)}  ${formatBytes(state.bytesPerSecond)}/s  ETA ${formatDuration(eta)}`;
  const barWidth = Math.max(10, Math.min(40, columns - tail.length - 3));
  const filled = Math.round(fraction * barWidth);
  const bar = fraction >= 1 ? '='.repeat(barWidth) : `${'='.repeat(Math.max(0, filled - 1))}>${' '.repeat(barWidth - Math.max(1, filled))}`;
  return `[${bar}]${tail}`.slice(0, Math.max(columns - 1, 20));
}

/** Speed over a sliding window of recent samples, so a stall shows as a falling rate. */
export class SpeedMeter {
  readonly #samples: Array<{ at: number; bytes: number }> = [];
  readonly #windowMs: number;

  constructor(windowMs = 3000) {
    this.#windowMs = windowMs;
  }

  sample(at: number, bytes: number): number {
    this.#samples.push({ at, bytes });
    while (this.#samples.length > 2 && at - this.#samples[0]!.at > this.#windowMs) this.#samples.shift();
    const first = this.#samples[0]!;
    const elapsed = (at - first.at) / 1000;
    return elapsed > 0 ? (bytes - first.bytes) / elapsed : 0;
  }
}

/** Redraws the bar on a TTY every `intervalMs`; silent otherwise. */
export class ProgressBar {
  readonly #stream: NodeJS.WriteStream;
  readonly #meter = new SpeedMeter();
  #timer: NodeJS.Timeout | undefined;
  #done = 0;
  #total = 0;

  constructor(stream: NodeJS.WriteStream, intervalMs = 200) {
    this.#stream = stream;
    this.#timer = setInterval(() => this.#draw(), intervalMs);
    this.#timer.unref();
  }

  start(totalBytes: number, alreadyBytes: number): void {
    this.#total = totalBytes;
    this.#done = alreadyBytes;
    this.#draw();
  }

  add(bytes: number): void {
    this.#done += bytes;
  }

  stop(final: boolean): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (final) this.#done = this.#total;
    this.#draw();
    this.#stream.write('\n');
  }

  #draw(): void {
    const speed = this.#meter.sample(performance.now(), this.#done);
    const line = renderProgress({ doneBytes: this.#done, totalBytes: this.#total, bytesPerSecond: speed }, this.#stream.columns ?? 80);
    this.#stream.write(`\r${line}\x1b[K`);
  }
}

/** Human units used by config files and CLI flags: sizes (`4MiB`), durations (`30s`), rates (`100Mbps`). */
import { DfError } from './errors.ts';

export class InvalidUnitError extends DfError {
  constructor(message: string) {
    super('DF_ERR_INVALID_UNIT', message);
    this.name = 'InvalidUnitError';
  }
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12,
  ki: 2 ** 10, kib: 2 ** 10, mi: 2 ** 20, mib: 2 ** 20, gi: 2 ** 30, gib: 2 ** 30, ti: 2 ** 40, tib: 2 ** 40,
};

const DURATION_UNITS_MS: Record<string, number> = {
  ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000,
};

const RATE_UNITS_BITS: Record<string, number> = {
  bps: 1, kbps: 1e3, mbps: 1e6, gbps: 1e9, kbit: 1e3, mbit: 1e6, gbit: 1e9,
  'b/s': 8, 'kb/s': 8e3, 'mb/s': 8e6, 'gb/s': 8e9, 'kib/s': 8 * 2 ** 10, 'mib/s': 8 * 2 ** 20, 'gib/s': 8 * 2 ** 30,
};

function split(text: string, what: string, example: string): { value: number; unit: string } {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z/]*)\s*$/.exec(String(text));
  if (!match) throw new InvalidUnitError(`invalid ${what} "${text}": expected a number with a unit, e.g. ${example}`);
  return { value: Number(match[1]), unit: match[2]!.toLowerCase() };
}

/** Bytes from `4MiB`, `512kb`, `1GiB`, or a plain number of bytes. */
export function parseSize(text: string | number): number {
  if (typeof text === 'number') return checkedInteger(text, 'size', text);
  const { value, unit } = split(text, 'size', '4MiB');
  const factor = SIZE_UNITS[unit];
  if (factor === undefined) throw new InvalidUnitError(`invalid size unit in "${text}": use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB`);
  return checkedInteger(value * factor, 'size', text);
}

/** Milliseconds from `500ms`, `30s`, `5m`, `2h`, `1d`, or combinations like `1m30s`. */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') return checkedInteger(text, 'duration', text);
  const parts = String(text).trim().match(/\d+(?:\.\d+)?[a-z]+/gi);
  if (!parts || parts.join('') !== String(text).trim()) {
    throw new InvalidUnitError(`invalid duration "${text}": expected e.g. 500ms, 30s, 5m, 2h or 1m30s`);
  }
  let total = 0;
  for (const part of parts) {
    const { value, unit } = split(part, 'duration', '30s');
    const factor = DURATION_UNITS_MS[unit];
    if (factor === undefined) throw new InvalidUnitError(`invalid duration unit in "${text}": use ms, s, m, h or d`);
    total += value * factor;
  }
  return checkedInteger(total, 'duration', text);
}

/** Bits per second from `100Mbps`, `1Gbps`, `100mbit`, `50MB/s`. */
export function parseRate(text: string | number): number {
  if (typeof text === 'number') return checkedInteger(text, 'rate', text);
  const { value, unit } = split(text, 'rate', '100Mbps');
  const factor = RATE_UNITS_BITS[unit];
  if (factor === undefined) throw new InvalidUnitError(`invalid rate unit in "${text}": use bps, Kbps, Mbps, Gbps or B/s, MB/s, GB/s`);
  return checkedInteger(value * factor, 'rate', text);
}

function checkedInteger(value: number, what: string, original: unknown): number {
  if (!Number.isFinite(value) || value < 0 || value > Number.MAX_SAFE_INTEGER) {
    throw new InvalidUnitError(`invalid ${what} "${original}": must be a non-negative number`);
  }
  return Math.round(value);
}

/** `1.5 GiB`-style rendering for logs and progress. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

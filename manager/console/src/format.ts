/** Pure formatting for the pages: sizes, times, shares. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

export function rate(bytesPerSecond: number): string {
  return `${bytes(bytesPerSecond)}/s`;
}

/** "12 s ago", "3 min ago", or the date for older times. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return '—';
  if (ms < 5_000) return 'just now';
  if (ms < 60_000) return `${Math.round(ms / 1000)} s ago`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min ago`;
  if (ms < 86_400_000) return `${Math.round(ms / 3_600_000)} h ago`;
  return new Date(iso).toLocaleString();
}

export function percent(part: number, whole: number): number {
  return whole > 0 ? Math.min(100, Math.max(0, (part / whole) * 100)) : 0;
}

/**
 * The share of a task's bytes that did not come from the origin: 1 - origin / total. Undefined
 * when nothing was downloaded yet, so the page says nothing rather than "0%".
 */
export function p2pSaved(bySource: { origin: number; seed_peer: number; peer: number }): number | undefined {
  const total = bySource.origin + bySource.seed_peer + bySource.peer;
  return total > 0 ? Math.round((1 - bySource.origin / total) * 100) : undefined;
}

export function shortId(id: string): string {
  return id.length > 16 ? `${id.slice(0, 12)}…` : id;
}

export const TERMINAL_JOB_STATES = new Set(['SUCCESS', 'FAILURE']);

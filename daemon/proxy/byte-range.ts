/**
 * The one `Range` form the proxy answers itself from a task: a single `bytes=` range (RFC 9110
 * 14.1.2). Several ranges, or other units, are left to the upstream. Pure.
 */
export type RangeRequest =
  | { readonly kind: 'none' }
  | { readonly kind: 'single'; readonly first?: number | undefined; readonly last?: number | undefined; readonly suffix?: number | undefined }
  | { readonly kind: 'other' };

export interface ResolvedRange {
  readonly start: number;
  /** Inclusive. */
  readonly end: number;
}

export function parseRangeHeader(header: string | undefined): RangeRequest {
  if (header === undefined) return { kind: 'none' };
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return { kind: 'other' };
  const [, firstText = '', lastText = ''] = match;
  if (firstText === '' && lastText === '') return { kind: 'other' };
  if (firstText === '') return { kind: 'single', suffix: Number(lastText) };
  const first = Number(firstText);
  const last = lastText === '' ? undefined : Number(lastText);
  if (!Number.isSafeInteger(first) || (last !== undefined && (!Number.isSafeInteger(last) || last < first))) return { kind: 'other' };
  return { kind: 'single', first, last };
}

/** The bytes to send of a `length`-byte body; 'unsatisfiable' for a 416. */
export function resolveRange(range: RangeRequest, length: number): ResolvedRange | 'unsatisfiable' | undefined {
  if (range.kind !== 'single') return undefined;
  if (range.suffix !== undefined) {
    if (range.suffix === 0 || length === 0) return 'unsatisfiable';
    return { start: Math.max(0, length - range.suffix), end: length - 1 };
  }
  const first = range.first ?? 0;
  if (first >= length) return 'unsatisfiable';
  return { start: first, end: Math.min(length - 1, range.last ?? length - 1) };
}

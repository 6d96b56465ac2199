/** What each part of the cluster bench returns: tables to print, raw figures, target checks. */
import { fixed, formatTable, loud } from '../lib/format.ts';

export interface Target {
  readonly name: string;
  readonly value: number;
  readonly comparison: '<=' | '>=';
  readonly target: number;
  readonly met: boolean;
  /** Why it was missed, when the bench can tell. */
  readonly note?: string | undefined;
}

export function checkTarget(name: string, value: number, comparison: '<=' | '>=', target: number, note?: string): Target {
  const met = Number.isFinite(value) && (comparison === '<=' ? value <= target : value >= target);
  return { name, value, comparison, target, met, note: met ? undefined : note };
}

export interface Table {
  readonly caption: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

export interface PartReport {
  readonly title: string;
  readonly skipped?: string | undefined;
  readonly tables: readonly Table[];
  readonly notes: readonly string[];
  readonly targets: readonly Target[];
  readonly data: unknown;
}

export function skippedPart(title: string, reason: string): PartReport {
  return { title, skipped: reason, tables: [], notes: [], targets: [], data: { skipped: reason } };
}

export function printPart(part: PartReport): void {
  console.log(`\n== ${part.title}`);
  if (part.skipped) {
    console.log(loud(`SKIPPED: ${part.skipped}`));
    return;
  }
  for (const table of part.tables) console.log(`\n${table.caption}\n${formatTable(table.header, table.rows)}`);
  if (part.notes.length > 0) console.log('');
  for (const note of part.notes) console.log(`  ${note}`);
  for (const t of part.targets) {
    console.log(`  target ${t.met ? 'MET   ' : 'MISSED'} ${t.name}: ${fixed(t.value)} (want ${t.comparison} ${t.target})${t.note ? ` - ${t.note}` : ''}`);
  }
}

/** What every benchmark part returns: tables to print, raw figures for the JSON file, target checks. */
import { fixed, formatTable, loud } from './format.ts';

export interface Target {
  readonly name: string;
  /** The measured value, e.g. a ratio. */
  readonly value: number;
  readonly comparison: '>=' | '<=' | '<';
  readonly target: number;
  readonly met: boolean;
  /** Why it was missed, when the bench can tell. */
  readonly note?: string | undefined;
}

export function checkTarget(name: string, value: number, comparison: Target['comparison'], target: number, note?: string): Target {
  const met =
    Number.isFinite(value) && (comparison === '>=' ? value >= target : comparison === '<=' ? value <= target : value < target);
  return { name, value, comparison, target, met, note: met ? undefined : note };
}

export interface Table {
  /** Printed above the table; '' for none. */
  readonly caption: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

export interface Report {
  readonly title: string;
  /** Set when the part could not run here; the reason says what to install. */
  readonly skipped?: string | undefined;
  readonly tables: readonly Table[];
  /** Extra lines printed under the tables (methods, caveats). */
  readonly notes: readonly string[];
  readonly targets: readonly Target[];
  /** Raw figures for the JSON file. */
  readonly data: unknown;
}

export function skippedReport(title: string, reason: string): Report {
  return { title, skipped: reason, tables: [], notes: [], targets: [], data: { skipped: reason } };
}

export function printReport(report: Report): void {
  console.log(`\n== ${report.title}`);
  if (report.skipped) {
    console.log(loud(`SKIPPED: ${report.skipped}`));
    return;
  }
  for (const table of report.tables) console.log(`${table.caption ? `\n${table.caption}\n` : ''}${formatTable(table.header, table.rows)}`);
  for (const note of report.notes) console.log(note.startsWith('SKIPPED') ? loud(note) : `  ${note}`);
  for (const t of report.targets) {
    console.log(`  target ${t.met ? 'MET   ' : 'MISSED'} ${t.name}: ${fixed(t.value)} (want ${t.comparison} ${t.target})${t.note ? ` - ${t.note}` : ''}`);
  }
}

/** Runs one part; an error there is reported and the part counted as failed, the others still run. */
export async function attempt(title: string, run: () => Promise<Report>, signal: AbortSignal): Promise<Report> {
  try {
    return await run();
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    const message = error instanceof Error ? error.message : String(error);
    return { ...skippedReport(title, `FAILED: ${message}`), data: { failed: message } };
  }
}

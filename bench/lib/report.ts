/** What every benchmark returns: printable rows, machine-readable data, and its target checks. */

export interface TargetCheck {
  readonly name: string;
  /** The measured value, e.g. a ratio. */
  readonly value: number;
  readonly comparison: '>=' | '<';
  readonly target: number;
  readonly met: boolean;
}

export interface SectionReport {
  readonly title: string;
  /** Set when the section could not run here; `reason` says what to install. */
  readonly skipped?: string | undefined;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  readonly targets: readonly TargetCheck[];
  /** Extra lines printed under the table (methods, caveats). */
  readonly notes: readonly string[];
  /** Raw figures for the JSON file. */
  readonly data: unknown;
}

export function checkTarget(name: string, value: number, comparison: '>=' | '<', target: number): TargetCheck {
  const met = Number.isFinite(value) && (comparison === '>=' ? value >= target : value < target);
  return { name, value, comparison, target, met };
}

export function skippedSection(title: string, reason: string): SectionReport {
  return { title, skipped: reason, header: [], rows: [], targets: [], notes: [], data: { skipped: reason } };
}

/**
 * What the fault matrix reports: one row per cell, the targets checked per cell, and
 * faults.json `{ peers, sizeBytes, rate, floorSeconds, undisturbed, cells: [...], leftAtEnd }`,
 * each cell the CellResult (peers with their role and output, events, the fault's own checks,
 * what was left behind, every daemon's figures) plus `maxOverUndisturbed`, `originEgressOverFile`
 * and `targets`, or `{ fault, skipped }` / `{ fault, error }`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixed, formatTable } from '../lib/format.ts';
import { checkTarget, type Target } from '../lib/report.ts';
import type { CellResult } from './cell.ts';
import type { FaultSpec } from './faults.ts';

/** The targets for every cell. */
export const FAULT_TARGETS = Object.freeze({
  /** Survivors' max over the undisturbed run's (kills, stalls, scheduler and seed loss). */
  maxOverUndisturbed: 1.5,
});

export type CellOutcome =
  | { readonly fault: string; readonly result: CellResult; readonly spec: FaultSpec }
  | { readonly fault: string; readonly skipped: string }
  | { readonly fault: string; readonly error: string };

export function targetsOf(spec: FaultSpec, cell: CellResult, undisturbed: CellResult): Target[] {
  const ratio = cell.maxSeconds / undisturbed.maxSeconds;
  const hitOk = cell.peers.filter((p) => p.role !== 'survivor').every((p) => p.ok);
  const bad = cell.peers.filter((p) => p.output === 'corrupt' || p.output === 'partial').length;
  return [
    checkTarget('survivors done, byte-identical (fraction)', cell.survivors.total === 0 ? Number.NaN : cell.survivors.done / cell.survivors.total, '>=', 1, cell.peers.filter((p) => p.role === 'survivor' && !p.ok).map((p) => `${p.name}: ${p.error ?? p.output}`).join('; ')),
    checkTarget('corrupt or half-written outputs', bad, '<=', 0),
    checkTarget('hit peers did as expected (fraction)', hitOk ? 1 : 0, '>=', 1, cell.peers.filter((p) => p.role !== 'survivor' && !p.ok).map((p) => `${p.name} (${p.role}): ${p.error ?? 'finished'}, output ${p.output}`).join('; ')),
    ...(spec.maxTarget ? [checkTarget('survivors max / undisturbed max', ratio, '<=', FAULT_TARGETS.maxOverUndisturbed)] : []),
    ...cell.checks.map((c) => checkTarget(c.name, c.ok ? 1 : 0, '>=', 1, c.detail)),
    checkTarget('things left behind', cell.leftBehind.length, '<=', 0, cell.leftBehind.join('; ')),
  ];
}

function row(outcome: CellOutcome, undisturbed: CellResult | undefined, sizeBytes: number): string[] {
  if ('skipped' in outcome) return [outcome.fault, '-', 'SKIPPED', '-', '-', '-', '-', '-', '-', '-', outcome.skipped];
  if ('error' in outcome) return [outcome.fault, '-', 'FAILED', '-', '-', '-', '-', '-', '-', '-', outcome.error.slice(0, 100)];
  const cell = outcome.result;
  const hit = cell.peers.filter((p) => p.role !== 'survivor');
  const bad = cell.peers.filter((p) => p.output === 'corrupt' || p.output === 'partial').length;
  const ratio = undisturbed ? cell.maxSeconds / undisturbed.maxSeconds : Number.NaN;
  const checks = cell.checks.length === 0 ? '-' : cell.checks.every((c) => c.ok) ? 'ok' : `FAILED: ${cell.checks.filter((c) => !c.ok).map((c) => c.name).join(', ')}`;
  return [
    cell.fault,
    fixed(cell.at),
    `${cell.survivors.done}/${cell.survivors.total}`,
    cell.peers.filter((p) => p.role === 'survivor').every((p) => p.output === 'file') ? 'yes' : 'NO',
    String(bad),
    fixed(cell.maxSeconds),
    `${fixed(ratio)}${outcome.spec.maxTarget && !(ratio <= FAULT_TARGETS.maxOverUndisturbed) ? ' (!)' : ''}`,
    fixed(cell.originEgressBytes / sizeBytes, 3),
    hit.length === 0 ? '-' : hit.map((p) => `${p.name} ${p.role}${p.ok ? '' : ' (NOT as expected)'}`).join(', '),
    checks,
    cell.leftBehind.length === 0 ? 'nothing' : cell.leftBehind.join('; ').slice(0, 120),
  ];
}

export function cellTable(undisturbed: CellResult, outcomes: readonly CellOutcome[], sizeBytes: number): string {
  const header = ['cell', 'at', 'survivors done', 'verified', 'corrupt/half', 'max s', 'x undisturbed', 'origin egress x file', 'hit peers', 'fault checks', 'left behind'];
  const base = [undisturbed.fault, '-', `${undisturbed.survivors.done}/${undisturbed.survivors.total}`, undisturbed.peers.every((p) => p.output === 'file') ? 'yes' : 'NO', String(undisturbed.peers.filter((p) => p.output === 'corrupt' || p.output === 'partial').length), fixed(undisturbed.maxSeconds), '1.00', fixed(undisturbed.originEgressBytes / sizeBytes, 3), '-', '-', undisturbed.leftBehind.length === 0 ? 'nothing' : undisturbed.leftBehind.join('; ').slice(0, 120)];
  return formatTable(header, [base, ...outcomes.map((o) => row(o, undisturbed, sizeBytes))]);
}

/** Infinity and NaN as null: JSON has neither. */
const finite = (_key: string, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value);

export function writeFaultsJson(outDir: string, setup: Record<string, unknown>, undisturbed: CellResult | undefined, outcomes: readonly CellOutcome[], leftAtEnd: readonly string[]): string {
  mkdirSync(outDir, { recursive: true });
  const cells = outcomes.map((o) => {
    if (!('result' in o)) return o;
    const { result, spec } = o;
    return {
      ...result,
      summary: spec.summary,
      maxOverUndisturbed: undisturbed ? result.maxSeconds / undisturbed.maxSeconds : null,
      originEgressOverFile: result.originEgressBytes / Number(setup['sizeBytes']),
      targets: undisturbed ? targetsOf(spec, result, undisturbed) : [],
    };
  });
  const path = join(outDir, 'faults.json');
  writeFileSync(path, `${JSON.stringify({ ...setup, targets: FAULT_TARGETS, undisturbed, cells, leftAtEnd }, finite, 2)}\n`);
  return path;
}

// Turns the figures into the printed table (phase, baseline, ferry, ratio, target, PASS/MISS) and the --json document.
import { writeFile } from 'node:fs/promises';

/** A ratio target compares ferry to the baseline; a ceiling target bounds ferry's own figure. */
export type Goal = { kind: 'ratio-at-least'; value: number } | { kind: 'at-most'; value: number };

export interface Row {
  section: string;
  phase: string;
  unit: string;
  baseline?: number;
  ferry: number;
  goal?: Goal;
  /** ferry/baseline of each repetition (each pair ran back to back, so drifts on the machine cancel out). */
  repRatios?: number[];
  /** Decimal places to print. */
  digits: number;
}

export type Verdict = 'PASS' | 'MISS' | 'info';

export function ratioOf(row: Row): number | undefined {
  return row.baseline === undefined || row.baseline === 0 ? undefined : row.ferry / row.baseline;
}

export function verdictOf(row: Row): Verdict {
  if (!row.goal) return 'info';
  if (row.goal.kind === 'at-most') return row.ferry <= row.goal.value ? 'PASS' : 'MISS';
  const ratio = ratioOf(row);
  return ratio !== undefined && ratio >= row.goal.value ? 'PASS' : 'MISS';
}

function goalText(row: Row): string {
  if (!row.goal) return '';
  return row.goal.kind === 'at-most' ? `<= ${row.goal.value} ${row.unit}` : `>= ${row.goal.value}x`;
}

function num(n: number | undefined, digits: number): string {
  if (n === undefined || Number.isNaN(n)) return '-';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Ratios are truncated, not rounded, so a printed 0.60x never sits beside a MISS of a 0.6x target. */
function truncated(ratio: number): string {
  return (Math.floor(ratio * 100) / 100).toFixed(2);
}

export function renderTable(rows: readonly Row[]): string {
  const header = ['phase', 'baseline', 'ferry', 'ratio', 'per rep', 'target', 'result'];
  const cells = rows.map((r) => {
    const ratio = ratioOf(r);
    const perRep = r.repRatios && r.repRatios.length > 1 ? r.repRatios.map((x) => truncated(x)).join(' ') : '';
    return [`${r.phase} (${r.unit})`, num(r.baseline, r.digits), num(r.ferry, r.digits), ratio === undefined ? '' : `${truncated(ratio)}x`, perRep, goalText(r), verdictOf(r)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === 0 || i >= 4 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ').trimEnd();
  const out: string[] = [];
  let section = '';
  for (const [i, r] of rows.entries()) {
    if (r.section !== section) {
      section = r.section;
      out.push('', section, line(header), widths.map((w) => '-'.repeat(w)).join('  '));
    }
    out.push(line(cells[i]!));
  }
  return out.join('\n');
}

export async function writeJson(file: string, doc: unknown): Promise<void> {
  await writeFile(file, JSON.stringify(doc, null, 2) + '\n');
}

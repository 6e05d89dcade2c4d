// SPDX-License-Identifier: GPL-3.0-or-later
/** The comparison report as aligned plain-text tables, for a terminal. */
import type { UnitExplanation } from './explain.js';
import type { CompareReport, ComparisonSummary, GtGroupSummary, TestedUnitRow, GtUnitRow } from './report.js';

type Align = 'left' | 'right';

/** Columns padded to their widest cell; the first column left-aligned unless told otherwise. */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align?: readonly Align[],
): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const alignOf = (c: number): Align => align?.[c] ?? (c === 0 ? 'left' : 'right');
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (alignOf(c) === 'left' ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

const fixed = (v: number | null, digits = 3): string => (v === null ? '–' : v.toFixed(digits));
const percent = (v: number | null): string => (v === null ? '–' : `${(100 * v).toFixed(1)}%`);
const idOrDash = (v: number | null): string => (v === null ? '–' : String(v));

function gtTable(summary: ComparisonSummary): string {
  const groups: GtGroupSummary[] = [summary.all, ...summary.bySnr];
  return renderTable(
    ['ground-truth units', 'units', 'well detected', '%', 'accuracy', 'precision', 'recall'],
    groups.map((g) => [
      g.label,
      String(g.nGtUnits),
      String(g.nWellDetected),
      percent(g.fractionWellDetected),
      fixed(g.meanAccuracy),
      fixed(g.meanPrecision),
      fixed(g.meanRecall),
    ]),
  );
}

function testedTable(report: CompareReport): string {
  const all = report.summary.tested;
  const good = report.goodOnly?.tested;
  const rows: [string, keyof typeof all][] = [
    ['units', 'nTestedUnits'],
    ['well detected', 'nWellDetected'],
    ['false positive', 'nFalsePositive'],
    ['redundant', 'nRedundant'],
    ['overmerged', 'nOvermerged'],
    ['bad (unmatched)', 'nBad'],
  ];
  const headers = good ? ['tested units', 'all', 'good'] : ['tested units', 'all'];
  return renderTable(
    headers,
    rows.map(([name, key]) => (good ? [name, String(all[key]), String(good[key])] : [name, String(all[key])])),
  );
}

function gtUnitsTable(rows: readonly GtUnitRow[]): string {
  return renderTable(
    ['gt unit', 'snr', 'spikes', 'matched', 'agreement', 'tp', 'fn', 'fp', 'accuracy', 'precision', 'recall', 'best'],
    rows.map((u) => [
      String(u.id),
      u.snr.toFixed(1),
      String(u.nSpikes),
      idOrDash(u.matchedUnit),
      fixed(u.agreement),
      String(u.tp),
      String(u.fn),
      String(u.fp),
      fixed(u.accuracy),
      fixed(u.precision),
      fixed(u.recall),
      u.bestUnit === null ? '–' : `${u.bestUnit} (${fixed(u.bestAgreement)})`,
    ]),
    ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
}

function testedUnitsTable(rows: readonly TestedUnitRow[]): string {
  return renderTable(
    ['tested unit', 'label', 'spikes', 'category', 'matched gt', 'agreement', 'best gt', 'overmerged'],
    rows.map((u) => [
      String(u.id),
      u.label ?? '?',
      String(u.nSpikes),
      u.category,
      idOrDash(u.matchedGtUnit),
      fixed(u.agreement),
      u.bestGtUnit === null ? '–' : `${u.bestGtUnit} (${fixed(u.bestAgreement)})`,
      u.overmerged ? 'yes' : '',
    ]),
    ['right', 'left', 'right', 'left', 'right', 'right', 'right', 'left'],
  );
}

function explanationsTable(rows: readonly UnitExplanation[]): string {
  const share = (id: number | null, f: number): string => (id === null ? '–' : `${id} (${fixed(f)})`);
  return renderTable(
    ['tested unit', 'spikes', 'kind', 'best gt', 'second gt', 'best gt at a lag', 'coincides with', 'missing'],
    rows.map((u) => [
      String(u.id),
      String(u.nSpikes),
      u.kind,
      share(u.bestGtUnit, u.bestGtFraction),
      share(u.secondGtUnit, u.secondGtFraction),
      u.lagGtUnit === null ? '–' : `${u.lagGtUnit} @ ${u.lagSamples} (${fixed(u.lagFraction)})`,
      share(u.partner, u.partnerFraction),
      u.missingFraction === null ? '–' : fixed(u.missingFraction),
    ]),
    ['right', 'right', 'left', 'right', 'right', 'right', 'right', 'right'],
  );
}

/** The summary (and with `units`, the per-unit tables) as text. */
export function formatReport(report: CompareReport, options: { units?: boolean } = {}): string {
  const p = report.parameters;
  const s = report.sorting;
  const labels = s.labelSource === null ? 'no labels' : `labels from ${s.labelSource}: ${s.nGoodUnits ?? 0} good`;
  const parts = [
    `ground truth  ${report.groundTruth.dir} (${report.groundTruth.nUnits} units, ${report.groundTruth.nSpikes} spikes, ${p.sampleRateHz} Hz)`,
    `sorting       ${s.dir} (${s.format}, ${s.nUnits} units, ${s.nSpikes} spikes; ${labels})`,
    `matching      |Δt| ≤ ${p.deltaFrames} samples (${p.deltaMs} ms); match ≥ ${p.matchScore}, chance ≥ ${p.chanceScore}, ` +
      `well detected ≥ ${p.wellDetectedScore}, redundant ≥ ${p.redundantScore}, overmerged > ${p.overmergedScore}`,
    '',
    gtTable(report.summary),
    '',
    testedTable(report),
  ];
  if (report.goodOnly) parts.push('', 'tested units labelled good only:', gtTable(report.goodOnly));
  if (options.units) parts.push('', gtUnitsTable(report.gtUnits), '', testedUnitsTable(report.testedUnits));
  if (report.explanations) {
    const which = report.goodOnly ? 'good units without a match' : 'units without a match';
    parts.push('', `${which}, explained:`, explanationsTable(report.explanations));
  }
  return parts.join('\n') + '\n';
}

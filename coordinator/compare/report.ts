// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `spikeshard compare` as a library call: reads the ground truth and the tested sorting, runs the
 * comparison on all tested units and again on the units labelled good, and gathers the result in
 * one JSON-ready object whose key names are stable (docs/scoring.md documents them).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { InputError, ParameterError, expected } from '../../proto/errors.js';
import { readGroundTruth, type GroundTruth } from '../formats/ground-truth.js';
import { readNpy, toFloat64 } from '../formats/npy.js';
import { explainUnit, type UnitExplanation } from './explain.js';
import { compareSortings, resolveComparisonOptions, type Comparison, type ComparisonOptions } from './comparison.js';
import { buildSpikeTrains, selectUnits, type SpikeTrains } from './spike-trains.js';
import { readTestedSorting, type SortingFormat, type TestedSorting } from './sorting-folder.js';
import { resolveTruthDir } from './truth-folder.js';

export const COMPARE_REPORT_FORMAT = 'spikeshard-compare/1';

/** SNR bin edges used unless others are given: < 5, 5–8, ≥ 8. */
export const DEFAULT_SNR_EDGES: readonly number[] = Object.freeze([5, 8]);

/** Relative difference between params.py's and the truth's sample rate beyond which they are different clocks. */
const SAMPLE_RATE_TOLERANCE = 1e-3;

/** A half-open SNR interval [minSnr, maxSnr); null means unbounded. */
export interface SnrBin {
  label: string;
  minSnr: number | null;
  maxSnr: number | null;
}

/** Ground-truth side of a summary, over all ground-truth units or those of one SNR bin. */
export interface GtGroupSummary {
  label: string;
  minSnr: number | null;
  maxSnr: number | null;
  nGtUnits: number;
  nWellDetected: number;
  /** nWellDetected / nGtUnits; null without units. */
  fractionWellDetected: number | null;
  /** Means over the group's ground-truth units (unmatched units count as 0); null without units. */
  meanAccuracy: number | null;
  meanPrecision: number | null;
  meanRecall: number | null;
  meanFalseDiscoveryRate: number | null;
  meanMissRate: number | null;
}

/** Tested side of a summary: counts of tested units per category. */
export interface TestedSummary {
  nTestedUnits: number;
  nWellDetected: number;
  nFalsePositive: number;
  nRedundant: number;
  nOvermerged: number;
  nBad: number;
}

export interface ComparisonSummary {
  all: GtGroupSummary;
  bySnr: GtGroupSummary[];
  tested: TestedSummary;
}

export interface MatchRef {
  id: number;
  agreement: number;
}

export interface GtUnitRow {
  id: number;
  snr: number;
  snrBin: string;
  nSpikes: number;
  /** Hungarian match (tested unit id), null if none. */
  matchedUnit: number | null;
  /** Agreement with the Hungarian match, 0 if none. */
  agreement: number;
  /** Best-scoring tested unit if its agreement ≥ chanceScore, else null. */
  bestUnit: number | null;
  bestAgreement: number;
  /** Tested units with agreement ≥ chanceScore, highest first. */
  possibleMatches: MatchRef[];
  tp: number;
  fn: number;
  fp: number;
  accuracy: number;
  recall: number;
  precision: number;
  falseDiscoveryRate: number;
  missRate: number;
  wellDetected: boolean;
}

export type TestedCategory = 'well detected' | 'matched' | 'false positive' | 'redundant' | 'bad';

export interface TestedUnitRow {
  id: number;
  /** 'good', 'mua', 'noise', ... ; null when unknown. */
  label: string | null;
  nSpikes: number;
  matchedGtUnit: number | null;
  agreement: number;
  bestGtUnit: number | null;
  bestAgreement: number;
  possibleMatches: MatchRef[];
  /** One word for tables: the first that applies of well detected, matched, false positive, redundant, bad. */
  category: TestedCategory;
  wellDetected: boolean;
  falsePositive: boolean;
  redundant: boolean;
  overmerged: boolean;
  bad: boolean;
}

export interface CompareReport {
  format: typeof COMPARE_REPORT_FORMAT;
  groundTruth: { dir: string; sampleRateHz: number; nUnits: number; nSpikes: number };
  sorting: {
    dir: string;
    format: SortingFormat;
    /** params.py's sample_rate; null for ALF. */
    sampleRateHz: number | null;
    samplesSource: string;
    labelSource: string | null;
    nUnits: number;
    nSpikes: number;
    /** Units labelled good; null without labels. */
    nGoodUnits: number | null;
  };
  parameters: ComparisonOptions & {
    sampleRateHz: number;
    deltaFrames: number;
    snrEdges: number[];
    exhaustiveGt: true;
    matchMode: 'hungarian';
    agreementMethod: 'count';
  };
  /** All tested units. */
  summary: ComparisonSummary;
  /** The comparison redone with only the tested units labelled good; null without labels. */
  goodOnly: ComparisonSummary | null;
  gtUnits: GtUnitRow[];
  testedUnits: TestedUnitRow[];
  /**
   * With `explain`: what each unmatched unit is made of (explain.ts): the good units left unmatched
   * by the good-only comparison, or every unmatched unit without labels. Absent otherwise.
   */
  explanations?: UnitExplanation[];
}

export interface CompareRequest {
  gtDir: string;
  sortingDir: string;
  /** Picks ground_truth/<probe> in a simulate output folder. */
  probe?: string;
  format?: SortingFormat | 'auto';
  options?: Partial<ComparisonOptions>;
  /** Ascending SNR edges; default DEFAULT_SNR_EDGES. */
  snrEdges?: readonly number[];
  /** Adds `explanations` (phy amplitudes.npy, when present, gives the amplitudes). */
  explain?: boolean;
}

/** Bins from ascending edges: [−∞, e0), [e0, e1), ..., [en, ∞). */
export function snrBins(edges: readonly number[]): SnrBin[] {
  for (let k = 0; k < edges.length; k++) {
    if (!Number.isFinite(edges[k]!) || (k > 0 && !(edges[k]! > edges[k - 1]!))) {
      throw new ParameterError(`SNR bin edges ${expected('finite numbers in ascending order', edges.join(','))}`);
    }
  }
  if (edges.length === 0) return [{ label: 'all SNR', minSnr: null, maxSnr: null }];
  const bins: SnrBin[] = [{ label: `SNR < ${edges[0]}`, minSnr: null, maxSnr: edges[0]! }];
  for (let k = 1; k < edges.length; k++) {
    bins.push({ label: `${edges[k - 1]} ≤ SNR < ${edges[k]}`, minSnr: edges[k - 1]!, maxSnr: edges[k]! });
  }
  bins.push({ label: `SNR ≥ ${edges[edges.length - 1]}`, minSnr: edges[edges.length - 1]!, maxSnr: null });
  return bins;
}

function binOf(bins: readonly SnrBin[], snr: number): number {
  return bins.findIndex((b) => (b.minSnr === null || snr >= b.minSnr) && (b.maxSnr === null || snr < b.maxSnr));
}

/** Ground-truth spike trains from a truth folder's content (every unit of truth.json, even without spikes). */
export function truthSpikeTrains(gt: GroundTruth, dir: string): SpikeTrains {
  const ids = gt.units.map((u) => u.id);
  const known = new Set(ids);
  if (known.size !== ids.length) throw new InputError(dir, 'truth.json lists a unit id twice');
  for (let s = 0; s < gt.spikeUnits.length; s++) {
    if (!known.has(gt.spikeUnits[s]!)) {
      throw new InputError(dir, `spikes.units.npy: unit id ${gt.spikeUnits[s]} of spike ${s} is not in truth.json`);
    }
    if (!Number.isSafeInteger(gt.spikeSamples[s]!)) {
      throw new InputError(dir, `spikes.samples.npy: sample ${gt.spikeSamples[s]} of spike ${s} is not an integer`);
    }
  }
  return buildSpikeTrains(ids, gt.spikeSamples, gt.spikeUnits);
}

/** Summaries of one comparison: ground-truth units overall and per SNR bin, tested categories. */
export function summarise(
  comparison: Comparison,
  snrByIndex: readonly number[],
  bins: readonly SnrBin[],
): ComparisonSummary {
  const nGt = comparison.gt.unitIds.length;
  const groups = [{ label: 'all', minSnr: null, maxSnr: null } as SnrBin, ...bins];
  const members: number[][] = groups.map(() => []);
  for (let a = 0; a < nGt; a++) {
    members[0]!.push(a);
    const k = binOf(bins, snrByIndex[a]!);
    if (k >= 0) members[k + 1]!.push(a);
  }
  const groupSummaries = groups.map((g, k) => gtGroupSummary(comparison, g, members[k]!));
  const c = comparison.categories;
  return {
    all: groupSummaries[0]!,
    bySnr: groupSummaries.slice(1),
    tested: {
      nTestedUnits: c.length,
      nWellDetected: c.filter((x) => x.wellDetected).length,
      nFalsePositive: c.filter((x) => x.falsePositive).length,
      nRedundant: c.filter((x) => x.redundant).length,
      nOvermerged: c.filter((x) => x.overmerged).length,
      nBad: c.filter((x) => x.bad).length,
    },
  };
}

function gtGroupSummary(comparison: Comparison, bin: SnrBin, units: readonly number[]): GtGroupSummary {
  const n = units.length;
  const mean = (pick: (a: number) => number): number | null =>
    n === 0 ? null : units.reduce((sum, a) => sum + pick(a), 0) / n;
  const nWell = units.filter((a) => isWellDetected(comparison, a)).length;
  const perf = comparison.performance;
  return {
    label: bin.label,
    minSnr: bin.minSnr,
    maxSnr: bin.maxSnr,
    nGtUnits: n,
    nWellDetected: nWell,
    fractionWellDetected: n === 0 ? null : nWell / n,
    meanAccuracy: mean((a) => perf[a]!.accuracy),
    meanPrecision: mean((a) => perf[a]!.precision),
    meanRecall: mean((a) => perf[a]!.recall),
    meanFalseDiscoveryRate: mean((a) => perf[a]!.falseDiscoveryRate),
    meanMissRate: mean((a) => perf[a]!.missRate),
  };
}

/** A ground-truth unit is well detected when its Hungarian match is (one-to-one, so the counts agree). */
function isWellDetected(comparison: Comparison, gtIndex: number): boolean {
  const b = comparison.hungarian12[gtIndex]!;
  return b >= 0 && comparison.categories[b]!.wellDetected;
}

function possibleMatches(
  comparison: Comparison,
  fixed: number,
  side: 'gt' | 'tested',
  ids: readonly number[],
): MatchRef[] {
  const n2 = comparison.tested.unitIds.length;
  const out: MatchRef[] = [];
  for (let k = 0; k < ids.length; k++) {
    const score = side === 'gt' ? comparison.agreement[fixed * n2 + k]! : comparison.agreement[k * n2 + fixed]!;
    if (score >= comparison.options.chanceScore) out.push({ id: ids[k]!, agreement: score });
  }
  return out.sort((x, y) => y.agreement - x.agreement || x.id - y.id);
}

/** Scores a sorting folder against a ground-truth folder. */
export function scoreSorting(request: CompareRequest): CompareReport {
  const options = resolveComparisonOptions(request.options);
  const snrEdges = [...(request.snrEdges ?? DEFAULT_SNR_EDGES)];
  const bins = snrBins(snrEdges);
  const truthDir = resolveTruthDir(request.gtDir, request.probe);
  const truth = readGroundTruth(truthDir);
  const gtTrains = truthSpikeTrains(truth, truthDir);
  const sampleRateHz = truth.sampleRateHz;

  const sorting = readTestedSorting(request.sortingDir, {
    format: request.format ?? 'auto',
    fallbackSampleRateHz: sampleRateHz,
  });
  checkSampleRate(sorting, sampleRateHz);
  const testedTrains = buildSpikeTrains(sorting.clusterIds, sorting.spikeSamples, sorting.spikeClusters);

  const comparison = compareSortings(gtTrains, testedTrains, sampleRateHz, options);
  const snrById = new Map(truth.units.map((u) => [u.id, u.snr] as const));
  const snrByIndex = gtTrains.unitIds.map((id) => snrById.get(id)!);
  const labelById = new Map(sorting.clusterIds.map((id, k) => [id, sorting.labels[k] ?? null] as const));

  let goodOnly: ComparisonSummary | null = null;
  let nGoodUnits: number | null = null;
  let unmatchedIds = testedTrains.unitIds.filter((_, b) => comparison.hungarian21[b]! < 0);
  if (sorting.labelSource !== null) {
    const goodIds = sorting.clusterIds.filter((id) => labelById.get(id) === 'good');
    nGoodUnits = goodIds.length;
    const goodTrains = selectUnits(testedTrains, goodIds);
    const goodComparison = compareSortings(gtTrains, goodTrains, sampleRateHz, options);
    goodOnly = summarise(goodComparison, snrByIndex, bins);
    unmatchedIds = goodTrains.unitIds.filter((_, b) => goodComparison.hungarian21[b]! < 0);
  }

  const gtIds = gtTrains.unitIds;
  const testedIds = testedTrains.unitIds;
  const n2 = testedIds.length;
  const gtUnits: GtUnitRow[] = gtIds.map((id, a) => {
    const matched = comparison.hungarian12[a]!;
    const best = comparison.best12[a]!;
    const k = binOf(bins, snrByIndex[a]!);
    return {
      id,
      snr: snrByIndex[a]!,
      snrBin: k >= 0 ? bins[k]!.label : '',
      nSpikes: gtTrains.counts[a]!,
      matchedUnit: matched >= 0 ? testedIds[matched]! : null,
      agreement: matched >= 0 ? comparison.agreement[a * n2 + matched]! : 0,
      bestUnit: best >= 0 ? testedIds[best]! : null,
      bestAgreement: best >= 0 ? comparison.agreement[a * n2 + best]! : 0,
      possibleMatches: possibleMatches(comparison, a, 'gt', testedIds),
      ...comparison.performance[a]!,
      wellDetected: isWellDetected(comparison, a),
    };
  });
  const testedUnits: TestedUnitRow[] = testedIds.map((id, b) => {
    const matched = comparison.hungarian21[b]!;
    const best = comparison.best21[b]!;
    const c = comparison.categories[b]!;
    const category: TestedCategory = c.wellDetected
      ? 'well detected'
      : matched >= 0
        ? 'matched'
        : c.falsePositive
          ? 'false positive'
          : c.redundant
            ? 'redundant'
            : 'bad';
    return {
      id,
      label: labelById.get(id) ?? null,
      nSpikes: testedTrains.counts[b]!,
      matchedGtUnit: matched >= 0 ? gtIds[matched]! : null,
      agreement: matched >= 0 ? comparison.agreement[matched * n2 + b]! : 0,
      bestGtUnit: best >= 0 ? gtIds[best]! : null,
      bestAgreement: best >= 0 ? comparison.agreement[best * n2 + b]! : 0,
      possibleMatches: possibleMatches(comparison, b, 'tested', gtIds),
      category,
      ...c,
    };
  });

  const explanations = request.explain
    ? explainUnits(gtTrains, testedTrains, sorting, unmatchedIds, comparison.deltaFrames)
    : undefined;

  return {
    format: COMPARE_REPORT_FORMAT,
    groundTruth: { dir: truthDir, sampleRateHz, nUnits: gtIds.length, nSpikes: gtTrains.samples.length },
    sorting: {
      dir: sorting.dir,
      format: sorting.format,
      sampleRateHz: sorting.sampleRateHz,
      samplesSource: sorting.samplesSource,
      labelSource: sorting.labelSource,
      nUnits: testedIds.length,
      nSpikes: testedTrains.samples.length,
      nGoodUnits,
    },
    parameters: {
      ...options,
      sampleRateHz,
      deltaFrames: comparison.deltaFrames,
      snrEdges,
      exhaustiveGt: true,
      matchMode: 'hungarian',
      agreementMethod: 'count',
    },
    summary: summarise(comparison, snrByIndex, bins),
    goodOnly,
    gtUnits,
    testedUnits,
    ...(explanations ? { explanations } : {}),
  };
}

function explainUnits(
  gt: SpikeTrains,
  tested: SpikeTrains,
  sorting: TestedSorting,
  ids: readonly number[],
  deltaFrames: number,
): UnitExplanation[] {
  const ampFile = path.join(sorting.dir, 'amplitudes.npy');
  let amplitudes: Float64Array | null = null;
  if (sorting.format === 'phy' && existsSync(ampFile)) {
    amplitudes = toFloat64(readNpy(ampFile), ampFile);
    if (amplitudes.length !== sorting.spikeClusters.length) {
      throw new InputError(ampFile, `${amplitudes.length} amplitudes for ${sorting.spikeClusters.length} spikes`);
    }
  }
  return ids.map((id) => {
    let own: number[] | null = null;
    if (amplitudes !== null) {
      own = [];
      for (let s = 0; s < amplitudes.length; s++) if (sorting.spikeClusters[s] === id) own.push(amplitudes[s]!);
    }
    return explainUnit(gt, tested, tested.unitIds.indexOf(id), own, { deltaFrames });
  });
}

/** Both folders must count samples of the same clock: params.py's rate must agree with the truth's. */
function checkSampleRate(sorting: TestedSorting, truthRateHz: number): void {
  if (sorting.sampleRateHz === null) return;
  if (Math.abs(sorting.sampleRateHz - truthRateHz) > SAMPLE_RATE_TOLERANCE * truthRateHz) {
    throw new InputError(
      path.join(sorting.dir, 'params.py'),
      `sample_rate ${expected(`the ground truth's ${truthRateHz} Hz`, sorting.sampleRateHz)}`,
    );
  }
}

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Ground-truth comparison with SpikeInterface's definitions (`GroundTruthComparison` with
 * match_mode "hungarian", agreement_method "count", exhaustive_gt true): agreement scores from
 * match counts, possible / best / Hungarian matches, per-ground-truth-unit counts and rates, and
 * the categories of tested units. docs/scoring.md states every definition.
 */
import { ParameterError, expected } from '../../proto/errors.js';
import { solveAssignment } from './hungarian.js';
import { countMatches, type SpikeTrains } from './spike-trains.js';

/** Thresholds of the comparison; the defaults are SpikeInterface's. */
export interface ComparisonOptions {
  /** Largest |t1 − t2| (ms) at which two spikes match; truncated to whole samples. */
  deltaMs: number;
  /** Agreement needed for a Hungarian (one-to-one) match. */
  matchScore: number;
  /** Agreement needed for a possible or best match. */
  chanceScore: number;
  /** Agreement at or above which a matched unit is well detected. */
  wellDetectedScore: number;
  /** Agreement at or above which an unmatched tested unit is redundant rather than a false positive. */
  redundantScore: number;
  /** Agreement above which (strictly) a tested unit counts towards a ground-truth unit it overmerges. */
  overmergedScore: number;
}

export const DEFAULT_COMPARISON_OPTIONS: Readonly<ComparisonOptions> = Object.freeze({
  deltaMs: 0.4,
  matchScore: 0.5,
  chanceScore: 0.1,
  wellDetectedScore: 0.8,
  redundantScore: 0.2,
  overmergedScore: 0.2,
});

/** Counts and rates of one ground-truth unit under the Hungarian match. */
export interface UnitPerformance {
  tp: number;
  fn: number;
  fp: number;
  accuracy: number;
  recall: number;
  precision: number;
  falseDiscoveryRate: number;
  missRate: number;
}

/** The categories of one tested unit (not exclusive: overmerged combines with the others). */
export interface TestedCategories {
  wellDetected: boolean;
  falsePositive: boolean;
  redundant: boolean;
  overmerged: boolean;
  bad: boolean;
}

/** Everything the comparison computes; units are referred to by index into the trains' unitIds. */
export interface Comparison {
  options: ComparisonOptions;
  sampleRateHz: number;
  /** int(deltaMs / 1000 · sampleRateHz). */
  deltaFrames: number;
  gt: SpikeTrains;
  tested: SpikeTrains;
  /** (U1, U2) row-major matched spike counts. */
  matchCounts: Float64Array;
  /** (U1, U2) row-major agreement scores. */
  agreement: Float64Array;
  /** (U1,) tested unit index of each ground-truth unit's Hungarian match, −1 if none. */
  hungarian12: Int32Array;
  /** (U2,) ground-truth unit index of each tested unit's Hungarian match, −1 if none. */
  hungarian21: Int32Array;
  /** (U1,) best-scoring tested unit (first on ties) if its agreement ≥ chanceScore, else −1. */
  best12: Int32Array;
  /** (U2,) best-scoring ground-truth unit (first on ties) if its agreement ≥ chanceScore, else −1. */
  best21: Int32Array;
  /** (U1,) */
  performance: UnitPerformance[];
  /** (U2,) */
  categories: TestedCategories[];
}

/** Checks thresholds and returns the complete options. */
export function resolveComparisonOptions(partial: Partial<ComparisonOptions> = {}): ComparisonOptions {
  const options: ComparisonOptions = { ...DEFAULT_COMPARISON_OPTIONS, ...partial };
  if (!Number.isFinite(options.deltaMs) || options.deltaMs < 0) {
    throw new ParameterError(`deltaMs ${expected('a non-negative number of ms', options.deltaMs)}`);
  }
  for (const key of ['matchScore', 'chanceScore', 'wellDetectedScore', 'redundantScore', 'overmergedScore'] as const) {
    const v = options[key];
    if (!Number.isFinite(v) || v < 0 || v > 1) throw new ParameterError(`${key} ${expected('a score in [0, 1]', v)}`);
  }
  return options;
}

/** int(deltaMs / 1000 · fs), evaluated in the same order as SpikeInterface so the truncation agrees. */
export function deltaFramesFor(deltaMs: number, sampleRateHz: number): number {
  return Math.trunc((deltaMs / 1000) * sampleRateHz);
}

/** Agreement A = n_match / (n1 + n2 − n_match), 0 when the denominator is 0. */
export function agreementScores(
  matchCounts: Float64Array,
  gtCounts: Float64Array,
  testedCounts: Float64Array,
): Float64Array {
  const n1 = gtCounts.length;
  const n2 = testedCounts.length;
  const out = new Float64Array(n1 * n2);
  for (let a = 0; a < n1; a++) {
    for (let b = 0; b < n2; b++) {
      const m = matchCounts[a * n2 + b]!;
      const denominator = gtCounts[a]! + testedCounts[b]! - m;
      out[a * n2 + b] = denominator === 0 ? 0 : m / denominator;
    }
  }
  return out;
}

/** SpikeInterface's per-unit rates: all 0 when tp = 0 or the unit has no spikes. */
export function unitPerformance(tp: number, fn: number, fp: number, nGt: number): UnitPerformance {
  if (tp === 0 || nGt === 0) {
    return { tp, fn, fp, accuracy: 0, recall: 0, precision: 0, falseDiscoveryRate: 0, missRate: 0 };
  }
  return {
    tp,
    fn,
    fp,
    accuracy: tp / (tp + fn + fp),
    recall: tp / (tp + fn),
    precision: tp / (tp + fp),
    falseDiscoveryRate: fp / (tp + fp),
    missRate: fn / nGt,
  };
}

/** Compares a tested sorting with the ground truth; both trains count samples of the same recording. */
export function compareSortings(
  gt: SpikeTrains,
  tested: SpikeTrains,
  sampleRateHz: number,
  partialOptions: Partial<ComparisonOptions> = {},
): Comparison {
  const options = resolveComparisonOptions(partialOptions);
  if (!(sampleRateHz > 0)) throw new ParameterError(`sampleRateHz ${expected('a positive number', sampleRateHz)}`);
  const deltaFrames = deltaFramesFor(options.deltaMs, sampleRateHz);
  const n1 = gt.unitIds.length;
  const n2 = tested.unitIds.length;
  const matchCounts = countMatches(gt, tested, deltaFrames);
  const agreement = agreementScores(matchCounts, gt.counts, tested.counts);

  const best12 = new Int32Array(n1).fill(-1);
  for (let a = 0; a < n1; a++) {
    let arg = -1;
    for (let b = 0; b < n2; b++) if (arg < 0 || agreement[a * n2 + b]! > agreement[a * n2 + arg]!) arg = b;
    if (arg >= 0 && agreement[a * n2 + arg]! >= options.chanceScore) best12[a] = arg;
  }
  const best21 = new Int32Array(n2).fill(-1);
  for (let b = 0; b < n2; b++) {
    let arg = -1;
    for (let a = 0; a < n1; a++) if (arg < 0 || agreement[a * n2 + b]! > agreement[arg * n2 + b]!) arg = a;
    if (arg >= 0 && agreement[arg * n2 + b]! >= options.chanceScore) best21[b] = arg;
  }

  // Scores below matchScore are zeroed before the assignment, and only pairs at or above it kept.
  const cost = new Float64Array(n1 * n2);
  for (let k = 0; k < cost.length; k++) cost[k] = agreement[k]! >= options.matchScore ? -agreement[k]! : 0;
  const assigned = solveAssignment(cost, n1, n2);
  const hungarian12 = new Int32Array(n1).fill(-1);
  const hungarian21 = new Int32Array(n2).fill(-1);
  for (let a = 0; a < n1; a++) {
    const b = assigned[a]!;
    if (b >= 0 && agreement[a * n2 + b]! >= options.matchScore) {
      hungarian12[a] = b;
      hungarian21[b] = a;
    }
  }

  const performance: UnitPerformance[] = [];
  for (let a = 0; a < n1; a++) {
    const b = hungarian12[a]!;
    const nGt = gt.counts[a]!;
    if (b < 0) performance.push(unitPerformance(0, nGt, 0, nGt));
    else {
      const tp = matchCounts[a * n2 + b]!;
      performance.push(unitPerformance(tp, nGt - tp, tested.counts[b]! - tp, nGt));
    }
  }

  const categories: TestedCategories[] = [];
  for (let b = 0; b < n2; b++) {
    const matched = hungarian21[b]!;
    const best = best21[b]!;
    const bestScore = best >= 0 ? agreement[best * n2 + b]! : 0;
    let above = 0;
    for (let a = 0; a < n1; a++) if (agreement[a * n2 + b]! > options.overmergedScore) above++;
    categories.push({
      wellDetected: matched >= 0 && agreement[matched * n2 + b]! >= options.wellDetectedScore,
      falsePositive: matched < 0 && (best < 0 || bestScore < options.redundantScore),
      redundant: matched < 0 && best >= 0 && best12[best] !== b && bestScore >= options.redundantScore,
      overmerged: above > 1,
      bad: matched < 0,
    });
  }

  return {
    options,
    sampleRateHz,
    deltaFrames,
    gt,
    tested,
    matchCounts,
    agreement,
    hungarian12,
    hungarian21,
    best12,
    best21,
    performance,
    categories,
  };
}

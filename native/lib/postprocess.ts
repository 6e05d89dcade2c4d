// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Post-processing kernels: the per-spike linear algebra of the cluster splits. Each value is
 * summed over spikes in spike order by one thread, so the results are bitwise those of the
 * plain sequential loop they replace, for any thread count.
 */
import type { BimodalFitRaw } from './binding-postprocess.js';
import { loadCpuBinding } from './load.js';

export interface WeightedGram {
  /** (dims × dims) symmetric, row-major. */
  gram: Float64Array;
  /** (dims,) when right-hand-side weights were given, else null. */
  rhs: Float64Array | null;
}

/**
 * gram[c][d] = Σ_i (x[i][c] · weights[i]) · x[i][d] (without weights: Σ_i x[i][c] · x[i][d]) and,
 * with `rhsWeights`, rhs[c] = Σ_i x[i][c] · rhsWeights[i], over the n rows of x (n × dims,
 * row-major), summed in row order; terms with x[i][c] = 0 are left out. `threads`: 0 for the
 * default count (1 where many calls run side by side, e.g. in worker threads); the bits are the same.
 */
export function weightedGram(
  x: Float64Array,
  n: number,
  dims: number,
  weights: Float64Array | null = null,
  rhsWeights: Float64Array | null = null,
  threads = 0,
): WeightedGram {
  return loadCpuBinding().postprocessWeightedGram(x, n, dims, weights, rhsWeights, threads);
}

/**
 * Mean along the rows of x (n × dims, row-major) over a Gaussian-like window: three passes of a
 * box sum over rows i − halfWidth … i + halfWidth (each a running sum: add the entering row, then
 * drop the leaving one), divided by the same sums of a column of ones (edges renormalised).
 * `threads` as for {@link weightedGram}.
 */
export function runningMeanRows(
  x: Float64Array,
  n: number,
  dims: number,
  halfWidth: number,
  threads = 0,
): Float64Array {
  return loadCpuBinding().postprocessRunningMean(x, n, dims, halfWidth, threads);
}

/**
 * out[i] = Σ_d x[i][d] · w[d] over the n rows of x (n × dims), summed in ascending d. `threads` as
 * for {@link weightedGram}.
 */
export function projectRows(x: Float64Array, n: number, dims: number, w: Float64Array, threads = 0): Float64Array {
  return loadCpuBinding().postprocessProject(x, n, dims, w, threads);
}

/**
 * Solves a · x = b (n × n, row-major) by Gaussian elimination with partial pivoting (the first
 * row with the largest |pivot|; rows whose factor is 0 are skipped) and back substitution. Throws
 * RangeError when a pivot is below 1e-300 in magnitude (singular matrix).
 */
export function solveLinearSystem(a: Float64Array, b: Float64Array, n: number): Float64Array {
  return loadCpuBinding().postprocessSolveLinear(a, b, n);
}

/** A two-way split of spikes by the bimodal pursuit. */
export type BimodalFit = BimodalFitRaw;

/**
 * The cluster splits' bimodal pursuit (ks25-algorithm.md §5.3 step 4) of the rows of x (n × dims,
 * row-major): the top direction of Σ x xᵀ, then 50 iterations of a two-Gaussian EM along it, the
 * direction refitted on every fourth iteration from the tenth. `inFirst` (n) marks the spikes of
 * the first Gaussian (responsibility > 0.5); the confidences are each half's mean responsibility
 * (0 for an empty half). Deterministic; `threads` as for {@link weightedGram}. RangeError when a
 * refit system is singular.
 */
export function bimodalPursuitRows(x: Float64Array, n: number, dims: number, threads = 0): BimodalFit {
  return loadCpuBinding().postprocessBimodalPursuit(x, n, dims, threads);
}

/** A split pursuit's outcome with the mean feature row (nPc·K) of each half. */
export interface SplitPursuit extends BimodalFit {
  meanFirst: Float64Array;
  meanSecond: Float64Array;
}

/**
 * One split pursuit of a cluster's spikes, on a native thread of its own (the JavaScript thread
 * stays free, and as many clusters as there are cores can be pursued at once): the features of
 * `members` (indices into `rows` and `templates`) on the channels of template `reference` (each
 * row holds nPc·K float32 features on its own template's K channels, pc-major; a channel the
 * reference lacks gives 0, a channel it lists twice its last slot), minus their
 * {@link runningMeanRows} (half width `halfWidth`), through {@link bimodalPursuitRows}; then the
 * mean feature row (before the detrend) of each half, summed in spike order. The arrays are only
 * read; they must not be transferred before the promise settles.
 */
export function splitPursuit(
  rows: Float32Array,
  templates: Uint32Array,
  members: Int32Array,
  pcFeatureInd: Uint32Array,
  nPc: number,
  k: number,
  reference: number,
  halfWidth: number,
  threads = 0,
): Promise<SplitPursuit> {
  return loadCpuBinding().postprocessSplitPursuit(
    rows,
    templates,
    members,
    pcFeatureInd,
    nPc,
    k,
    reference,
    halfWidth,
    threads,
  );
}

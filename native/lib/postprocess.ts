// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Post-processing kernels: the per-spike linear algebra of the cluster splits. Each value is
 * summed over spikes in spike order by one thread, so the results are bitwise those of the
 * plain sequential loop they replace, for any thread count.
 */
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
 * row-major), summed in row order; terms with x[i][c] = 0 are left out.
 */
export function weightedGram(
  x: Float64Array,
  n: number,
  dims: number,
  weights: Float64Array | null = null,
  rhsWeights: Float64Array | null = null,
): WeightedGram {
  return loadCpuBinding().postprocessWeightedGram(x, n, dims, weights, rhsWeights);
}

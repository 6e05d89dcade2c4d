// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Export kernels: the whitening matrix's pseudo-inverse and the templates brought back to ADC
 * counts with their peak-to-peak amplitudes. Each value is computed by one thread in a fixed
 * order, so the results are bitwise those of the sequential TypeScript loops they replaced, for
 * any thread count.
 */
import { loadCpuBinding } from './load.js';

/** A matrix's Moore–Penrose pseudo-inverse and the SVD facts that came with it. */
export interface JacobiPseudoInverse {
  /** (cols, rows) row-major pseudo-inverse. */
  inverse: Float64Array;
  /** (min(rows, cols),) singular values, descending. */
  singularValues: Float64Array;
  /** Number of singular values above the tolerance. */
  rank: number;
  /** The cut-off used: singular values at or below it were treated as zero. */
  tolerance: number;
}

/**
 * Pseudo-inverse of the row-major (rows, cols) matrix `a` by a one-sided Jacobi SVD (cyclic pair
 * order, at most 80 sweeps). Singular values ≤ rcond · σ_max count as zero; rcond defaults to
 * max(rows, cols) · 2⁻⁵² (numpy's and MATLAB's rule). Throws RangeError for a wrong length or a
 * non-finite entry, Error when the rotations do not converge. `threads`: 0 for the default count.
 */
export function jacobiPseudoInverse(
  a: Float64Array,
  rows: number,
  cols: number,
  rcond?: number,
  threads = 0,
): JacobiPseudoInverse {
  return loadCpuBinding().exportPseudoInverse(a, rows, cols, rcond ?? null, threads);
}

/**
 * (rows, n) = a (rows, n) · b (n, n), row-major: each value summed in ascending k from +0, rows in
 * groups of four from row 0 and the k where all four a values are 0 left out (a sparse template
 * row costs only its channels). `threads`: 0 for the default count; the bits are the same.
 */
export function multiplyFloat32Rows(
  a: Float32Array,
  b: Float64Array,
  rows: number,
  n: number,
  threads = 0,
): Float64Array {
  return loadCpuBinding().exportMultiplyRows(a, b, rows, n, threads);
}

/** Per-template peak-to-peak amplitudes ({@link templatePeakToPeak}). */
export interface TemplatePeakToPeak {
  /** (T,) max over channels of the unwhitened template's peak-to-peak (its units, e.g. ADC counts). */
  p2pCounts: Float64Array;
  /** (T,) max over channels of that peak-to-peak × the channel's µV per count × 1e-6: volts. */
  p2pVolts: Float64Array;
  /** (T,) channel with the largest peak-to-peak of the whitened template (lowest index on ties). */
  peakChannels: Int32Array;
}

/**
 * Peak-to-peak amplitudes of T templates given whitened (float) and unwhitened (double), both
 * (T, nt0, C) row-major; NaN samples are ignored, maxima taken as Math.max takes them, from +0.
 * `uvPerCount` (C,): µV per unit of the unwhitened values. `threads` as for {@link multiplyFloat32Rows}.
 */
export function templatePeakToPeak(
  whitened: Float32Array,
  unwhitened: Float64Array,
  uvPerCount: Float64Array,
  nTemplates: number,
  nt0: number,
  nChannels: number,
  threads = 0,
): TemplatePeakToPeak {
  return loadCpuBinding().exportTemplatePeakToPeak(
    whitened,
    unwhitened,
    uvPerCount,
    nTemplates,
    nt0,
    nChannels,
    threads,
  );
}

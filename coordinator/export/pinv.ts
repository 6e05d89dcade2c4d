// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Moore–Penrose pseudo-inverse by a one-sided Jacobi SVD (Hestenes' method).
 *
 * Why this method: the whitening matrix can be close to singular (channels outside the brain or
 * dead channels carry almost no weight), so inverting it by elimination would blow up rounding
 * noise into huge entries. The one-sided Jacobi SVD works on A itself (never on AᵀA, which would
 * square the condition number), computes small singular values to high relative accuracy, and
 * lets us drop the directions that are numerically null, exactly as `numpy.linalg.pinv` and
 * MATLAB's `pinv` do: singular values ≤ tol are treated as zero, with the MATLAB default
 * tol = max(rows, cols) · eps · σ_max.
 */
import { jacobiPseudoInverse } from '../../native/lib/index.js';

export interface PseudoInverse {
  /** (cols, rows) row-major pseudo-inverse. */
  inverse: Float64Array;
  /** Singular values, descending. */
  singularValues: Float64Array;
  /** Number of singular values above the tolerance. */
  rank: number;
  /** The cut-off used: singular values at or below it were treated as zero. */
  tolerance: number;
}

/**
 * Pseudo-inverse of the row-major (rows, cols) matrix `a`. `rcond`, when given, replaces the
 * default relative cut-off (tol = rcond · σ_max).
 */
export function pseudoInverse(a: Float64Array, rows: number, cols: number, rcond?: number): PseudoInverse {
  if (a.length !== rows * cols) {
    throw new RangeError(`pseudoInverse: a (${rows}, ${cols}) matrix has ${rows * cols} elements, got ${a.length}`);
  }
  // The native core runs the same rotations in the same order as the TypeScript loops it
  // replaced (bit for bit), ~4× sooner on one core: 384 channels took 4.5 s on the main thread.
  return jacobiPseudoInverse(a, rows, cols, rcond, PSEUDO_INVERSE_THREADS);
}

// Threads of the SVD's rotations (0: the engine's thread count). Any count gives the same bits;
// the threads work in lockstep (row p follows row p − 1 pair by pair). 384 channels on the H100
// machine's 16 cores: 383 ms on one thread, 105 ms on 16 (test/bench/export-linalg-bench.ts); on a
// shared, busy 2-core machine two threads were 2× slower than one.
const PSEUDO_INVERSE_THREADS = 0;

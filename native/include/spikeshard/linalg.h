// SPDX-License-Identifier: GPL-3.0-or-later
// Small dense linear algebra shared by the core (no BLAS/LAPACK is assumed anywhere we run).
#ifndef SPIKESHARD_LINALG_H_
#define SPIKESHARD_LINALG_H_

#include <cstddef>
#include <optional>
#include <vector>

namespace spikeshard {

// Eigen-decomposition of a symmetric n×n matrix (row-major, double) by cyclic Jacobi rotations.
// Returns eigenvalues in descending order; eigenvectors[k*n + i] is component i of the k-th
// eigenvector (unit norm, sign fixed so that its largest-magnitude component is positive, which
// makes the result deterministic). Accurate to ~1e-12 relative for the sizes used here (n ≤ 128).
struct SymmetricEigen {
  std::vector<double> values;
  std::vector<double> vectors;
};
SymmetricEigen symmetric_eigen(const double* a, std::size_t n);

// Moore–Penrose pseudo-inverse of a (rows × cols, row-major) by a one-sided Jacobi SVD
// (Hestenes): the columns of the tall matrix (Aᵀ when rows < cols) are rotated in cyclic order
// (p, q > p), one pair at a time, until every pair is orthogonal to rounding level. Singular values
// at or below tol = rcond · σ_max are treated as zero (rcond defaults to max(rows, cols) · 2⁻⁵²,
// the numpy / MATLAB rule). Every operation is done in the order of coordinator/export/pinv.ts's
// former TypeScript loops, without FMA contraction, so the results equal them bit for bit.
// Throws std::invalid_argument for a non-finite entry and std::runtime_error when the rotations
// do not converge within 80 sweeps. threads = 0: the default thread count. From 64 columns on,
// the threads share each sweep's rows p in lockstep (pair (p, q) waits for (p − 1, q), so every
// column sees the serial order's rotations in that order), and the final product V · Σ⁻² · Uᵀ
// one output row per thread: the bits do not depend on the thread count.
struct PseudoInverse {
  std::vector<double> inverse;          // (cols × rows) row-major
  std::vector<double> singular_values;  // min(rows, cols), descending
  std::size_t rank = 0;                 // singular values above the tolerance
  double tolerance = 0;                 // the cut-off used
};
PseudoInverse pseudo_inverse(const double* a, std::size_t rows, std::size_t cols,
                             std::optional<double> rcond = std::nullopt, int threads = 0);

}  // namespace spikeshard

#endif  // SPIKESHARD_LINALG_H_

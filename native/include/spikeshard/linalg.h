// SPDX-License-Identifier: GPL-3.0-or-later
// Small dense linear algebra shared by the core (no BLAS/LAPACK is assumed anywhere we run).
#ifndef SPIKESHARD_LINALG_H_
#define SPIKESHARD_LINALG_H_

#include <cstddef>
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

}  // namespace spikeshard

#endif  // SPIKESHARD_LINALG_H_

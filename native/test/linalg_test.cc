// SPDX-License-Identifier: GPL-3.0-or-later
#include <cmath>
#include <random>
#include <vector>

#include "check.h"
#include "spikeshard/linalg.h"

using spikeshard::symmetric_eigen;

TEST(symmetric_eigen_diagonal_sorted_descending) {
  std::vector<double> a = {1, 0, 0, 0, 5, 0, 0, 0, 3};
  auto e = symmetric_eigen(a.data(), 3);
  CHECK_NEAR(e.values[0], 5, 1e-14);
  CHECK_NEAR(e.values[1], 3, 1e-14);
  CHECK_NEAR(e.values[2], 1, 1e-14);
  CHECK_NEAR(e.vectors[0 * 3 + 1], 1, 1e-14);
}

TEST(symmetric_eigen_reconstructs_random_matrix) {
  const std::size_t n = 40;
  std::mt19937 rng(7);
  std::normal_distribution<double> g;
  std::vector<double> b(n * n), a(n * n, 0.0);
  for (auto& x : b) x = g(rng);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j)
      for (std::size_t k = 0; k < n; ++k) a[i * n + j] += b[i * n + k] * b[j * n + k];
  auto e = symmetric_eigen(a.data(), n);
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double r = 0;
      for (std::size_t k = 0; k < n; ++k) r += e.values[k] * e.vectors[k * n + i] * e.vectors[k * n + j];
      worst = std::max(worst, std::fabs(r - a[i * n + j]));
    }
  }
  CHECK(worst < 1e-9);
  for (std::size_t k = 1; k < n; ++k) CHECK(e.values[k - 1] >= e.values[k]);
}

// SPDX-License-Identifier: GPL-3.0-or-later
#include <algorithm>
#include <cmath>
#include <optional>
#include <random>
#include <stdexcept>
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

namespace {

std::vector<double> matmul(const std::vector<double>& a, const std::vector<double>& b, std::size_t n, std::size_t m,
                           std::size_t p) {
  std::vector<double> out(n * p, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = 0; k < m; ++k)
      for (std::size_t j = 0; j < p; ++j) out[i * p + j] += a[i * m + k] * b[k * p + j];
  return out;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

std::vector<double> random_matrix(std::size_t rows, std::size_t cols, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  std::vector<double> a(rows * cols);
  for (auto& x : a) x = u(rng);
  return a;
}

}  // namespace

TEST(pseudo_inverse_diagonal_drops_the_zero) {
  const std::vector<double> a{2, 0, 0, 0, 0, 0, 0, 0, -4};
  auto p = spikeshard::pseudo_inverse(a.data(), 3, 3);
  const std::vector<double> want{0.5, 0, 0, 0, 0, 0, 0, 0, -0.25};
  CHECK(p.inverse == want);
  CHECK(p.rank == 2);
  CHECK((p.singular_values == std::vector<double>{4, 2, 0}));
  CHECK(p.tolerance == 3 * 4 * 0x1p-52);
}

TEST(pseudo_inverse_of_a_known_inverse) {
  // [[1, 2], [3, 4]]⁻¹ = [[-2, 1], [1.5, -0.5]]
  const std::vector<double> a{1, 2, 3, 4};
  auto p = spikeshard::pseudo_inverse(a.data(), 2, 2);
  CHECK(p.rank == 2);
  CHECK_NEAR(p.inverse[0], -2, 1e-14);
  CHECK_NEAR(p.inverse[1], 1, 1e-14);
  CHECK_NEAR(p.inverse[2], 1.5, 1e-14);
  CHECK_NEAR(p.inverse[3], -0.5, 1e-14);
  // σ² are the eigenvalues of AᵀA = [[10, 14], [14, 20]]: 15 ± √221.
  CHECK_NEAR(p.singular_values[0], std::sqrt(15 + std::sqrt(221.0)), 1e-14);
  CHECK_NEAR(p.singular_values[1], std::sqrt(15 - std::sqrt(221.0)), 1e-14);
}

TEST(pseudo_inverse_rank_deficient_penrose_conditions_and_threads) {
  // (9, 6) of rank 3, one zero row, and its (6, 9) transpose (the wide path).
  auto a = matmul(random_matrix(9, 3, 1), random_matrix(3, 6, 2), 9, 3, 6);
  for (std::size_t c = 0; c < 6; ++c) a[4 * 6 + c] = 0;
  for (const bool wide : {false, true}) {
    const std::size_t rows = wide ? 6 : 9, cols = wide ? 9 : 6;
    std::vector<double> m(rows * cols);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t c = 0; c < cols; ++c) m[r * cols + c] = wide ? a[c * 6 + r] : a[r * cols + c];
    auto p = spikeshard::pseudo_inverse(m.data(), rows, cols, std::nullopt, 1);
    CHECK(p.rank == 3);
    CHECK(p.singular_values.size() == 6);
    const auto& x = p.inverse;
    const auto ax = matmul(m, x, rows, cols, rows);
    const auto xa = matmul(x, m, cols, rows, cols);
    CHECK(max_abs_diff(matmul(ax, m, rows, rows, cols), m) < 1e-14);
    CHECK(max_abs_diff(matmul(xa, x, cols, cols, rows), x) < 1e-12);
    for (std::size_t i = 0; i < rows; ++i)
      for (std::size_t j = 0; j < rows; ++j) CHECK_NEAR(ax[i * rows + j], ax[j * rows + i], 1e-13);
    for (std::size_t i = 0; i < cols; ++i)
      for (std::size_t j = 0; j < cols; ++j) CHECK_NEAR(xa[i * cols + j], xa[j * cols + i], 1e-13);
    // The product's threads change who sums a row, never the bits.
    auto p3 = spikeshard::pseudo_inverse(m.data(), rows, cols, std::nullopt, 3);
    CHECK(p3.inverse == p.inverse);
    CHECK(p3.singular_values == p.singular_values);
  }
}

TEST(pseudo_inverse_rcond_and_bad_input) {
  const std::vector<double> a{1, 0, 0, 1e-3};
  CHECK(spikeshard::pseudo_inverse(a.data(), 2, 2).rank == 2);
  auto p = spikeshard::pseudo_inverse(a.data(), 2, 2, 1e-2);
  CHECK(p.rank == 1);
  CHECK(p.tolerance == 1e-2);
  CHECK((p.inverse == std::vector<double>{1, 0, 0, 0}));
  std::vector<double> bad{1, 0, NAN, 1};
  bool threw = false;
  try {
    spikeshard::pseudo_inverse(bad.data(), 2, 2);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
  auto empty = spikeshard::pseudo_inverse(nullptr, 0, 3);
  CHECK(empty.inverse.empty());
  CHECK(empty.rank == 0);
}

TEST(pseudo_inverse_rows_in_lockstep_give_the_serial_bits) {
  // 80 columns: from 64 on, the threads share each sweep's rows; a zero column and a rank-deficient
  // block included.
  const std::size_t n = 80;
  auto a = random_matrix(n, n, 4);
  for (std::size_t r = 0; r < n; ++r) a[r * n + 17] = 0;
  const auto low = matmul(random_matrix(n, 5, 5), random_matrix(5, 30, 6), n, 5, 30);
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t c = 0; c < 30; ++c) a[r * n + 50 + c] = low[r * 30 + c];
  const auto serial = spikeshard::pseudo_inverse(a.data(), n, n, std::nullopt, 1);
  for (const int threads : {2, 5, 16}) {
    const auto p = spikeshard::pseudo_inverse(a.data(), n, n, std::nullopt, threads);
    CHECK(p.inverse == serial.inverse);
    CHECK(p.singular_values == serial.singular_values);
    CHECK(p.rank == serial.rank);
  }
  const auto x = serial.inverse;
  CHECK(max_abs_diff(matmul(matmul(a, x, n, n, n), a, n, n, n), a) < 1e-12);
}

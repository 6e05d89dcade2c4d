// SPDX-License-Identifier: GPL-3.0-or-later
#include "spikeshard/linalg.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace spikeshard {

SymmetricEigen symmetric_eigen(const double* a_in, std::size_t n) {
  if (n == 0) return {};
  std::vector<double> a(a_in, a_in + n * n);
  std::vector<double> v(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      if (std::fabs(a[i * n + j] - a[j * n + i]) > 1e-9 * (std::fabs(a[i * n + j]) + std::fabs(a[j * n + i]) + 1e-300)) {
        throw std::invalid_argument("symmetric_eigen: matrix is not symmetric");
      }
    }
  }
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0.0, diag = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      diag += a[i * n + i] * a[i * n + i];
      for (std::size_t j = i + 1; j < n; ++j) off += a[i * n + j] * a[i * n + j];
    }
    if (off <= 1e-30 * std::max(diag, 1e-300)) break;
    for (std::size_t p = 0; p < n; ++p) {
      for (std::size_t q = p + 1; q < n; ++q) {
        double apq = a[p * n + q];
        if (apq == 0.0) continue;
        double app = a[p * n + p], aqq = a[q * n + q];
        double theta = (aqq - app) / (2.0 * apq);
        double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
        double c = 1.0 / std::sqrt(t * t + 1.0), s = t * c;
        for (std::size_t k = 0; k < n; ++k) {  // rotate columns p, q
          double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (std::size_t k = 0; k < n; ++k) {  // rotate rows p, q
          double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (std::size_t k = 0; k < n; ++k) {  // accumulate eigenvectors as columns of v
          double vkp = v[k * n + p], vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return a[x * n + x] > a[y * n + y]; });
  SymmetricEigen out;
  out.values.resize(n);
  out.vectors.resize(n * n);
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t col = order[k];
    out.values[k] = a[col * n + col];
    std::size_t imax = 0;
    for (std::size_t i = 1; i < n; ++i) {
      if (std::fabs(v[i * n + col]) > std::fabs(v[imax * n + col])) imax = i;
    }
    double sign = v[imax * n + col] < 0 ? -1.0 : 1.0;
    for (std::size_t i = 0; i < n; ++i) out.vectors[k * n + i] = sign * v[i * n + col];
  }
  return out;
}

}  // namespace spikeshard

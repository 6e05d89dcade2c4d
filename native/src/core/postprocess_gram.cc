// SPDX-License-Identifier: GPL-3.0-or-later
#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "spikeshard/postprocess.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

// Rows [c0, c1) of the upper triangle over every spike. Four spikes are added per pass over a
// row, one after the other into the same running value, so each sum keeps the spike order; a
// zero x[i][c] among the four falls back to one spike at a time, which skips it exactly.
void accumulate_rows(const double* x, std::size_t n, std::size_t dims, const double* w, const double* t,
                     std::size_t c0, std::size_t c1, double* gram, double* rhs) {
  const auto one = [&](std::size_t i, std::size_t c) {
    const double* xi = x + i * dims;
    const double xc = xi[c];
    if (xc == 0) return;
    const double q = w != nullptr ? xc * w[i] : xc;
    double* row = gram + c * dims;
    for (std::size_t d = c; d < dims; ++d) row[d] += q * xi[d];
    if (rhs != nullptr) rhs[c] += xc * t[i];
  };
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const double* x0 = x + i * dims;
    const double* x1 = x0 + dims;
    const double* x2 = x1 + dims;
    const double* x3 = x2 + dims;
    for (std::size_t c = c0; c < c1; ++c) {
      const double a0 = x0[c];
      const double a1 = x1[c];
      const double a2 = x2[c];
      const double a3 = x3[c];
      if (a0 == 0 || a1 == 0 || a2 == 0 || a3 == 0) {
        for (std::size_t k = 0; k < 4; ++k) one(i + k, c);
        continue;
      }
      const double q0 = w != nullptr ? a0 * w[i] : a0;
      const double q1 = w != nullptr ? a1 * w[i + 1] : a1;
      const double q2 = w != nullptr ? a2 * w[i + 2] : a2;
      const double q3 = w != nullptr ? a3 * w[i + 3] : a3;
      double* row = gram + c * dims;
      for (std::size_t d = c; d < dims; ++d) {
        double v = row[d];
        v += q0 * x0[d];
        v += q1 * x1[d];
        v += q2 * x2[d];
        v += q3 * x3[d];
        row[d] = v;
      }
      if (rhs != nullptr) {
        double b = rhs[c];
        b += a0 * t[i];
        b += a1 * t[i + 1];
        b += a2 * t[i + 2];
        b += a3 * t[i + 3];
        rhs[c] = b;
      }
    }
  }
  for (; i < n; ++i) {
    for (std::size_t c = c0; c < c1; ++c) one(i, c);
  }
}

}  // namespace

void weighted_gram(const double* x, std::size_t n, std::size_t dims, const double* w, const double* t, double* gram,
                   double* rhs, int threads) {
  if (dims == 0) throw std::invalid_argument("weighted_gram: dims must be at least 1");
  if (n > 0 && x == nullptr) throw std::invalid_argument("weighted_gram: x is missing");
  if ((t == nullptr) != (rhs == nullptr)) {
    throw std::invalid_argument("weighted_gram: the right-hand side needs both t and rhs");
  }
  std::fill(gram, gram + dims * dims, 0.0);
  if (rhs != nullptr) std::fill(rhs, rhs + dims, 0.0);
  // Row c holds dims − c values: cut the rows into chunks of about equal work. Every row is
  // summed by one thread, so the cut only decides who does the work, never the result.
  constexpr std::size_t kChunks = 16;
  const std::size_t total = dims * (dims + 1) / 2;
  std::vector<std::size_t> bounds{0};
  std::size_t acc = 0;
  for (std::size_t c = 0; c < dims; ++c) {
    acc += dims - c;
    if (acc * kChunks >= total * bounds.size() && c + 1 < dims) bounds.push_back(c + 1);
  }
  bounds.push_back(dims);
  parallel_for(
      bounds.size() - 1,
      [&](std::size_t b, std::size_t e) {
        // One pass over the spikes for all rows of this range (x is read once per thread).
        if (b < e) accumulate_rows(x, n, dims, w, t, bounds[b], bounds[e], gram, rhs);
      },
      threads);
  for (std::size_t c = 0; c < dims; ++c) {
    for (std::size_t d = c + 1; d < dims; ++d) gram[d * dims + c] = gram[c * dims + d];
  }
}

}  // namespace spikeshard

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
[[gnu::always_inline]] inline void accumulate_rows_body(const double* x, std::size_t n, std::size_t dims,
                                                         const double* w, const double* t, std::size_t c0,
                                                         std::size_t c1, double* gram, double* rhs) {
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
  constexpr std::size_t kBlock = 8;
  for (; i + kBlock <= n; i += kBlock) {
    const double* xb = x + i * dims;
    for (std::size_t c = c0; c < c1; ++c) {
      double a[kBlock];
      double q[kBlock];
      bool zero = false;
      for (std::size_t k = 0; k < kBlock; ++k) {
        a[k] = xb[k * dims + c];
        zero = zero || a[k] == 0;
        q[k] = w != nullptr ? a[k] * w[i + k] : a[k];
      }
      if (zero) {
        for (std::size_t k = 0; k < kBlock; ++k) one(i + k, c);
        continue;
      }
      double* __restrict row = gram + c * dims;
      for (std::size_t d = c; d < dims; ++d) {
        double v = row[d];
        for (std::size_t k = 0; k < kBlock; ++k) v += q[k] * xb[k * dims + d];
        row[d] = v;
      }
      if (rhs != nullptr) {
        double b = rhs[c];
        for (std::size_t k = 0; k < kBlock; ++k) b += a[k] * t[i + k];
        rhs[c] = b;
      }
    }
  }
  for (; i < n; ++i) {
    for (std::size_t c = c0; c < c1; ++c) one(i, c);
  }
}

// The same loop compiled for AVX2 (4 doubles per instruction) where the CPU has it. Only the
// vector width changes: no FMA is enabled, so every product is rounded before its sum, as in
// the baseline build and in the TS loops this replaces.
[[gnu::target("avx2")]] void accumulate_rows_avx2(const double* x, std::size_t n, std::size_t dims, const double* w,
                                                  const double* t, std::size_t c0, std::size_t c1, double* gram,
                                                  double* rhs) {
  accumulate_rows_body(x, n, dims, w, t, c0, c1, gram, rhs);
}

void accumulate_rows_baseline(const double* x, std::size_t n, std::size_t dims, const double* w, const double* t,
                              std::size_t c0, std::size_t c1, double* gram, double* rhs) {
  accumulate_rows_body(x, n, dims, w, t, c0, c1, gram, rhs);
}

void accumulate_rows(const double* x, std::size_t n, std::size_t dims, const double* w, const double* t,
                     std::size_t c0, std::size_t c1, double* gram, double* rhs) {
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) {
    accumulate_rows_avx2(x, n, dims, w, t, c0, c1, gram, rhs);
  } else {
    accumulate_rows_baseline(x, n, dims, w, t, c0, c1, gram, rhs);
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
  // Threads are started per call: below ~10 ms of work their start (and, on a busy machine,
  // their wait for a core) costs more than they save. The result is the same either way.
  const double updates = static_cast<double>(n) * static_cast<double>(total);
  const int use_threads = updates < 2e7 ? 1 : threads;
  parallel_for(
      bounds.size() - 1,
      [&](std::size_t b, std::size_t e) {
        // One pass over the spikes for all rows of this range (x is read once per thread).
        if (b < e) accumulate_rows(x, n, dims, w, t, bounds[b], bounds[e], gram, rhs);
      },
      use_threads);
  for (std::size_t c = 0; c < dims; ++c) {
    for (std::size_t d = c + 1; d < dims; ++d) gram[d * dims + c] = gram[c * dims + d];
  }
}

}  // namespace spikeshard

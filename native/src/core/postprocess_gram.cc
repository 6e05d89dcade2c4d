// SPDX-License-Identifier: GPL-3.0-or-later
#include <algorithm>
#include <immintrin.h>
#include <cmath>
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

// Spikes per pass of the tiled kernel: their rows of x (and of x · w) stay in the first caches
// while every tile of the thread's rows runs over them.
constexpr std::size_t kTileSpikes = 32;

// One tile of R rows × 4V columns: its running sums stay in registers over the m spikes of a pass,
// each still summed one spike after the other (a product is rounded, then added: no FMA).
// q: the rows' factors (x[i][c] · w[i]) of the first spike, qs apart; xd: x[i][d…] of the first
// spike, xs apart; g: the tile's first value in the Gram matrix, gs apart.
template <int R, int V>
[[gnu::target("avx2"), gnu::always_inline]] inline void gram_tile(const double* q, std::size_t qs, const double* xd,
                                                                 std::size_t xs, std::size_t m, double* g,
                                                                 std::size_t gs) {
  __m256d acc[R][V];
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) acc[r][v] = _mm256_loadu_pd(g + r * gs + 4 * v);
  }
  for (std::size_t i = 0; i < m; ++i) {
    const double* qi = q + i * qs;
    const double* xi = xd + i * xs;
    __m256d xv[V];
    for (int v = 0; v < V; ++v) xv[v] = _mm256_loadu_pd(xi + 4 * v);
    for (int r = 0; r < R; ++r) {
      const __m256d b = _mm256_broadcast_sd(qi + r);
      for (int v = 0; v < V; ++v) acc[r][v] = _mm256_add_pd(acc[r][v], _mm256_mul_pd(b, xv[v]));
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) _mm256_storeu_pd(g + r * gs + 4 * v, acc[r][v]);
  }
}

// Rows c … c + R − 1 from column c on, over m spikes: tiles of 12 columns, then of 4, then single
// columns. Values left of a row's diagonal are summed too (they are overwritten by the mirror).
template <int R>
[[gnu::target("avx2"), gnu::always_inline]] inline void gram_row_block(const double* q, std::size_t qs,
                                                                      const double* x, std::size_t dims, std::size_t m,
                                                                      std::size_t c, double* gram) {
  std::size_t d = c;
  for (; d + 12 <= dims; d += 12) gram_tile<R, 3>(q, qs, x + d, dims, m, gram + c * dims + d, dims);
  for (; d + 4 <= dims; d += 4) gram_tile<R, 1>(q, qs, x + d, dims, m, gram + c * dims + d, dims);
  for (; d < dims; ++d) {
    for (int r = 0; r < R; ++r) {
      double s = gram[(c + r) * dims + d];
      for (std::size_t i = 0; i < m; ++i) s += q[i * qs + r] * x[i * dims + d];
      gram[(c + r) * dims + d] = s;
    }
  }
}

// Rows [c0, c1) of the Gram matrix (and of rhs) over every spike, in passes of kTileSpikes spikes;
// every value is the sum of its terms in ascending spike order, the zero terms included.
[[gnu::target("avx2")]] void accumulate_tiles_avx2(const double* x, std::size_t n, std::size_t dims, const double* w,
                                                   const double* t, std::size_t c0, std::size_t c1, double* gram,
                                                   double* rhs) {
  const std::size_t width = c1 - c0;
  std::vector<double> qbuf(w != nullptr ? kTileSpikes * width : 0);
  for (std::size_t i0 = 0; i0 < n; i0 += kTileSpikes) {
    const std::size_t m = std::min(kTileSpikes, n - i0);
    const double* xs = x + i0 * dims;
    // q[i][c] = x[i][c] · w[i], rounded before it multiplies x[i][d] (as in the loop above).
    const double* q = xs + c0;
    std::size_t qs = dims;
    if (w != nullptr) {
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t c = 0; c < width; ++c) qbuf[i * width + c] = xs[i * dims + c0 + c] * w[i0 + i];
      }
      q = qbuf.data();
      qs = width;
    }
    for (std::size_t c = c0; c < c1; c += 4) {
      const double* qc = q + (c - c0);
      switch (std::min<std::size_t>(4, c1 - c)) {
        case 4:
          gram_row_block<4>(qc, qs, xs, dims, m, c, gram);
          break;
        case 3:
          gram_row_block<3>(qc, qs, xs, dims, m, c, gram);
          break;
        case 2:
          gram_row_block<2>(qc, qs, xs, dims, m, c, gram);
          break;
        default:
          gram_row_block<1>(qc, qs, xs, dims, m, c, gram);
          break;
      }
    }
    if (rhs != nullptr) {
      for (std::size_t i = 0; i < m; ++i) {
        const double ti = t[i0 + i];
        const double* xi = xs + i * dims;
        for (std::size_t c = c0; c < c1; ++c) rhs[c] += xi[c] * ti;
      }
    }
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
  // Row c holds dims − c values: cut the rows into chunks of about equal work, at multiples of 4
  // (the tiled kernel's blocks of rows). Every row is summed by one thread, so the cut only
  // decides who does the work, never the result.
  constexpr std::size_t kChunks = 16;
  const std::size_t total = dims * (dims + 1) / 2;
  std::vector<std::size_t> bounds{0};
  std::size_t acc = 0;
  for (std::size_t c = 0; c < dims; ++c) {
    acc += dims - c;
    if (acc * kChunks >= total * bounds.size() && (c + 1) % 4 == 0 && c + 1 < dims) bounds.push_back(c + 1);
  }
  bounds.push_back(dims);
  // Threads are started per call: below ~10 ms of work their start (and, on a busy machine,
  // their wait for a core) costs more than they save. The result is the same either way.
  const double updates = static_cast<double>(n) * static_cast<double>(total);
  const int use_threads = updates < 2e7 ? 1 : threads;
  const auto run = [&](bool tiled) {
    parallel_for(
        bounds.size() - 1,
        [&](std::size_t b, std::size_t e) {
          // One pass over the spikes for all rows of this range (x is read once per thread).
          if (b >= e) return;
          if (tiled) {
            accumulate_tiles_avx2(x, n, dims, w, t, bounds[b], bounds[e], gram, rhs);
          } else {
            accumulate_rows(x, n, dims, w, t, bounds[b], bounds[e], gram, rhs);
          }
        },
        use_threads);
  };
  // The tiled kernel adds the terms that the row loop skips (x[i][c] == 0). While every input is
  // finite, such a term is ±0 and leaves the running sum's bits as they were: a sum that starts at
  // +0 never becomes −0 (x + y rounds to −0 only when both are −0, and an exact cancellation gives
  // +0), so v + (±0) = v. A non-finite input shows in the result: x[i][c] or w[i] makes the term
  // (x[i][c] · w[i]) · x[i][c] of gram[c][c] an infinity or a NaN (0 · ∞ included), t[i] does the
  // same to rhs[c], and an infinity or a NaN stays in a sum. So a finite diagonal and rhs prove
  // the tiled result equal to the row loop's; otherwise (or an overflow) the row loop runs again.
  static const bool avx2 = __builtin_cpu_supports("avx2");
  bool done = false;
  if (avx2) {
    run(true);
    done = true;
    for (std::size_t c = 0; c < dims; ++c) done = done && std::isfinite(gram[c * dims + c]);
    for (std::size_t c = 0; rhs != nullptr && c < dims; ++c) done = done && std::isfinite(rhs[c]);
    if (!done) {
      std::fill(gram, gram + dims * dims, 0.0);
      if (rhs != nullptr) std::fill(rhs, rhs + dims, 0.0);
    }
  }
  if (!done) run(false);
  for (std::size_t c = 0; c < dims; ++c) {
    for (std::size_t d = c + 1; d < dims; ++d) gram[d * dims + c] = gram[c * dims + d];
  }
}

}  // namespace spikeshard

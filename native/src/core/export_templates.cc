// SPDX-License-Identifier: GPL-3.0-or-later
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "spikeshard/export.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

// Row groups [g0, g1) of four rows each. Four rows share one pass over b's row k, so b is read
// once per four output rows. A template lives on the ~32 channels around its peak: the k whose
// four a values are all 0 are skipped (their terms, ±0, could not change a sum that starts at
// +0 when b is finite; the rule is kept as it is for any b).
[[gnu::always_inline]] inline void multiply_groups_body(const float* a, const double* b, std::size_t n,
                                                         std::size_t g0, std::size_t g1, double* out) {
  for (std::size_t g = g0; g < g1; ++g) {
    const float* a0 = a + 4 * g * n;
    double* __restrict o0 = out + 4 * g * n;
    double* __restrict o1 = o0 + n;
    double* __restrict o2 = o1 + n;
    double* __restrict o3 = o2 + n;
    for (std::size_t k = 0; k < n; ++k) {
      const double x0 = a0[k];
      const double x1 = a0[n + k];
      const double x2 = a0[2 * n + k];
      const double x3 = a0[3 * n + k];
      if (x0 == 0 && x1 == 0 && x2 == 0 && x3 == 0) continue;
      const double* __restrict bk = b + k * n;
      for (std::size_t c = 0; c < n; ++c) {
        const double w = bk[c];
        o0[c] += x0 * w;
        o1[c] += x1 * w;
        o2[c] += x2 * w;
        o3[c] += x3 * w;
      }
    }
  }
}

// The same loop compiled for AVX2 where the CPU has it: only the vector width changes (no FMA
// is enabled, so every product is rounded before its sum).
[[gnu::target("avx2")]] void multiply_groups_avx2(const float* a, const double* b, std::size_t n, std::size_t g0,
                                                  std::size_t g1, double* out) {
  multiply_groups_body(a, b, n, g0, g1, out);
}

void multiply_groups_baseline(const float* a, const double* b, std::size_t n, std::size_t g0, std::size_t g1,
                              double* out) {
  multiply_groups_body(a, b, n, g0, g1, out);
}

// JavaScript's Math.max: NaN if either is NaN, +0 over −0.
inline double js_max(double x, double y) {
  if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
  if (x == y) return std::signbit(x) ? y : x;
  return x > y ? x : y;
}

}  // namespace

void multiply_rows(const float* a, const double* b, std::size_t rows, std::size_t n, double* out, int threads) {
  if (rows > 0 && n > 0 && (a == nullptr || b == nullptr || out == nullptr)) {
    throw std::invalid_argument("multiply_rows: a, b or out is missing");
  }
  std::fill(out, out + rows * n, 0.0);
  static const bool avx2 = __builtin_cpu_supports("avx2");
  const std::size_t groups = rows / 4;
  parallel_for(
      groups,
      [&](std::size_t g0, std::size_t g1) {
        if (avx2) {
          multiply_groups_avx2(a, b, n, g0, g1, out);
        } else {
          multiply_groups_baseline(a, b, n, g0, g1, out);
        }
      },
      threads);
  for (std::size_t r = 4 * groups; r < rows; ++r) {
    double* o = out + r * n;
    for (std::size_t k = 0; k < n; ++k) {
      const double x = a[r * n + k];
      if (x == 0) continue;
      const double* bk = b + k * n;
      for (std::size_t c = 0; c < n; ++c) o[c] += x * bk[c];
    }
  }
}

void template_peak_to_peak(const float* whitened, const double* unwhitened, const double* uv_per_count,
                           std::size_t templates, std::size_t nt0, std::size_t channels, double* p2p_counts,
                           double* p2p_volts, std::int32_t* peak_channels, int threads) {
  if (channels > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    throw std::invalid_argument("template_peak_to_peak: too many channels for an int32 index");
  }
  constexpr double kInf = std::numeric_limits<double>::infinity();
  parallel_for(
      templates,
      [&](std::size_t t0, std::size_t t1) {
        // Running minima and maxima of every channel, samples in ascending order (the order
        // the comparisons see them in decides nothing but which of equal values is kept).
        std::vector<double> wlo(channels), whi(channels), ulo(channels), uhi(channels);
        for (std::size_t t = t0; t < t1; ++t) {
          std::fill(wlo.begin(), wlo.end(), kInf);
          std::fill(whi.begin(), whi.end(), -kInf);
          std::fill(ulo.begin(), ulo.end(), kInf);
          std::fill(uhi.begin(), uhi.end(), -kInf);
          for (std::size_t i = 0; i < nt0; ++i) {
            const float* w = whitened + (t * nt0 + i) * channels;
            const double* u = unwhitened + (t * nt0 + i) * channels;
            for (std::size_t c = 0; c < channels; ++c) {
              const double wv = w[c];
              if (wv < wlo[c]) wlo[c] = wv;
              if (wv > whi[c]) whi[c] = wv;
              const double uv = u[c];
              if (uv < ulo[c]) ulo[c] = uv;
              if (uv > uhi[c]) uhi[c] = uv;
            }
          }
          double best = -1;
          std::int32_t peak = 0;
          double counts_max = 0;
          double volts_max = 0;
          for (std::size_t c = 0; c < channels; ++c) {
            const double p2p_whitened = whi[c] - wlo[c];
            if (p2p_whitened > best) {
              best = p2p_whitened;
              peak = static_cast<std::int32_t>(c);
            }
            const double counts = uhi[c] - ulo[c];
            counts_max = js_max(counts_max, counts);
            volts_max = js_max(volts_max, counts * uv_per_count[c] * 1e-6);
          }
          p2p_counts[t] = counts_max;
          p2p_volts[t] = volts_max;
          peak_channels[t] = peak;
        }
      },
      threads);
}

}  // namespace spikeshard

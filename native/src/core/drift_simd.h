// SPDX-License-Identifier: GPL-3.0-or-later
// Vector kernels of the drift area (the two heavy loops: prototype filtering in the detector and
// the kriging product). They are written once with GCC/Clang vector extensions, templated on the
// vector width, and instantiated twice on x86-64: the baseline (SSE2, 4 floats) and AVX2
// (8 floats), chosen at run time. Each output element is computed by the same sequence of IEEE
// single-precision operations in both (separate multiply and add, summation order fixed by the
// loop), so results are bitwise identical whichever instance runs, and independent of threads.
// (No FMA: the target attributes do not enable it and -std=c++20 keeps -ffp-contract=off.)
#ifndef SPIKESHARD_CORE_DRIFT_SIMD_H_
#define SPIKESHARD_CORE_DRIFT_SIMD_H_

#include <cstddef>
#include <cstring>

namespace spikeshard::drift_simd {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SPIKESHARD_DRIFT_AVX2 1
#define SPIKESHARD_DRIFT_INLINE __attribute__((always_inline)) inline
#else
#define SPIKESHARD_DRIFT_INLINE inline
#endif

template <int W>
struct Vec {
  typedef float type __attribute__((vector_size(4 * W)));
};

// Columns of the kriging micro-kernel: kKrigeVectors vectors of the widest instance. Matrices
// passed to krige_rows are padded to a multiple of kKrigeColumns.
constexpr int kKrigeRows = 4;
constexpr int kKrigeVectors = 3;
constexpr std::size_t kKrigeColumns = 8 * kKrigeVectors;

// out[r * np + i] = Σ_j x[r * n + j] · mt[j * np + i] for r < rows, i < np (np a multiple of
// kKrigeColumns), summed in ascending j. rows ≤ kKrigeRows (missing rows repeat the last one).
template <int W>
SPIKESHARD_DRIFT_INLINE void krige_rows_impl(const float* x, std::size_t rows, std::size_t n, const float* mt,
                                             std::size_t np, float* out) {
  using V = typename Vec<W>::type;
  constexpr int R = kKrigeRows, C = kKrigeVectors;
  const float* xr[R];
  for (int r = 0; r < R; ++r) xr[r] = x + (static_cast<std::size_t>(r) < rows ? r : rows - 1) * n;
  for (std::size_t i0 = 0; i0 < np; i0 += static_cast<std::size_t>(W * C)) {
    V acc[R][C] = {};
    for (std::size_t j = 0; j < n; ++j) {
      const float* col = mt + j * np + i0;
      V c[C];
#pragma GCC unroll 8
      for (int q = 0; q < C; ++q) std::memcpy(&c[q], col + W * q, sizeof(V));
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const float xv = xr[r][j];
#pragma GCC unroll 8
        for (int q = 0; q < C; ++q) acc[r][q] += c[q] * xv;
      }
    }
    for (std::size_t r = 0; r < rows; ++r) std::memcpy(out + r * np + i0, acc[r], sizeof acc[r]);
  }
}

// Correlation of one channel with one prototype: out[u] = Σ_τ w[τ] · x[u + τ] for u < len,
// summed in ascending τ. x must be readable up to index len + nt0 - 1 + kFilterLanes.
constexpr std::size_t kFilterVectors = 4;
constexpr std::size_t kFilterLanes = 8 * kFilterVectors;  // over-read bound of the widest instance

template <int W>
SPIKESHARD_DRIFT_INLINE void filter_impl(const float* x, std::size_t len, const float* w, std::size_t nt0,
                                         float* out) {
  using V = typename Vec<W>::type;
  constexpr int C = static_cast<int>(kFilterVectors);
  for (std::size_t u0 = 0; u0 < len; u0 += static_cast<std::size_t>(W * C)) {
    V acc[C] = {};
    for (std::size_t t = 0; t < nt0; ++t) {
      const float wv = w[t];
      const float* src = x + u0 + t;
#pragma GCC unroll 8
      for (int q = 0; q < C; ++q) {
        V v;
        std::memcpy(&v, src + W * q, sizeof v);
        acc[q] += v * wv;
      }
    }
    float tmp[W * C];
    std::memcpy(tmp, acc, sizeof tmp);
    const std::size_t m = len - u0 < static_cast<std::size_t>(W * C) ? len - u0 : static_cast<std::size_t>(W * C);
    std::memcpy(out + u0, tmp, m * sizeof(float));
  }
}

// Run-time dispatch (defined in drift_simd.cc).
void krige_rows(const float* x, std::size_t rows, std::size_t n, const float* mt, std::size_t np, float* out);
void filter(const float* x, std::size_t len, const float* w, std::size_t nt0, float* out);

// Test hook: false makes the dispatch use the baseline instance even where AVX2 exists, so tests
// can check that both instances give the same bits. Returns whether the wide instance exists.
bool set_wide_enabled(bool enabled);

}  // namespace spikeshard::drift_simd

#endif  // SPIKESHARD_CORE_DRIFT_SIMD_H_

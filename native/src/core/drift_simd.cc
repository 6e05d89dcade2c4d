// SPDX-License-Identifier: GPL-3.0-or-later
#include "drift_simd.h"

#include <atomic>

namespace spikeshard::drift_simd {

namespace {

#ifdef SPIKESHARD_DRIFT_AVX2
__attribute__((target("avx2"))) void krige_rows_avx2(const float* x, std::size_t rows, std::size_t n, const float* mt,
                                                     std::size_t np, float* out) {
  krige_rows_impl<8>(x, rows, n, mt, np, out);
}
__attribute__((target("avx2"))) void filter_avx2(const float* x, std::size_t len, const float* w, std::size_t nt0,
                                                 float* out) {
  filter_impl<8>(x, len, w, nt0, out);
}
const bool kHaveAvx2 = __builtin_cpu_supports("avx2");
#endif
std::atomic<bool> g_wide_enabled{true};

}  // namespace

void krige_rows(const float* x, std::size_t rows, std::size_t n, const float* mt, std::size_t np, float* out) {
#ifdef SPIKESHARD_DRIFT_AVX2
  if (kHaveAvx2 && g_wide_enabled.load(std::memory_order_relaxed)) return krige_rows_avx2(x, rows, n, mt, np, out);
#endif
  krige_rows_impl<4>(x, rows, n, mt, np, out);
}

void filter(const float* x, std::size_t len, const float* w, std::size_t nt0, float* out) {
#ifdef SPIKESHARD_DRIFT_AVX2
  if (kHaveAvx2 && g_wide_enabled.load(std::memory_order_relaxed)) return filter_avx2(x, len, w, nt0, out);
#endif
  filter_impl<4>(x, len, w, nt0, out);
}

bool set_wide_enabled(bool enabled) {
  g_wide_enabled.store(enabled);
#ifdef SPIKESHARD_DRIFT_AVX2
  return kHaveAvx2;
#else
  return false;
#endif
}

}  // namespace spikeshard::drift_simd

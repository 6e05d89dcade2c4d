// SPDX-License-Identifier: GPL-3.0-or-later
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "check.h"
#include "spikeshard/export.h"

using spikeshard::multiply_rows;
using spikeshard::template_peak_to_peak;

namespace {

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

TEST(multiply_rows_small_exact_case) {
  // 5 rows (one group of four and a lone row) × 2: a · [[1, 2], [3, 4]].
  const std::vector<float> a{1, 0, 0, 1, 2, 1, 0, 0, -1, 3};
  const std::vector<double> b{1, 2, 3, 4};
  std::vector<double> out(10, 99.0);
  multiply_rows(a.data(), b.data(), 5, 2, out.data(), 1);
  const std::vector<double> want{1, 2, 3, 4, 5, 8, 0, 0, 8, 10};
  CHECK(out == want);
  // Row 3 is all zero: its values are +0, not −0, and untouched by the skip.
  CHECK(!std::signbit(out[6]) && !std::signbit(out[7]));
}

TEST(multiply_rows_equals_the_plain_loop_for_any_thread_count) {
  // Sparse rows (a template on a few channels), a zero group and a tail; b finite with −0s.
  const std::size_t rows = 4 * 9 + 3, n = 13;
  std::mt19937 rng(3);
  std::normal_distribution<double> g;
  std::vector<float> a(rows * n, 0.0f);
  for (std::size_t r = 0; r < rows; ++r) {
    if (r / 4 == 2) continue;
    for (std::size_t k = 0; k < n; ++k)
      if ((k + r / 5) % 4 == 0 || r % 7 == 0) a[r * n + k] = static_cast<float>(g(rng));
  }
  a[5 * n + 1] = -0.0f;
  std::vector<double> b(n * n);
  for (auto& x : b) x = g(rng);
  b[7] = -0.0;
  // Each value a sum over every k in order, from +0, zero terms included.
  std::vector<double> want(rows * n);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < n; ++c) {
      double s = 0;
      for (std::size_t k = 0; k < n; ++k) s += static_cast<double>(a[r * n + k]) * b[k * n + c];
      want[r * n + c] = s;
    }
  }
  for (const int threads : {1, 2, 5}) {
    std::vector<double> out(rows * n);
    multiply_rows(a.data(), b.data(), rows, n, out.data(), threads);
    CHECK(same_bits(out, want));
  }
}

TEST(template_peak_to_peak_small_exact_case) {
  // 2 templates × 3 samples × 2 channels.
  const std::vector<float> w{
      0, 1,  1, -1,  2, 0,   // t0: p2p (2, 2) → channel 0 (the first of equal ones)
      0, 0,  0, 5,   0, -5,  // t1: p2p (0, 10) → channel 1
  };
  const std::vector<double> u{
      1, 0,  -1, 4,  0, 0,   // t0: p2p (2, 4)
      0, 0,  0, 0,   0, 0,   // t1: all zero
  };
  const std::vector<double> uv{2, 0.5};
  std::vector<double> counts(2), volts(2);
  std::vector<std::int32_t> peak(2, -7);
  template_peak_to_peak(w.data(), u.data(), uv.data(), 2, 3, 2, counts.data(), volts.data(), peak.data(), 1);
  CHECK(peak[0] == 0 && peak[1] == 1);
  CHECK(counts[0] == 4 && counts[1] == 0);
  // max(2 · 2 · 1e-6, 4 · 0.5 · 1e-6)
  CHECK(volts[0] == 2 * 2 * 1e-6);
  CHECK(volts[1] == 0 && !std::signbit(volts[1]));
}

TEST(template_peak_to_peak_nan_and_threads) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  // Channel 0 all NaN (p2p −∞, never the peak); channel 1 with one NaN sample (ignored).
  const std::vector<float> w{NAN, 1, NAN, NAN, NAN, 3};
  const std::vector<double> u{kNaN, 1, kNaN, kNaN, kNaN, 3};
  const std::vector<double> uv{1, 1};
  std::vector<double> counts(1), volts(1);
  std::vector<std::int32_t> peak(1);
  template_peak_to_peak(w.data(), u.data(), uv.data(), 1, 3, 2, counts.data(), volts.data(), peak.data(), 1);
  CHECK(peak[0] == 1);
  CHECK(counts[0] == 2);
  // A NaN volt factor makes the maximum NaN, as Math.max does.
  const std::vector<double> uv_nan{1, kNaN};
  template_peak_to_peak(w.data(), u.data(), uv_nan.data(), 1, 3, 2, counts.data(), volts.data(), peak.data(), 1);
  CHECK(std::isnan(volts[0]));

  const std::size_t T = 11, nt0 = 7, C = 5;
  std::mt19937 rng(9);
  std::normal_distribution<double> g;
  std::vector<float> wf(T * nt0 * C);
  std::vector<double> un(T * nt0 * C), uvc(C, 2.5);
  for (auto& x : wf) x = static_cast<float>(g(rng));
  for (auto& x : un) x = g(rng);
  std::vector<double> c1(T), v1(T), c4(T), v4(T);
  std::vector<std::int32_t> p1(T), p4(T);
  template_peak_to_peak(wf.data(), un.data(), uvc.data(), T, nt0, C, c1.data(), v1.data(), p1.data(), 1);
  template_peak_to_peak(wf.data(), un.data(), uvc.data(), T, nt0, C, c4.data(), v4.data(), p4.data(), 4);
  CHECK(same_bits(c1, c4) && same_bits(v1, v4) && p1 == p4);
}

// SPDX-License-Identifier: GPL-3.0-or-later
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "spikeshard/postprocess.h"

using spikeshard::weighted_gram;

namespace {

// The plain sequential loop weighted_gram promises to reproduce bit for bit.
void reference_gram(const std::vector<double>& x, std::size_t n, std::size_t dims, const double* w, const double* t,
                    std::vector<double>& gram, std::vector<double>& rhs) {
  gram.assign(dims * dims, 0.0);
  rhs.assign(dims, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t c = 0; c < dims; ++c) {
      const double xc = x[i * dims + c];
      if (xc == 0) continue;
      const double q = w != nullptr ? xc * w[i] : xc;
      for (std::size_t d = c; d < dims; ++d) gram[c * dims + d] += q * x[i * dims + d];
      if (t != nullptr) rhs[c] += xc * t[i];
    }
  }
  for (std::size_t c = 0; c < dims; ++c)
    for (std::size_t d = c + 1; d < dims; ++d) gram[d * dims + c] = gram[c * dims + d];
}

// The same bits, or NaN on both sides (a NaN's payload may come from either operand).
bool same_values(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    if (std::memcmp(&a[i], &b[i], sizeof(double)) != 0) return false;
  }
  return true;
}

}  // namespace

TEST(weighted_gram_small_exact_case) {
  // x = [[1, 2], [3, 0], [0, -1]], w = [1, 2, 3], t = [1, 1, 2]
  const std::vector<double> x{1, 2, 3, 0, 0, -1};
  const double w[] = {1, 2, 3};
  const double t[] = {1, 1, 2};
  std::vector<double> gram(4), rhs(2);
  weighted_gram(x.data(), 3, 2, w, t, gram.data(), rhs.data(), 1);
  // [0][0] = 1·1·1 + 3·2·3 = 19; [0][1] = 1·1·2 = 2; [1][1] = 2·1·2 + (−1)·3·(−1) = 7
  CHECK(gram[0] == 19);
  CHECK(gram[1] == 2);
  CHECK(gram[2] == 2);
  CHECK(gram[3] == 7);
  // rhs = [1·1 + 3·1, 2·1 + (−1)·2] = [4, 0]
  CHECK(rhs[0] == 4);
  CHECK(rhs[1] == 0);
  // Unweighted: the plain Gram matrix.
  weighted_gram(x.data(), 3, 2, nullptr, nullptr, gram.data(), nullptr, 1);
  CHECK(gram[0] == 10);
  CHECK(gram[1] == 2);
  CHECK(gram[3] == 5);
}

TEST(weighted_gram_matches_the_sequential_loop_bitwise_for_any_thread_count) {
  const std::size_t n = 1003;
  const std::size_t dims = 37;
  std::vector<double> x(n * dims), w(n), t(n);
  unsigned state = 12345;
  const auto next = [&]() {
    state = state * 1664525u + 1013904223u;
    return static_cast<double>(state >> 8) / 16777216.0 - 0.5;
  };
  for (auto& v : x) v = next() * 1e3;
  for (std::size_t i = 0; i < n; i += 7) x[i * dims + (i % dims)] = 0;  // zeros take the one-spike path
  for (auto& v : w) v = next() + 1;
  for (auto& v : t) v = next();
  std::vector<double> want, want_rhs;
  reference_gram(x, n, dims, w.data(), t.data(), want, want_rhs);
  for (int threads : {1, 2, 3, 8}) {
    std::vector<double> gram(dims * dims, 7.0), rhs(dims, 7.0);
    weighted_gram(x.data(), n, dims, w.data(), t.data(), gram.data(), rhs.data(), threads);
    CHECK(std::memcmp(gram.data(), want.data(), gram.size() * sizeof(double)) == 0);
    CHECK(std::memcmp(rhs.data(), want_rhs.data(), rhs.size() * sizeof(double)) == 0);
  }
  reference_gram(x, n, dims, nullptr, nullptr, want, want_rhs);
  std::vector<double> gram(dims * dims);
  weighted_gram(x.data(), n, dims, nullptr, nullptr, gram.data(), nullptr, 2);
  CHECK(std::memcmp(gram.data(), want.data(), gram.size() * sizeof(double)) == 0);
}

TEST(weighted_gram_skips_zero_terms_next_to_a_non_finite_value) {
  // Row 1 has x[1][0] == 0 and x[1][2] == +inf: the sequential loop skips the term 0 · inf (NaN),
  // so gram[0][2] stays finite; a NaN weight (or an infinite t) of a spike whose x[i][0] is 0 is
  // skipped in row 0 (and rhs[0]) too.
  const double inf = std::numeric_limits<double>::infinity();
  const std::size_t n = 45;
  const std::size_t dims = 6;
  std::vector<double> x(n * dims), w(n, 1.5), t(n, 0.25);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<double>(i % 7) - 2.5;
  x[1 * dims + 0] = 0;
  x[1 * dims + 2] = inf;
  x[9 * dims + 0] = 0;
  std::vector<double> want, want_rhs;
  for (const int variant : {0, 1, 2}) {
    if (variant == 1) {
      x[1 * dims + 2] = 1;
      w[9] = std::numeric_limits<double>::quiet_NaN();
    } else if (variant == 2) {
      w[9] = 1;
      t[9] = -inf;
    }
    reference_gram(x, n, dims, w.data(), t.data(), want, want_rhs);
    for (int threads : {1, 2}) {
      std::vector<double> gram(dims * dims), rhs(dims);
      weighted_gram(x.data(), n, dims, w.data(), t.data(), gram.data(), rhs.data(), threads);
      CHECK(same_values(gram, want));
      CHECK(same_values(rhs, want_rhs));
    }
    CHECK(std::isfinite(want[0 * dims + 1]));
    CHECK(std::isfinite(want_rhs[0]));
  }
}

TEST(weighted_gram_rejects_bad_arguments) {
  std::vector<double> x(4), gram(4), rhs(2);
  const double t[] = {1, 1};
  bool threw = false;
  try {
    weighted_gram(x.data(), 2, 0, nullptr, nullptr, gram.data(), nullptr, 1);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
  threw = false;
  try {
    weighted_gram(x.data(), 2, 2, nullptr, t, gram.data(), nullptr, 1);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}

TEST(running_mean_small_exact_case) {
  // One column [0, 3, 6, 9], half = 1: each pass sums rows i−1 … i+1; the window weights
  // after three passes are [10, 16, 16, 10] and the sums [42, 93, 141, 108]... checked against
  // the direct computation below instead of by hand for every pass.
  const std::vector<double> x{0, 3, 6, 9};
  std::vector<double> out(4);
  spikeshard::running_mean(x.data(), 4, 1, 1, out.data(), 1);
  // Direct: three box passes of [1, 1, 1] with zero padding.
  auto box = [](const std::vector<double>& v) {
    std::vector<double> r(v.size());
    for (std::size_t i = 0; i < v.size(); ++i)
      r[i] = (i > 0 ? v[i - 1] : 0) + v[i] + (i + 1 < v.size() ? v[i + 1] : 0);
    return r;
  };
  const auto num = box(box(box(x)));
  const auto den = box(box(box(std::vector<double>(4, 1.0))));
  for (std::size_t i = 0; i < 4; ++i) CHECK_NEAR(out[i], num[i] / den[i], 1e-12);
  // A constant stays constant, edges included.
  const std::vector<double> c(50, 2.5);
  std::vector<double> cm(50);
  spikeshard::running_mean(c.data(), 50, 1, 7, cm.data(), 1);
  for (double v : cm) CHECK_NEAR(v, 2.5, 1e-12);
}

TEST(running_mean_and_project_do_not_depend_on_the_thread_count) {
  const std::size_t n = 517;
  const std::size_t dims = 21;
  std::vector<double> x(n * dims), w(dims);
  unsigned state = 99;
  for (auto& v : x) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<double>(state >> 8) / 16777216.0 - 0.5;
  }
  for (std::size_t d = 0; d < dims; ++d) w[d] = 1.0 / static_cast<double>(d + 1);
  std::vector<double> one(n * dims), many(n * dims), p1(n), p3(n);
  spikeshard::running_mean(x.data(), n, dims, 12, one.data(), 1);
  spikeshard::running_mean(x.data(), n, dims, 12, many.data(), 3);
  CHECK(std::memcmp(one.data(), many.data(), one.size() * sizeof(double)) == 0);
  spikeshard::project_rows(x.data(), n, dims, w.data(), p1.data(), 1);
  spikeshard::project_rows(x.data(), n, dims, w.data(), p3.data(), 3);
  CHECK(std::memcmp(p1.data(), p3.data(), p1.size() * sizeof(double)) == 0);
  double s = 0;
  for (std::size_t d = 0; d < dims; ++d) s += x[5 * dims + d] * w[d];
  CHECK(p1[5] == s);
}

TEST(solve_linear_small_exact_case) {
  // [[0, 2], [4, 1]] · x = [4, 9]: the first pivot needs a row swap; x = [7/4, 2].
  const double a[] = {0, 2, 4, 1};
  const double b[] = {4, 9};
  double x[2];
  spikeshard::solve_linear(a, b, 2, x);
  CHECK(x[0] == 1.75);
  CHECK(x[1] == 2);
  const double singular[] = {1, 2, 2, 4};
  bool threw = false;
  try {
    spikeshard::solve_linear(singular, b, 2, x);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}

TEST(bimodal_pursuit_two_points_exact_case) {
  // Three spikes at −1 and three at +1 on one axis: the direction is that axis, the first
  // Gaussian takes the spikes above the mean (0), both widths collapse to 1e-12, and every
  // responsibility is exactly 0 or 1 (exp of −4 / 2e-24 underflows), so both confidences are 1.
  const std::vector<double> x{-1, 1, -1, 1, 1, -1};
  std::vector<std::uint8_t> first(6, 7);
  const auto fit = spikeshard::bimodal_pursuit(x.data(), 6, 1, first.data(), 1);
  for (std::size_t i = 0; i < 6; ++i) CHECK(first[i] == (x[i] > 0 ? 1 : 0));
  CHECK(fit.confidence_first == 1);
  CHECK(fit.confidence_second == 1);
}

namespace {

// Two Gaussian blobs in `dims` dimensions, apart along the first axis; spike i is in the first
// blob when i % 3 == 0.
std::vector<double> two_blobs(std::size_t n, std::size_t dims, unsigned seed) {
  std::vector<double> x(n * dims);
  unsigned state = seed;
  const auto uniform = [&]() {
    state = state * 1664525u + 1013904223u;
    return (static_cast<double>(state >> 8) + 0.5) / 16777216.0;
  };
  const auto normal = [&]() { return std::sqrt(-2 * std::log(uniform())) * std::cos(6.283185307179586 * uniform()); };
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t d = 0; d < dims; ++d) x[i * dims + d] = normal();
    x[i * dims] += i % 3 == 0 ? 6 : -3;
  }
  return x;
}

}  // namespace

TEST(bimodal_pursuit_separates_two_blobs) {
  const std::size_t n = 600;
  const std::size_t dims = 5;
  const auto x = two_blobs(n, dims, 3);
  std::vector<std::uint8_t> first(n);
  const auto fit = spikeshard::bimodal_pursuit(x.data(), n, dims, first.data(), 1);
  const bool first_is_blob = first[0] == 1;
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < n; ++i) wrong += (first[i] == 1) != ((i % 3 == 0) == first_is_blob);
  CHECK(wrong == 0);
  CHECK(std::min(fit.confidence_first, fit.confidence_second) > 0.95);
  // One blob only: the two halves overlap, so the confidences stay well below the split threshold.
  std::vector<double> one(n * dims);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t d = 0; d < dims; ++d) one[i * dims + d] = x[i * dims + d] - (i % 3 == 0 ? 6 : -3) * (d == 0);
  const auto flat = spikeshard::bimodal_pursuit(one.data(), n, dims, first.data(), 1);
  CHECK(std::min(flat.confidence_first, flat.confidence_second) < 0.9);
}

TEST(bimodal_pursuit_does_not_depend_on_the_thread_count) {
  // Large enough for the Gram matrices to be summed on several threads.
  const std::size_t n = 70000;
  const std::size_t dims = 24;
  const auto x = two_blobs(n, dims, 11);
  std::vector<std::uint8_t> a(n), b(n);
  const auto fa = spikeshard::bimodal_pursuit(x.data(), n, dims, a.data(), 1);
  const auto fb = spikeshard::bimodal_pursuit(x.data(), n, dims, b.data(), 3);
  CHECK(a == b);
  CHECK(fa.confidence_first == fb.confidence_first);
  CHECK(fa.confidence_second == fb.confidence_second);
}

TEST(detrend_rows_removes_a_linear_trend_away_from_the_edges) {
  // A running mean of a straight line is the line itself where the window is whole.
  const std::size_t n = 200;
  std::vector<double> x(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    x[i * 2] = 0.5 * static_cast<double>(i);
    x[i * 2 + 1] = 3;
  }
  std::vector<double> out(n * 2);
  spikeshard::detrend_rows(x.data(), n, 2, 5, out.data(), 1);
  for (std::size_t i = 15; i + 15 < n; ++i) {
    CHECK_NEAR(out[i * 2], 0, 1e-9);
    CHECK_NEAR(out[i * 2 + 1], 0, 1e-12);
  }
  CHECK(out[0] < -1);  // at the first row the window holds only later ones
}

TEST(split_features_small_exact_case) {
  // Two PCs on two channels per template: template 0 on channels 3 and 5, template 1 on 5 and 7.
  // Rows are laid out pc-major (pc · K + channel slot).
  const std::vector<float> rows{1, 2, 3, 4, 10, 20, 30, 40};
  const std::uint32_t templates[] = {0, 1};
  const std::uint32_t ind[] = {3, 5, 5, 7};
  const std::int32_t members[] = {1, 0};
  std::vector<double> out(8, 99);
  spikeshard::split_features(rows.data(), 2, 2, 2, templates, members, 2, ind, 2, 0, out.data());
  // Spike 1 (template 1) on template 0's channels: channel 5 is slot 1 there, channel 7 is absent.
  const std::vector<double> want{0, 10, 0, 30, 1, 2, 3, 4};
  CHECK(out == want);
  bool threw = false;
  try {
    const std::int32_t bad[] = {2};
    spikeshard::split_features(rows.data(), 2, 2, 2, templates, bad, 1, ind, 2, 0, out.data());
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw);
}

TEST(half_means_small_exact_case) {
  const std::vector<double> x{1, 2, 3, 4, 5, 6};
  const std::uint8_t first[] = {1, 0, 0};
  double m1[2];
  double m2[2];
  spikeshard::half_means(x.data(), 3, 2, first, m1, m2);
  CHECK(m1[0] == 1 && m1[1] == 2);
  CHECK(m2[0] == 4 && m2[1] == 5);
  // An empty half has a zero mean (divided by max(1, 0)).
  const std::uint8_t none[] = {0, 0, 0};
  spikeshard::half_means(x.data(), 3, 2, none, m1, m2);
  CHECK(m1[0] == 0 && m1[1] == 0);
  CHECK(m2[0] == 3 && m2[1] == 4);
}

// SPDX-License-Identifier: GPL-3.0-or-later
// The bimodal pursuit of the cluster splits (ks25-algorithm.md §5.3 step 4), in one call: the
// same steps, in the same order, as the TypeScript loop it replaces (coordinator/postprocess/
// splits.ts before 2026-11-25). Its bits may differ from that loop's in the last place: std::exp
// and std::log are glibc's, not V8's (each may round the other way), and vector norms are plain
// square roots of sums of squares where Math.hypot scales and compensates. Split decisions only
// change where a value sits on a threshold to the last bit.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "spikeshard/postprocess.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

double norm2(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// The leading eigenvector of the (uncentred) second-moment matrix, by 200 power iterations from
// the all-equal direction. next[a] = Σ_b cov[a][b] · w[b] in ascending b; cov is symmetric to the
// bit (weighted_gram mirrors it), so cov[b][a] stands for cov[a][b] and the sums of all a run side
// by side over the rows of cov (one vector of a's per b) instead of one a after the other.
std::vector<double> top_direction(const double* x, std::size_t n, std::size_t dims, int threads) {
  std::vector<double> cov(dims * dims);
  weighted_gram(x, n, dims, nullptr, nullptr, cov.data(), nullptr, threads);
  std::vector<double> w(dims, 1 / std::sqrt(static_cast<double>(dims)));
  std::vector<double> next(dims);
  for (int it = 0; it < 200; ++it) {
    std::fill(next.begin(), next.end(), 0.0);
    for (std::size_t b = 0; b < dims; ++b) {
      const double wb = w[b];
      const double* row = cov.data() + b * dims;
      for (std::size_t a = 0; a < dims; ++a) next[a] += row[a] * wb;
    }
    const double norm = norm2(next);
    if (norm == 0) break;
    for (std::size_t a = 0; a < dims; ++a) w[a] = next[a] / norm;
  }
  return w;
}

// Spikes below which the E-step runs on the calling thread (threads are started per call).
constexpr std::size_t kParallelEStep = 32768;

}  // namespace

BimodalFit bimodal_pursuit(const double* x, std::size_t n, std::size_t dims, std::uint8_t* in_first, int threads) {
  if (dims == 0) throw std::invalid_argument("bimodal_pursuit: dims must be at least 1");
  if (n == 0) return {0, 0};
  std::vector<double> w = top_direction(x, n, dims, threads);
  std::vector<double> proj(n);
  project_rows(x, n, dims, w.data(), proj.data(), threads);
  double mean = 0;
  for (double v : proj) mean += v;
  mean /= static_cast<double>(n);
  std::vector<double> r1(n);
  for (std::size_t i = 0; i < n; ++i) r1[i] = proj[i] > mean ? 1 : 0;
  const double total = static_cast<double>(n);
  std::vector<double> q;
  std::vector<double> t;
  std::vector<double> gram;
  std::vector<double> rhs;
  std::vector<double> next(dims);
  for (int iter = 0; iter < 50; ++iter) {
    // M-step
    double n1 = 0;
    double a1 = 0;
    double a2 = 0;
    for (std::size_t i = 0; i < n; ++i) {
      n1 += r1[i];
      a1 += r1[i] * proj[i];
      a2 += (1 - r1[i]) * proj[i];
    }
    const double n2 = total - n1;
    if (n1 < 1 || n2 < 1) break;
    const double mu1 = a1 / n1;
    const double mu2 = a2 / n2;
    double v1 = 0;
    double v2 = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double d1 = proj[i] - mu1;
      const double d2 = proj[i] - mu2;
      v1 += r1[i] * (d1 * d1);
      v2 += (1 - r1[i]) * (d2 * d2);
    }
    const double s1 = std::sqrt(v1 / n1) + 1e-12;
    const double s2 = std::sqrt(v2 / n2) + 1e-12;
    const double p1 = n1 / total;
    // E-step: the larger log-likelihood's term is exp(0) = 1 exactly whenever it is finite.
    const double base1 = std::log(p1) - std::log(s1);
    const double base2 = std::log(1 - p1) - std::log(s2);
    const double v1x2 = 2 * s1 * s1;
    const double v2x2 = 2 * s2 * s2;
    // Each spike's responsibility depends on its projection alone: any cut gives the same bits.
    parallel_for(
        n,
        [&](std::size_t begin, std::size_t end) {
          for (std::size_t i = begin; i < end; ++i) {
            const double d1 = proj[i] - mu1;
            const double d2 = proj[i] - mu2;
            const double l1 = base1 - (d1 * d1) / v1x2;
            const double l2 = base2 - (d2 * d2) / v2x2;
            // Math.max's NaN rule: a NaN on either side gives NaN.
            const double m =
                std::isnan(l1) || std::isnan(l2) ? std::numeric_limits<double>::quiet_NaN() : std::max(l1, l2);
            const bool finite = std::isfinite(m);
            const double e1 = finite && l1 == m ? 1 : std::exp(l1 - m);
            const double e2 = finite && l2 == m ? 1 : std::exp(l2 - m);
            r1[i] = e1 / (e1 + e2);
          }
        },
        n < kParallelEStep ? 1 : threads);
    // The direction is refitted on every fourth iteration from the tenth (Kilosort: every second).
    if (iter >= 10 && iter % 4 == 2) {
      q.resize(n);
      t.resize(n);
      gram.resize(dims * dims);
      rhs.resize(dims);
      for (std::size_t i = 0; i < n; ++i) {
        q[i] = r1[i] / (s1 * s1) + (1 - r1[i]) / (s2 * s2);
        t[i] = (r1[i] * mu1) / (s1 * s1) + ((1 - r1[i]) * mu2) / (s2 * s2);
      }
      weighted_gram(x, n, dims, q.data(), t.data(), gram.data(), rhs.data(), threads);
      for (std::size_t c = 0; c < dims; ++c) gram[c * dims + c] += 1e-9 * (gram[c * dims + c] + 1);
      solve_linear(gram.data(), rhs.data(), dims, next.data());
      const double norm = norm2(next);
      if (norm > 0) {
        for (std::size_t d = 0; d < dims; ++d) w[d] = next[d] / norm;
        project_rows(x, n, dims, w.data(), proj.data(), threads);
      }
    }
  }
  std::size_t c1 = 0;
  double sum1 = 0;
  double sum2 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (r1[i] > 0.5) {
      in_first[i] = 1;
      ++c1;
      sum1 += r1[i];
    } else {
      in_first[i] = 0;
      sum2 += 1 - r1[i];
    }
  }
  return {c1 > 0 ? sum1 / static_cast<double>(c1) : 0, n - c1 > 0 ? sum2 / static_cast<double>(n - c1) : 0};
}

void split_features(const float* rows, std::size_t n_rows, std::size_t n_pc, std::size_t k,
                    const std::uint32_t* templates, const std::int32_t* members, std::size_t m,
                    const std::uint32_t* pc_feature_ind, std::size_t n_templates, std::size_t reference, double* out) {
  if (n_pc == 0 || k == 0) throw std::invalid_argument("split_features: nPc and K must be at least 1");
  if (reference >= n_templates) {
    throw std::invalid_argument("split_features: reference template " + std::to_string(reference) + " of " +
                                std::to_string(n_templates));
  }
  const std::size_t dims = n_pc * k;
  std::uint32_t max_channel = 0;
  for (std::size_t i = 0; i < n_templates * k; ++i) max_channel = std::max(max_channel, pc_feature_ind[i]);
  // Feature slot of each channel in the reference's list (the last one when listed twice), −1 if absent.
  std::vector<std::int32_t> slot(static_cast<std::size_t>(max_channel) + 1, -1);
  for (std::size_t i = 0; i < k; ++i) slot[pc_feature_ind[reference * k + i]] = static_cast<std::int32_t>(i);
  std::fill(out, out + m * dims, 0.0);
  for (std::size_t row = 0; row < m; ++row) {
    const std::int32_t src = members[row];
    if (src < 0 || static_cast<std::size_t>(src) >= n_rows) {
      throw std::invalid_argument("split_features: member " + std::to_string(src) + " of " + std::to_string(n_rows) +
                                  " spikes");
    }
    const std::uint32_t t = templates[src];
    if (t >= n_templates) {
      throw std::invalid_argument("split_features: template " + std::to_string(t) + " of " +
                                  std::to_string(n_templates));
    }
    const float* from = rows + static_cast<std::size_t>(src) * dims;
    double* to = out + row * dims;
    for (std::size_t j = 0; j < k; ++j) {
      const std::int32_t target = slot[pc_feature_ind[t * k + j]];
      if (target < 0) continue;
      for (std::size_t p = 0; p < n_pc; ++p) to[p * k + static_cast<std::size_t>(target)] = from[p * k + j];
    }
  }
}

void half_means(const double* x, std::size_t n, std::size_t dims, const std::uint8_t* in_first, double* mean_first,
                double* mean_second) {
  std::fill(mean_first, mean_first + dims, 0.0);
  std::fill(mean_second, mean_second + dims, 0.0);
  std::size_t n1 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double* to = in_first[i] ? mean_first : mean_second;
    n1 += in_first[i] ? 1 : 0;
    for (std::size_t d = 0; d < dims; ++d) to[d] += x[i * dims + d];
  }
  const double c1 = static_cast<double>(std::max<std::size_t>(1, n1));
  const double c2 = static_cast<double>(std::max<std::size_t>(1, n - n1));
  for (std::size_t d = 0; d < dims; ++d) {
    mean_first[d] /= c1;
    mean_second[d] /= c2;
  }
}

void detrend_rows(const double* raw, std::size_t n, std::size_t dims, std::size_t half, double* out, int threads) {
  // The trend is written where the result goes, then subtracted: no third n × dims array.
  running_mean(raw, n, dims, half, out, threads);
  for (std::size_t i = 0; i < n * dims; ++i) out[i] = raw[i] - out[i];
}

}  // namespace spikeshard

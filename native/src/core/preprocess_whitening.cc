// SPDX-License-Identifier: GPL-3.0-or-later
// Channel covariance, its stabilisation and median over windows, local ZCA whitening
// (ks25-algorithm.md §2.4) and its application.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "matching_simd.h"
#include "preprocess_internal.h"
#include "spikeshard/linalg.h"
#include "spikeshard/preprocess.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

void check_labels(const char* what, const std::int32_t* labels, std::size_t n_channels) {
  if (labels == nullptr) throw std::invalid_argument(std::string(what) + ": labels pointer is null");
  for (std::size_t c = 0; c < n_channels; ++c) {
    if (labels[c] < 0 || labels[c] > 3) {
      throw std::invalid_argument(std::string(what) + ": label " + std::to_string(labels[c]) + " of channel " +
                                  std::to_string(c) + " is not in 0..3");
    }
  }
}

std::vector<std::size_t> good_channels(const char* what, const std::int32_t* labels, std::size_t n_channels) {
  std::vector<std::size_t> good;
  for (std::size_t c = 0; c < n_channels; ++c) {
    if (labels[c] == kChannelGood) good.push_back(c);
  }
  if (good.empty()) {
    throw std::invalid_argument(std::string(what) + ": no channel is labelled good (of " + std::to_string(n_channels) +
                                ")");
  }
  return good;
}

// Rows of one time chunk are converted to double once and reused by all the rows a thread owns.
constexpr std::size_t kCovarianceChunk = 64;
constexpr std::size_t kCovarianceStrip = 16;

// Adds the chunk's products x_i·x_j (tn rows of nc) to acc[j], j ∈ [i, nc). A strip of
// kCovarianceStrip entries stays in registers across the chunk's samples; each entry still sums
// its samples in ascending t, and no FMA is enabled, so the AVX2 build gives the same numbers.
SPIKESHARD_CLONES void covariance_row(const double* block, std::size_t tn, std::size_t nc, std::size_t i,
                                      double* acc) {
  std::size_t j0 = i;
  for (; j0 + kCovarianceStrip <= nc; j0 += kCovarianceStrip) {
    double a[kCovarianceStrip];
    for (std::size_t k = 0; k < kCovarianceStrip; ++k) a[k] = acc[j0 + k];
    for (std::size_t t = 0; t < tn; ++t) {
      const double* row = block + t * nc;
      const double xi = row[i];
      for (std::size_t k = 0; k < kCovarianceStrip; ++k) a[k] += xi * row[j0 + k];
    }
    for (std::size_t k = 0; k < kCovarianceStrip; ++k) acc[j0 + k] = a[k];
  }
  for (std::size_t t = 0; t < tn; ++t) {
    const double* row = block + t * nc;
    const double xi = row[i];
    for (std::size_t j = j0; j < nc; ++j) acc[j] += xi * row[j];
  }
}

constexpr std::size_t kWhitenTile = 8;

}  // namespace

std::vector<double> channel_covariance(const float* x, std::size_t n_samples, std::size_t n_channels) {
  detail::require_block("channel_covariance", x, n_channels, n_samples, n_channels);
  const std::size_t nc = n_channels;
  std::vector<double> cov(nc * nc, 0.0);
  // Only the upper triangle is accumulated; pairing row u with row nc−1−u gives every unit of
  // work the same length (nc + 1 entries), so threads stay balanced.
  const std::size_t n_units = (nc + 1) / 2;
  parallel_for(n_units, [&](std::size_t u_begin, std::size_t u_end) {
    std::vector<double> block(kCovarianceChunk * nc);
    for (std::size_t t0 = 0; t0 < n_samples; t0 += kCovarianceChunk) {
      const std::size_t tn = std::min(kCovarianceChunk, n_samples - t0);
      for (std::size_t i = 0; i < tn * nc; ++i) block[i] = x[t0 * nc + i];
      for (std::size_t u = u_begin; u < u_end; ++u) {
        const std::size_t rows[2] = {u, nc - 1 - u};
        const std::size_t n_rows = rows[0] == rows[1] ? 1 : 2;
        for (std::size_t r = 0; r < n_rows; ++r) {
          covariance_row(block.data(), tn, nc, rows[r], cov.data() + rows[r] * nc);
        }
      }
    }
  });
  const double inv_n = 1.0 / static_cast<double>(n_samples);
  for (std::size_t i = 0; i < nc; ++i) {
    for (std::size_t j = i; j < nc; ++j) {
      cov[i * nc + j] *= inv_n;
      cov[j * nc + i] = cov[i * nc + j];
    }
  }
  return cov;
}

void stabilise_covariance(double* cov, std::size_t n_channels, const std::int32_t* labels) {
  if (cov == nullptr) throw std::invalid_argument("stabilise_covariance: covariance pointer is null");
  check_labels("stabilise_covariance", labels, n_channels);
  const std::vector<std::size_t> good = good_channels("stabilise_covariance", labels, n_channels);
  const std::size_t nc = n_channels;
  std::vector<double> good_diag(good.size());
  for (std::size_t g = 0; g < good.size(); ++g) good_diag[g] = cov[good[g] * nc + good[g]];
  for (std::size_t c = 0; c < nc; ++c) {
    if (labels[c] == kChannelGood) continue;
    for (std::size_t k = 0; k < nc; ++k) {
      cov[c * nc + k] = 0.0;
      cov[k * nc + c] = 0.0;
    }
    // Linear interpolation over the channel index between the nearest good channels, constant
    // beyond the first and last good channel (numpy.interp).
    auto above = std::lower_bound(good.begin(), good.end(), c);
    double value;
    if (above == good.begin()) {
      value = good_diag.front();
    } else if (above == good.end()) {
      value = good_diag.back();
    } else {
      const std::size_t hi = static_cast<std::size_t>(above - good.begin());
      const std::size_t lo = hi - 1;
      const double slope = (good_diag[hi] - good_diag[lo]) / static_cast<double>(good[hi] - good[lo]);
      value = good_diag[lo] + slope * static_cast<double>(c - good[lo]);
    }
    cov[c * nc + c] = value;
  }
  std::vector<double> scratch = good_diag;
  const double outside_diag = detail::median_in_place(scratch.data(), scratch.size()) * 1e6;
  for (std::size_t c = 0; c < nc; ++c) {
    if (labels[c] == kChannelOutside) cov[c * nc + c] = outside_diag;
  }
}

std::vector<double> median_of_matrices(const double* matrices, std::size_t n_matrices, std::size_t n_channels) {
  if (matrices == nullptr) throw std::invalid_argument("median_of_matrices: matrices pointer is null");
  if (n_matrices == 0) throw std::invalid_argument("median_of_matrices: need at least one matrix");
  const std::size_t size = n_channels * n_channels;
  std::vector<double> out(size);
  parallel_for(size, [&](std::size_t e_begin, std::size_t e_end) {
    std::vector<double> scratch(n_matrices);
    for (std::size_t e = e_begin; e < e_end; ++e) {
      for (std::size_t m = 0; m < n_matrices; ++m) scratch[m] = matrices[m * size + e];
      out[e] = detail::median_in_place(scratch.data(), n_matrices);
    }
  });
  return out;
}

std::vector<double> whitening_covariance(const double* window_covariances, std::size_t n_windows,
                                         std::size_t n_channels, const std::int32_t* labels) {
  if (window_covariances == nullptr) throw std::invalid_argument("whitening_covariance: covariances pointer is null");
  const std::size_t size = n_channels * n_channels;
  std::vector<double> stabilised(window_covariances, window_covariances + n_windows * size);
  for (std::size_t w = 0; w < n_windows; ++w) stabilise_covariance(stabilised.data() + w * size, n_channels, labels);
  return median_of_matrices(stabilised.data(), n_windows, n_channels);
}

std::vector<std::int32_t> nearest_channels(const double* x_um, const double* y_um, std::size_t n_channels,
                                           std::size_t k) {
  if (x_um == nullptr || y_um == nullptr) throw std::invalid_argument("nearest_channels: position pointer is null");
  if (k == 0 || k > n_channels) {
    throw std::invalid_argument("nearest_channels: k must be in 1.." + std::to_string(n_channels) + ", got " +
                                std::to_string(k));
  }
  std::vector<std::int32_t> out(n_channels * k);
  std::vector<std::size_t> order(n_channels);
  std::vector<double> d2(n_channels);
  for (std::size_t j = 0; j < n_channels; ++j) {
    for (std::size_t i = 0; i < n_channels; ++i) {
      const double dx = x_um[i] - x_um[j], dy = y_um[i] - y_um[j];
      d2[i] = dx * dx + dy * dy;
    }
    std::iota(order.begin(), order.end(), std::size_t{0});
    // Self first even when another channel shares its position; then distance, then index.
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      if ((a == j) != (b == j)) return a == j;
      if (d2[a] != d2[b]) return d2[a] < d2[b];
      return a < b;
    });
    for (std::size_t m = 0; m < k; ++m) out[j * k + m] = static_cast<std::int32_t>(order[m]);
  }
  return out;
}

LocalWhitening local_whitening(const double* cov, std::size_t n_channels, const double* x_um, const double* y_um,
                               const std::int32_t* labels, std::size_t n_nearest, double epsilon_fraction) {
  if (cov == nullptr) throw std::invalid_argument("local_whitening: covariance pointer is null");
  if (n_channels == 0) throw std::invalid_argument("local_whitening: need at least one channel");
  if (n_nearest == 0) throw std::invalid_argument("local_whitening: the neighbourhood must hold at least 1 channel");
  if (!(epsilon_fraction >= 0) || !std::isfinite(epsilon_fraction)) {
    throw std::invalid_argument("local_whitening: epsilon fraction must be a non-negative number, got " +
                                std::to_string(epsilon_fraction));
  }
  check_labels("local_whitening", labels, n_channels);
  const std::size_t nc = n_channels;
  const std::vector<std::size_t> good = good_channels("local_whitening", labels, nc);
  double diag_sum = 0;
  for (std::size_t c : good) diag_sum += cov[c * nc + c];
  LocalWhitening w;
  w.n_channels = nc;
  w.n_nearest = std::min(n_nearest, nc);
  w.epsilon = epsilon_fraction * diag_sum / static_cast<double>(good.size());
  w.indices = nearest_channels(x_um, y_um, nc, w.n_nearest);
  const std::size_t k = w.n_nearest;
  std::vector<double> weights(nc * k);
  parallel_for(nc, [&](std::size_t j_begin, std::size_t j_end) {
    std::vector<double> sub(k * k);
    for (std::size_t j = j_begin; j < j_end; ++j) {
      const std::int32_t* idx = w.indices.data() + j * k;
      for (std::size_t a = 0; a < k; ++a) {
        for (std::size_t b = 0; b < k; ++b) sub[a * k + b] = cov[static_cast<std::size_t>(idx[a]) * nc + idx[b]];
      }
      const SymmetricEigen eig = symmetric_eigen(sub.data(), k);
      // Column 0 (the channel itself) of E·diag(1/√(s + ε))·Eᵀ. s = |λ|: the singular values the
      // reference's SVD would give, which keeps the weights finite when the element-wise median
      // of covariances is slightly indefinite.
      for (std::size_t a = 0; a < k; ++a) {
        double sum = 0;
        for (std::size_t m = 0; m < k; ++m) {
          sum += eig.vectors[m * k + a] * eig.vectors[m * k] / std::sqrt(std::fabs(eig.values[m]) + w.epsilon);
        }
        weights[j * k + a] = sum;
      }
    }
  });
  w.weights.resize(nc * k);
  w.dense.assign(nc * nc, 0.0);
  for (std::size_t j = 0; j < nc; ++j) {
    for (std::size_t a = 0; a < k; ++a) {
      w.weights[j * k + a] = static_cast<float>(weights[j * k + a]);
      w.dense[static_cast<std::size_t>(w.indices[j * k + a]) * nc + j] = weights[j * k + a];
    }
  }
  for (double v : weights) {
    if (!std::isfinite(v)) {
      throw std::runtime_error("local_whitening: non-finite weight (zero eigenvalue with epsilon 0?)");
    }
  }
  return w;
}

std::vector<double> invert_matrix(const double* a, std::size_t n) {
  if (a == nullptr) throw std::invalid_argument("invert_matrix: matrix pointer is null");
  if (n == 0) return {};
  // Gauss–Jordan on [A | I] with partial pivoting.
  std::vector<double> m(a, a + n * n);
  std::vector<double> inv(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) inv[i * n + i] = 1.0;
  double largest = 0;
  for (std::size_t i = 0; i < n * n; ++i) largest = std::max(largest, std::fabs(a[i]));
  const double tiny = largest * 1e-14;
  for (std::size_t col = 0; col < n; ++col) {
    std::size_t pivot = col;
    for (std::size_t r = col + 1; r < n; ++r) {
      if (std::fabs(m[r * n + col]) > std::fabs(m[pivot * n + col])) pivot = r;
    }
    if (!(std::fabs(m[pivot * n + col]) > tiny)) {
      throw std::runtime_error("invert_matrix: the matrix is singular to working precision (column " +
                               std::to_string(col) + ")");
    }
    if (pivot != col) {
      std::swap_ranges(m.begin() + pivot * n, m.begin() + (pivot + 1) * n, m.begin() + col * n);
      std::swap_ranges(inv.begin() + pivot * n, inv.begin() + (pivot + 1) * n, inv.begin() + col * n);
    }
    const double p = m[col * n + col];
    for (std::size_t c = 0; c < n; ++c) {
      m[col * n + c] /= p;
      inv[col * n + c] /= p;
    }
    parallel_for(n, [&](std::size_t r_begin, std::size_t r_end) {
      for (std::size_t r = r_begin; r < r_end; ++r) {
        if (r == col) continue;
        const double f = m[r * n + col];
        if (f == 0.0) continue;
        for (std::size_t c = 0; c < n; ++c) {
          m[r * n + c] -= f * m[col * n + c];
          inv[r * n + c] -= f * inv[col * n + c];
        }
      }
    });
  }
  return inv;
}

void apply_whitening(const float* in, std::size_t n_samples, std::size_t n_channels, const std::int32_t* indices,
                     const float* weights, std::size_t n_nearest, double scale, float* out) {
  detail::require_block("apply_whitening", in, n_channels, n_samples, n_channels);
  if (out == nullptr) throw std::invalid_argument("apply_whitening: output pointer is null");
  if (indices == nullptr || weights == nullptr) throw std::invalid_argument("apply_whitening: indices or weights null");
  if (n_nearest == 0 || n_nearest > n_channels) {
    throw std::invalid_argument("apply_whitening: neighbourhood size must be in 1.." + std::to_string(n_channels) +
                                ", got " + std::to_string(n_nearest));
  }
  const std::size_t nc = n_channels, k = n_nearest;
  for (std::size_t i = 0; i < nc * k; ++i) {
    if (indices[i] < 0 || static_cast<std::size_t>(indices[i]) >= nc) {
      throw std::invalid_argument("apply_whitening: index " + std::to_string(indices[i]) + " at entry " +
                                  std::to_string(i) + " is not a channel (0.." + std::to_string(nc - 1) + ")");
    }
  }
  std::vector<double> w(weights, weights + nc * k);
  // Tiles of kWhitenTile samples stored channel-major, so each (j, k) term is one contiguous
  // multiply-add over the tile's samples. Each output is still Σ_k in k order from 0, in double.
  const std::size_t n_tiles = (n_samples + kWhitenTile - 1) / kWhitenTile;
  parallel_for(n_tiles, [&](std::size_t tile_begin, std::size_t tile_end) {
    std::vector<double> tile(nc * kWhitenTile);
    for (std::size_t tile_index = tile_begin; tile_index < tile_end; ++tile_index) {
      const std::size_t t0 = tile_index * kWhitenTile;
      const std::size_t count = std::min(kWhitenTile, n_samples - t0);
      for (std::size_t s = 0; s < kWhitenTile; ++s) {
        for (std::size_t c = 0; c < nc; ++c) tile[c * kWhitenTile + s] = s < count ? in[(t0 + s) * nc + c] : 0.0f;
      }
      for (std::size_t j = 0; j < nc; ++j) {
        const std::int32_t* idx = indices + j * k;
        const double* wj = w.data() + j * k;
        double sum[kWhitenTile] = {};
        for (std::size_t m = 0; m < k; ++m) {
          const double weight = wj[m];
          const double* src = tile.data() + static_cast<std::size_t>(idx[m]) * kWhitenTile;
          for (std::size_t s = 0; s < kWhitenTile; ++s) sum[s] += weight * src[s];
        }
        for (std::size_t s = 0; s < count; ++s) out[(t0 + s) * nc + j] = static_cast<float>(scale * sum[s]);
      }
    }
  });
}

}  // namespace spikeshard

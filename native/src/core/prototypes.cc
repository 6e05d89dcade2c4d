// SPDX-License-Identifier: GPL-3.0-or-later
#include "spikeshard/prototypes.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "spikeshard/linalg.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

// Reductions run over fixed blocks of this many snippets, summed in block order, so that the
// floating-point result does not depend on how parallel_for splits the work.
constexpr std::size_t kReduceBlock = 1024;

// Candidate peaks are found per fixed time chunk and concatenated in chunk order.
constexpr std::size_t kPeakChunk = 4096;

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

}  // namespace

std::uint64_t SplitMix64::next() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t SplitMix64::below(std::uint64_t bound) {
  if (bound == 0) throw std::invalid_argument("SplitMix64::below: bound must be > 0");
  unsigned __int128 m = static_cast<unsigned __int128>(next()) * bound;
  auto low = static_cast<std::uint64_t>(m);
  if (low < bound) {
    std::uint64_t reject_below = (0 - bound) % bound;
    while (low < reject_below) {
      m = static_cast<unsigned __int128>(next()) * bound;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

std::vector<IsolatedPeak> find_isolated_peaks(const float* x, std::size_t n_samples, std::size_t n_channels,
                                              const IsolatedPeakParams& p, int threads) {
  require(n_channels > 0, "find_isolated_peaks: n_channels must be > 0");
  require(p.local_samples >= 0 && p.local_channels >= 0 && p.isolation_samples >= 0 && p.isolation_channels >= 0,
          "find_isolated_peaks: box half-widths must be >= 0");
  require(p.nt0 > 0 && p.trough_index >= 0 && p.trough_index < p.nt0,
          "find_isolated_peaks: need nt0 > 0 and 0 <= trough_index < nt0, got nt0 = " + std::to_string(p.nt0) +
              ", trough_index = " + std::to_string(p.trough_index));
  if (n_samples == 0) return {};

  // 1. Local minima below threshold. Only samples under the threshold can be peaks, so the box
  //    test runs on a few candidates rather than on every sample.
  const std::size_t n_chunks = (n_samples + kPeakChunk - 1) / kPeakChunk;
  std::vector<std::vector<IsolatedPeak>> per_chunk(n_chunks);
  const auto ls = static_cast<std::size_t>(p.local_samples);
  const auto lc = static_cast<std::size_t>(p.local_channels);
  parallel_for(n_chunks, [&](std::size_t b, std::size_t e) {
    for (std::size_t chunk = b; chunk < e; ++chunk) {
      const std::size_t t_end = std::min(n_samples, (chunk + 1) * kPeakChunk);
      for (std::size_t t = chunk * kPeakChunk; t < t_end; ++t) {
        const float* row = x + t * n_channels;
        for (std::size_t c = 0; c < n_channels; ++c) {
          const float v = row[c];
          if (!(v < p.threshold)) continue;
          const std::size_t t0 = t >= ls ? t - ls : 0, t1 = std::min(n_samples - 1, t + ls);
          const std::size_t c0 = c >= lc ? c - lc : 0, c1 = std::min(n_channels - 1, c + lc);
          bool is_min = true;
          for (std::size_t u = t0; u <= t1 && is_min; ++u) {
            const float* r = x + u * n_channels;
            for (std::size_t d = c0; d <= c1; ++d) {
              if (r[d] < v) {
                is_min = false;
                break;
              }
            }
          }
          if (is_min) per_chunk[chunk].push_back({t, c, v});
        }
      }
    }
  }, threads);
  std::vector<IsolatedPeak> peaks;
  for (auto& v : per_chunk) peaks.insert(peaks.end(), v.begin(), v.end());

  // 2. Isolation: peaks are sorted by sample, so neighbours in time are contiguous.
  std::vector<unsigned char> keep(peaks.size(), 0);
  const auto is = static_cast<std::size_t>(p.isolation_samples);
  const auto ic = static_cast<std::size_t>(p.isolation_channels);
  const auto nt0 = static_cast<std::size_t>(p.nt0);
  parallel_for(peaks.size(), [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      const IsolatedPeak& a = peaks[i];
      if (a.sample < nt0 || a.sample + nt0 >= n_samples) continue;  // first/last nt0 samples
      if (a.sample < p.own_begin || a.sample >= p.own_end) continue;
      auto near = [&](const IsolatedPeak& q) {
        const std::size_t dc = q.channel > a.channel ? q.channel - a.channel : a.channel - q.channel;
        return dc <= ic;
      };
      bool alone = true;
      for (std::size_t j = i; j-- > 0 && alone;) {
        if (a.sample - peaks[j].sample > is) break;
        if (near(peaks[j])) alone = false;
      }
      for (std::size_t j = i + 1; j < peaks.size() && alone; ++j) {
        if (peaks[j].sample - a.sample > is) break;
        if (near(peaks[j])) alone = false;
      }
      keep[i] = alone ? 1 : 0;
    }
  }, threads);
  std::vector<IsolatedPeak> out;
  for (std::size_t i = 0; i < peaks.size(); ++i) {
    if (keep[i]) out.push_back(peaks[i]);
  }
  return out;
}

std::vector<float> extract_snippets(const float* x, std::size_t n_samples, std::size_t n_channels,
                                    const std::vector<IsolatedPeak>& peaks, int nt0, int trough_index) {
  require(nt0 > 0 && trough_index >= 0 && trough_index < nt0,
          "extract_snippets: need nt0 > 0 and 0 <= trough_index < nt0");
  const auto n = static_cast<std::size_t>(nt0);
  const auto tr = static_cast<std::size_t>(trough_index);
  std::vector<float> out(peaks.size() * n);
  for (std::size_t i = 0; i < peaks.size(); ++i) {
    const IsolatedPeak& pk = peaks[i];
    if (pk.channel >= n_channels || pk.sample < tr || pk.sample - tr + n > n_samples) {
      throw std::invalid_argument("extract_snippets: window of peak " + std::to_string(i) + " (sample " +
                                  std::to_string(pk.sample) + ", channel " + std::to_string(pk.channel) +
                                  ") leaves the block of " + std::to_string(n_samples) + " samples × " +
                                  std::to_string(n_channels) + " channels");
    }
    const float* src = x + (pk.sample - tr) * n_channels + pk.channel;
    for (std::size_t k = 0; k < n; ++k) out[i * n + k] = src[k * n_channels];
  }
  return out;
}

Prototypes learn_prototypes(const float* snippets, std::size_t n_snippets, std::size_t nt0,
                            const PrototypeParams& p, int threads) {
  const std::size_t np = p.n_prototypes;
  require(nt0 > 0, "learn_prototypes: nt0 must be > 0");
  require(np > 0 && np <= nt0, "learn_prototypes: need 0 < n_prototypes <= nt0, got " + std::to_string(np));
  require(n_snippets >= np, "learn_prototypes: need at least n_prototypes = " + std::to_string(np) +
                                " snippets, got " + std::to_string(n_snippets));
  require(p.iterations >= 0, "learn_prototypes: iterations must be >= 0");
  require(p.trough_index >= 0 && static_cast<std::size_t>(p.trough_index) < nt0,
          "learn_prototypes: trough_index must lie in [0, nt0)");

  const std::size_t n_blocks = (n_snippets + kReduceBlock - 1) / kReduceBlock;

  // --- wTEMP: correlation k-means ---------------------------------------------------------
  std::vector<double> w(np * nt0);  // prototype r at w[r * nt0 + k]
  {
    SplitMix64 rng(p.seed);
    std::vector<std::size_t> order(n_snippets);
    for (std::size_t i = 0; i < n_snippets; ++i) order[i] = i;
    for (std::size_t r = 0; r < np; ++r) {  // partial Fisher–Yates: the first np of a permutation
      const std::size_t j = r + static_cast<std::size_t>(rng.below(n_snippets - r));
      std::swap(order[r], order[j]);
      const float* s = snippets + order[r] * nt0;
      double norm2 = 0;
      for (std::size_t k = 0; k < nt0; ++k) norm2 += static_cast<double>(s[k]) * s[k];
      require(norm2 > 0, "learn_prototypes: snippet " + std::to_string(order[r]) + " is all zeros");
      const double inv = 1.0 / std::sqrt(norm2);
      for (std::size_t k = 0; k < nt0; ++k) w[r * nt0 + k] = s[k] * inv;
    }
  }
  std::vector<std::size_t> sizes(np, 0);
  std::vector<double> partial(n_blocks * np * nt0);
  std::vector<std::size_t> partial_sizes(n_blocks * np);
  for (int it = 0; it < p.iterations; ++it) {
    std::fill(partial.begin(), partial.end(), 0.0);
    std::fill(partial_sizes.begin(), partial_sizes.end(), 0);
    parallel_for(n_blocks, [&](std::size_t b, std::size_t e) {
      std::vector<double> s(nt0);
      for (std::size_t blk = b; blk < e; ++blk) {
        double* acc = partial.data() + blk * np * nt0;
        std::size_t* cnt = partial_sizes.data() + blk * np;
        const std::size_t i_end = std::min(n_snippets, (blk + 1) * kReduceBlock);
        for (std::size_t i = blk * kReduceBlock; i < i_end; ++i) {
          for (std::size_t k = 0; k < nt0; ++k) s[k] = snippets[i * nt0 + k];
          std::size_t best = 0;
          double best_cc = 0;
          for (std::size_t r = 0; r < np; ++r) {
            double cc = 0;
            for (std::size_t k = 0; k < nt0; ++k) cc += w[r * nt0 + k] * s[k];
            if (r == 0 || cc > best_cc) {
              best = r;
              best_cc = cc;
            }
          }
          cnt[best] += 1;
          for (std::size_t k = 0; k < nt0; ++k) acc[best * nt0 + k] += best_cc * s[k];
        }
      }
    }, threads);
    std::vector<double> next(np * nt0, 0.0);
    std::fill(sizes.begin(), sizes.end(), 0);
    for (std::size_t blk = 0; blk < n_blocks; ++blk) {
      for (std::size_t q = 0; q < np * nt0; ++q) next[q] += partial[blk * np * nt0 + q];
      for (std::size_t r = 0; r < np; ++r) sizes[r] += partial_sizes[blk * np + r];
    }
    for (std::size_t r = 0; r < np; ++r) {
      double norm2 = 0;
      for (std::size_t k = 0; k < nt0; ++k) norm2 += next[r * nt0 + k] * next[r * nt0 + k];
      if (sizes[r] == 0 || !(norm2 > 0)) continue;  // empty cluster: keep the previous prototype
      const double inv = 1.0 / std::sqrt(norm2);
      for (std::size_t k = 0; k < nt0; ++k) w[r * nt0 + k] = next[r * nt0 + k] * inv;
    }
  }

  // --- wPCA: eigenvectors of the Gram matrix ----------------------------------------------
  std::vector<double> gram_partial(n_blocks * nt0 * nt0, 0.0);
  parallel_for(n_blocks, [&](std::size_t b, std::size_t e) {
    for (std::size_t blk = b; blk < e; ++blk) {
      double* g = gram_partial.data() + blk * nt0 * nt0;
      const std::size_t i_end = std::min(n_snippets, (blk + 1) * kReduceBlock);
      for (std::size_t i = blk * kReduceBlock; i < i_end; ++i) {
        const float* s = snippets + i * nt0;
        for (std::size_t a = 0; a < nt0; ++a) {
          const double sa = s[a];
          for (std::size_t c = a; c < nt0; ++c) g[a * nt0 + c] += sa * s[c];
        }
      }
    }
  }, threads);
  std::vector<double> gram(nt0 * nt0, 0.0);
  for (std::size_t blk = 0; blk < n_blocks; ++blk) {
    for (std::size_t q = 0; q < nt0 * nt0; ++q) gram[q] += gram_partial[blk * nt0 * nt0 + q];
  }
  for (std::size_t a = 0; a < nt0; ++a) {
    for (std::size_t c = 0; c < a; ++c) gram[a * nt0 + c] = gram[c * nt0 + a];
  }
  const SymmetricEigen eig = symmetric_eigen(gram.data(), nt0);

  Prototypes out;
  out.nt0 = nt0;
  out.n_prototypes = np;
  out.w_temp.resize(nt0 * np);
  out.w_pca.resize(nt0 * np);
  out.singular_values.resize(np);
  out.cluster_sizes = sizes;
  const auto tr = static_cast<std::size_t>(p.trough_index);
  for (std::size_t r = 0; r < np; ++r) {
    double sign = 1.0;
    if (r == 0 && eig.vectors[tr] > 0) sign = -1.0;
    for (std::size_t k = 0; k < nt0; ++k) {
      out.w_temp[k * np + r] = static_cast<float>(w[r * nt0 + k]);
      out.w_pca[k * np + r] = static_cast<float>(sign * eig.vectors[r * nt0 + k]);
    }
    out.singular_values[r] = std::sqrt(std::max(0.0, eig.values[r]));
  }
  return out;
}

}  // namespace spikeshard

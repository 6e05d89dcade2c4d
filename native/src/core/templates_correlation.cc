// SPDX-License-Identifier: GPL-3.0-or-later
// Template cross-correlations (WtW, simScore, iList) and zero-lag similarity.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <utility>
#include <vector>

#include "matching_simd.h"
#include "spikeshard/templates.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

// acc[lag + nt0 - 1] = Σ_k Σ_tau wa_k[tau]·v_k[tau + lag] for every lag (wa, v: rank × nt0,
// component-major), each lag's terms added in the order (k, then tau ascending) of a plain per-lag
// loop, bit for bit. Sample tau of wa_k meets v_k[tau + lag] for lags −tau … nt0 − 1 − tau, so the
// window of lags it reaches is updated at once: the 2·nt0 − 1 sums vectorise (no FMA, lanes never
// mix) instead of each waiting on its own add chain.
SPIKESHARD_CLONES void lag_sums(const double* wa, const double* v, int rank, int nt0, double* acc) {
  std::fill(acc, acc + 2 * nt0 - 1, 0.0);
  for (int k = 0; k < rank; ++k) {
    const double* wk = wa + k * nt0;
    const double* vk = v + k * nt0;
    for (int t = 0; t < nt0; ++t) {
      const double x = wk[t];
      double* window = acc + (nt0 - 1 - t);
      for (int i = 0; i < nt0; ++i) window[i] += x * vk[i];
    }
  }
}

// Per-template data in float64, component-major: w[(j*rank + k)*nt0 + tau], and each template's
// spatial components compacted onto its own neighbourhood.
struct Factors {
  std::size_t F;
  int nt0, rank, n_near;
  std::vector<double> w;
  std::vector<double> u;                    // u[(j*n_near + i)*rank + k] on channel iC[iW[j], i]
  std::vector<std::vector<std::uint64_t>> support;  // channel bitmask of each neighbourhood

  explicit Factors(const TemplateSet& m)
      : F(m.n_templates), nt0(m.nt0), rank(m.rank), n_near(m.n_neighbours) {
    w.resize(F * rank * nt0);
    u.resize(F * n_near * rank);
    support.assign(F, std::vector<std::uint64_t>((m.n_channels + 63) / 64, 0));
    for (std::size_t j = 0; j < F; ++j) {
      for (int t = 0; t < nt0; ++t) {
        for (int k = 0; k < rank; ++k) w[(j * rank + k) * nt0 + t] = m.W[(j * nt0 + t) * rank + k];
      }
      const std::int32_t* ch = m.channels_of(j);
      for (int i = 0; i < n_near; ++i) {
        support[j][ch[i] / 64] |= std::uint64_t{1} << (ch[i] % 64);
        for (int k = 0; k < rank; ++k) u[(j * n_near + i) * rank + k] = m.U[(j * m.n_channels + ch[i]) * rank + k];
      }
    }
  }

  bool overlap(std::size_t a, std::size_t b) const {
    for (std::size_t i = 0; i < support[a].size(); ++i) {
      if (support[a][i] & support[b][i]) return true;
    }
    return false;
  }

  // uu[k*rank + l] = Σ_c U[a, c, k]·U[b, c, l]; U_b vanishes off its neighbourhood, so summing
  // over a's channels is exact.
  void spatial_products(const TemplateSet& m, std::size_t a, std::size_t b, double* uu) const {
    std::fill(uu, uu + rank * rank, 0.0);
    const std::int32_t* ch = m.channels_of(a);
    for (int i = 0; i < n_near; ++i) {
      const float* ub = m.U + (b * m.n_channels + ch[i]) * rank;
      for (int k = 0; k < rank; ++k) {
        double ua = u[(a * n_near + i) * rank + k];
        for (int l = 0; l < rank; ++l) uu[k * rank + l] += ua * ub[l];
      }
    }
  }

  // v[k*nt0 + tau] = Σ_l uu[k, l]·W[b, tau, l], so that
  // ⟨T_a(·), T_b(· + ℓ)⟩ = Σ_k Σ_tau W_ak[tau]·v_k[tau + ℓ].
  void mix(std::size_t b, const double* uu, double* v) const {
    for (int k = 0; k < rank; ++k) {
      for (int t = 0; t < nt0; ++t) {
        double acc = 0.0;
        for (int l = 0; l < rank; ++l) acc += uu[k * rank + l] * w[(b * rank + l) * nt0 + t];
        v[k * nt0 + t] = acc;
      }
    }
  }

  void all_lags(std::size_t a, const double* v, double* acc) const {
    lag_sums(&w[a * rank * nt0], v, rank, nt0, acc);
  }

  double lagged(std::size_t a, const double* v, int lag) const {
    double acc = 0.0;
    int t0 = std::max(0, -lag), t1 = std::min(nt0, nt0 - lag);
    for (int k = 0; k < rank; ++k) {
      const double* wa = &w[(a * rank + k) * nt0];
      const double* vk = v + k * nt0;
      for (int t = t0; t < t1; ++t) acc += wa[t] * vk[t + lag];
    }
    return acc;
  }
};

}  // namespace

TemplateCorrelations template_correlations(const TemplateSet& m, int n_similar_max, int threads) {
  m.validate();
  std::vector<float> WtW(m.n_templates * m.n_templates * (2 * static_cast<std::size_t>(m.nt0) - 1), 0.0f);
  TemplateCorrelations out = template_correlations(m, n_similar_max, threads, WtW.data());
  out.WtW = std::move(WtW);
  return out;
}

TemplateCorrelations template_correlations(const TemplateSet& m, int n_similar_max, int threads, float* WtW) {
  m.validate();
  if (n_similar_max < 1) throw std::invalid_argument("template_correlations: n_similar_max must be ≥ 1");
  const std::size_t F = m.n_templates;
  const int nt0 = m.nt0, n_lags = 2 * nt0 - 1;
  TemplateCorrelations out;
  out.n_templates = F;
  out.n_lags = n_lags;
  out.n_similar = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(n_similar_max), F));
  out.similarity.assign(F * F, 0.0f);
  out.similar.assign(F * out.n_similar, 0);
  if (F == 0) return out;
  Factors f(m);
  // Each a computes the pairs (a, b ≥ a) and writes both (a, b) and (b, a), so the two halves are
  // bitwise mirror images and every element has exactly one writer. Row a has F − a pairs, so the
  // rows are dealt out in pairs (a, F − 1 − a) of equal total work: contiguous ranges of a alone
  // gave the first thread three quarters of the work with two threads.
  const std::size_t n_row_pairs = (F + 1) / 2;
  parallel_for(
      n_row_pairs,
      [&](std::size_t begin, std::size_t end) {
        std::vector<double> uu(m.rank * m.rank), v(static_cast<std::size_t>(m.rank) * nt0), acc(n_lags);
        auto row = [&](std::size_t a) {
          for (std::size_t b = a; b < F; ++b) {
            if (!f.overlap(a, b)) continue;
            f.spatial_products(m, a, b, uu.data());
            f.mix(b, uu.data(), v.data());
            f.all_lags(a, v.data(), acc.data());
            float best = -INFINITY;
            if (WtW != nullptr) {
              float* ab = WtW + (a * F + b) * n_lags;
              float* ba = WtW + (b * F + a) * n_lags;
              for (int i = 0; i < n_lags; ++i) {
                float x = static_cast<float>(acc[i]);
                ab[i] = x;
                ba[n_lags - 1 - i] = x;
                best = std::max(best, x);
              }
            } else {
              for (int i = 0; i < n_lags; ++i) best = std::max(best, static_cast<float>(acc[i]));
            }
            out.similarity[a * F + b] = best;
            out.similarity[b * F + a] = best;
          }
        };
        for (std::size_t i = begin; i < end; ++i) {
          row(i);
          if (F - 1 - i != i) row(F - 1 - i);
        }
      },
      threads);
  parallel_for(
      F,
      [&](std::size_t begin, std::size_t end) {
        std::vector<std::size_t> order(F);
        for (std::size_t a = begin; a < end; ++a) {
          std::iota(order.begin(), order.end(), 0);
          const float* s = &out.similarity[a * F];
          auto before = [&](std::size_t x, std::size_t y) {
            if ((x == a) != (y == a)) return x == a;
            if (s[x] != s[y]) return s[x] > s[y];
            return x < y;
          };
          std::partial_sort(order.begin(), order.begin() + out.n_similar, order.end(), before);
          for (int i = 0; i < out.n_similar; ++i) {
            out.similar[a * out.n_similar + i] = static_cast<std::int32_t>(order[i]);
          }
        }
      },
      threads);
  return out;
}

std::vector<float> zero_lag_similarity(const TemplateSet& m, int threads) {
  m.validate();
  const std::size_t F = m.n_templates;
  std::vector<float> cc(F * F, 0.0f);
  if (F == 0) return cc;
  Factors f(m);
  // Rows dealt out in pairs of equal work, as in template_correlations.
  parallel_for(
      (F + 1) / 2,
      [&](std::size_t begin, std::size_t end) {
        std::vector<double> uu(m.rank * m.rank), v(static_cast<std::size_t>(m.rank) * m.nt0);
        auto row = [&](std::size_t a) {
          for (std::size_t b = a; b < F; ++b) {
            if (!f.overlap(a, b)) continue;
            f.spatial_products(m, a, b, uu.data());
            f.mix(b, uu.data(), v.data());
            float x = static_cast<float>(f.lagged(a, v.data(), 0));
            cc[a * F + b] = x;
            cc[b * F + a] = x;
          }
        };
        for (std::size_t i = begin; i < end; ++i) {
          row(i);
          if (F - 1 - i != i) row(F - 1 - i);
        }
      },
      threads);
  return cc;
}

std::vector<std::int32_t> triage_templates(const TemplateSet& m, const double* nsp, const TriageOptions& o) {
  const std::size_t F = m.n_templates;
  const std::vector<float> cc = zero_lag_similarity(m, o.threads);
  // Each template's verdict reads only its own row: rows are split over threads, kept in order.
  std::vector<unsigned char> keep(F, 0);
  parallel_for(
      F,
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t a = begin; a < end; ++a) {
          if (nsp[a] < o.min_nsp) continue;
          const float* row = &cc[a * F];
          bool duplicate = false;
          for (std::size_t b = 0; b < F && !duplicate; ++b) {
            duplicate = b != a && static_cast<double>(row[b]) > o.max_similarity &&
                        std::fabs(static_cast<double>(m.mu[a]) - static_cast<double>(m.mu[b])) < o.amplitude_gap &&
                        (nsp[a] < nsp[b] || (nsp[a] == nsp[b] && a > b));
          }
          keep[a] = duplicate ? 0 : 1;
        }
      },
      o.threads);
  std::vector<std::int32_t> out;
  for (std::size_t a = 0; a < F; ++a) {
    if (keep[a]) out.push_back(static_cast<std::int32_t>(a));
  }
  return out;
}

}  // namespace spikeshard

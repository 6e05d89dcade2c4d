// SPDX-License-Identifier: GPL-3.0-or-later
// Matching pursuit of one batch (algorithm and layouts: include/spikeshard/matching.h).
//
// Determinism: every value of c, err and the residual is produced by one fixed sequence of float
// operations that does not depend on how the work is split (tiles, merged windows, threads), and
// every parallel loop writes disjoint outputs; spike lists are concatenated in time order.
#include "spikeshard/matching.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

#include "matching_simd.h"
#include "spikeshard/templates.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

constexpr std::size_t kTile = 512;            // window starts per work item of the full-batch passes
constexpr std::size_t kTransposeBlock = 16;  // samples per step of the channel-major copy
using simd::kLanes;
using simd::Lanes;

// p[k*span + q] = Σ_i u[i*rank + k]·g[i][q], summed over i = 0, 1, … (from 0.0f).
SPIKESHARD_CLONES void spatial_filter(const float* const* g, std::size_t span, int n_near, int rank, const float* u,
                                      float* p) {
  std::size_t q0 = 0;
  if (rank == 3) {
    for (; q0 + 2 * kLanes <= span; q0 += 2 * kLanes) {
      Lanes a00 = {}, a01 = {}, a10 = {}, a11 = {}, a20 = {}, a21 = {};
      for (int i = 0; i < n_near; ++i) {
        Lanes g0, g1;
        std::memcpy(&g0, g[i] + q0, sizeof g0);
        std::memcpy(&g1, g[i] + q0 + kLanes, sizeof g1);
        const float u0 = u[i * 3], u1 = u[i * 3 + 1], u2 = u[i * 3 + 2];
        a00 += u0 * g0;
        a01 += u0 * g1;
        a10 += u1 * g0;
        a11 += u1 * g1;
        a20 += u2 * g0;
        a21 += u2 * g1;
      }
      std::memcpy(p + q0, &a00, sizeof a00);
      std::memcpy(p + q0 + kLanes, &a01, sizeof a01);
      std::memcpy(p + span + q0, &a10, sizeof a10);
      std::memcpy(p + span + q0 + kLanes, &a11, sizeof a11);
      std::memcpy(p + 2 * span + q0, &a20, sizeof a20);
      std::memcpy(p + 2 * span + q0 + kLanes, &a21, sizeof a21);
    }
  }
  for (int k = 0; k < rank; ++k) {
    for (std::size_t q = q0; q < span; ++q) p[k * span + q] = 0.0f;
  }
  for (int i = 0; i < n_near; ++i) {
    for (int k = 0; k < rank; ++k) {
      const float uk = u[i * rank + k];
      for (std::size_t q = q0; q < span; ++q) p[k * span + q] += uk * g[i][q];
    }
  }
}

// out[q] = Σ_tau Σ_k w[tau*rank + k]·p[k*span + q + tau], tau outer and k inner (from 0.0f).
// Eight independent accumulators hide the latency of the additions.
SPIKESHARD_CLONES void temporal_filter(const float* p, std::size_t span, std::size_t len, int nt0, int rank,
                                       const float* w, float* out) {
  constexpr std::size_t kAcc = 8;
  std::size_t q0 = 0;
  for (; q0 + kAcc * kLanes <= len; q0 += kAcc * kLanes) {
    Lanes a[kAcc] = {};
    for (int t = 0; t < nt0; ++t) {
      for (int k = 0; k < rank; ++k) {
        const float wk = w[t * rank + k];
        const float* pk = p + k * span + q0 + t;
        for (std::size_t v = 0; v < kAcc; ++v) {
          Lanes x;
          std::memcpy(&x, pk + v * kLanes, sizeof x);
          a[v] += wk * x;
        }
      }
    }
    std::memcpy(out + q0, a, sizeof a);
  }
  for (std::size_t q = q0; q < len; ++q) out[q] = 0.0f;
  for (int t = 0; t < nt0; ++t) {
    for (int k = 0; k < rank; ++k) {
      const float wk = w[t * rank + k];
      for (std::size_t q = q0; q < len; ++q) out[q] += wk * p[k * span + q + t];
    }
  }
}

// For t in [0, len): e = (max(c[t], 0) + lmu)²·inv1pl − lmu2; err[t], best[t] ← e, j when e > err[t].
SPIKESHARD_CLONES void best_update(const float* c, std::size_t len, float lmu, float lmu2, float inv1pl,
                                   std::int32_t j, float* err, std::int32_t* best) {
  for (std::size_t t = 0; t < len; ++t) {
    float v = c[t] > 0.0f ? c[t] : 0.0f;
    float q = v + lmu;
    float e = q * q * inv1pl - lmu2;
    bool better = e > err[t];
    err[t] = better ? e : err[t];
    best[t] = better ? j : best[t];
  }
}

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("match_batch: " + what); }

struct Interval {
  std::size_t lo, hi;  // inclusive
};

struct Found {
  std::size_t st;
  std::int32_t id;
  float y, x;
};

class Pursuit {
 public:
  Pursuit(const float* data, std::size_t n_samples, std::size_t n_channels, const TemplateSet& m,
          const MatchOptions& o)
      : m_(m),
        o_(o),
        F_(m.n_templates),
        nC_(n_channels),
        nt0_(m.nt0),
        rank_(m.rank),
        near_(m.n_neighbours),
        L_(static_cast<std::size_t>(m.nt0) - 1),
        nT_(n_samples),
        nValid_(n_samples - m.nt0 + 1),
        residual_(data, data + n_samples * n_channels) {
    prepare();
  }

  MatchResult run();

 private:
  void prepare();
  struct Scratch {
    std::vector<float> p;
    std::vector<const float*> rows;
  };
  void project(std::size_t j, std::size_t a, std::size_t b, Scratch& s);
  void project_all();
  void best_over(std::size_t lo, std::size_t hi);
  std::vector<Found> pick();
  void subtract(const std::vector<Found>& spikes);
  void update_scores(const std::vector<Found>& spikes);
  void outputs(std::vector<Found>& all, MatchResult& r);

  const TemplateSet& m_;
  const MatchOptions& o_;
  std::size_t F_, nC_;
  int nt0_, rank_, near_;
  std::size_t L_, nT_, nValid_;
  std::vector<float> residual_;  // sample-major, as returned
  std::vector<float> columns_;   // the same residual channel-major (nC × nT), read by the filters
  std::vector<float> uc_;     // F × near × rank: U compacted onto each neighbourhood
  std::vector<float> tdense_;  // F × nt0 × near: T_j on its neighbourhood
  std::vector<std::uint8_t> overlap_;  // F × F: neighbourhoods share a channel
  std::vector<float> lmu_, lmu2_;
  float inv1pl_ = 1.0f;
  std::vector<float> c_;  // F × nValid, template-major
  std::vector<float> err_;
  std::vector<std::int32_t> best_;
};

void Pursuit::prepare() {
  uc_.resize(F_ * near_ * rank_);
  tdense_.resize(F_ * nt0_ * near_);
  lmu_.resize(F_);
  lmu2_.resize(F_);
  inv1pl_ = 1.0f / (1.0f + o_.lambda);
  std::vector<std::vector<std::uint64_t>> support(F_, std::vector<std::uint64_t>((nC_ + 63) / 64, 0));
  for (std::size_t j = 0; j < F_; ++j) {
    const std::int32_t* ch = m_.channels_of(j);
    for (int i = 0; i < near_; ++i) {
      support[j][ch[i] / 64] |= std::uint64_t{1} << (ch[i] % 64);
      for (int k = 0; k < rank_; ++k) uc_[(j * near_ + i) * rank_ + k] = m_.U[(j * nC_ + ch[i]) * rank_ + k];
    }
    for (int t = 0; t < nt0_; ++t) {
      for (int i = 0; i < near_; ++i) {
        float v = 0.0f;
        for (int k = 0; k < rank_; ++k) v += m_.W[(j * nt0_ + t) * rank_ + k] * uc_[(j * near_ + i) * rank_ + k];
        tdense_[(j * nt0_ + t) * near_ + i] = v;
      }
    }
    lmu_[j] = o_.lambda * m_.mu[j];
    lmu2_[j] = o_.lambda * m_.mu[j] * m_.mu[j];
  }
  columns_.resize(nC_ * nT_);
  parallel_for(
      (nT_ + kTransposeBlock - 1) / kTransposeBlock,
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t blk = begin; blk < end; ++blk) {
          const std::size_t t0 = blk * kTransposeBlock, nt = std::min(kTransposeBlock, nT_ - t0);
          for (std::size_t c = 0; c < nC_; ++c) {
            for (std::size_t t = 0; t < nt; ++t) columns_[c * nT_ + t0 + t] = residual_[(t0 + t) * nC_ + c];
          }
        }
      },
      o_.threads);
  overlap_.assign(F_ * F_, 0);
  for (std::size_t a = 0; a < F_; ++a) {
    for (std::size_t b = 0; b < F_; ++b) {
      bool any = false;
      for (std::size_t w = 0; w < support[a].size() && !any; ++w) any = (support[a][w] & support[b][w]) != 0;
      overlap_[a * F_ + b] = any ? 1 : 0;
    }
  }
}

// c[j, t] for t ∈ [a, b]: spatial filter per component on the channel-major residual, then the
// temporal filter. Every c value sums in the same order whatever the range, so recomputed windows
// and the full pass agree bitwise.
void Pursuit::project(std::size_t j, std::size_t a, std::size_t b, Scratch& s) {
  const std::size_t len = b - a + 1, span = len + L_;
  s.p.resize(rank_ * span);
  s.rows.resize(near_);
  const std::int32_t* ch = m_.channels_of(j);
  for (int i = 0; i < near_; ++i) s.rows[i] = &columns_[ch[i] * nT_ + a];
  spatial_filter(s.rows.data(), span, near_, rank_, &uc_[j * near_ * rank_], s.p.data());
  temporal_filter(s.p.data(), span, len, nt0_, rank_, m_.W + j * nt0_ * rank_, &c_[j * nValid_ + a]);
}

// Tile-major items, templates in peak-channel order: neighbouring items read the same channels
// over the same stretch of the batch, which then stays in cache.
void Pursuit::project_all() {
  const std::size_t tiles = (nValid_ + kTile - 1) / kTile;
  std::vector<std::size_t> order(F_);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return m_.iW[a] < m_.iW[b]; });
  parallel_for(
      tiles * F_,
      [&](std::size_t begin, std::size_t end) {
        Scratch s;
        for (std::size_t item = begin; item < end; ++item) {
          std::size_t tile = item / F_, j = order[item % F_];
          std::size_t lo = tile * kTile, hi = std::min(nValid_, lo + kTile) - 1;
          project(j, lo, hi, s);
        }
      },
      o_.threads);
}

void Pursuit::best_over(std::size_t lo, std::size_t hi) {
  for (std::size_t t = lo; t <= hi; ++t) {
    err_[t] = -INFINITY;
    best_[t] = 0;
  }
  for (std::size_t j = 0; j < F_; ++j) {
    best_update(&c_[j * nValid_ + lo], hi - lo + 1, lmu_[j], lmu2_[j], inv1pl_, static_cast<std::int32_t>(j),
                &err_[lo], &best_[lo]);
  }
}

std::vector<Found> Pursuit::pick() {
  const float th2 = o_.threshold * o_.threshold;
  const std::size_t tiles = (nValid_ + kTile - 1) / kTile;
  std::vector<std::vector<Found>> per_tile(tiles);
  parallel_for(
      tiles,
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t tile = begin; tile < end; ++tile) {
          std::size_t lo = tile * kTile, hi = std::min(nValid_, lo + kTile);
          for (std::size_t t = lo; t < hi; ++t) {
            const float e = err_[t];
            if (!(e > th2)) continue;
            std::size_t w0 = t >= L_ ? t - L_ : 0, w1 = std::min(nValid_ - 1, t + L_);
            bool peak = true;
            for (std::size_t u = w0; u < t && peak; ++u) peak = err_[u] < e;
            for (std::size_t u = t + 1; u <= w1 && peak; ++u) peak = err_[u] <= e;
            if (peak) {
              std::int32_t id = best_[t];
              per_tile[tile].push_back({t, id, c_[id * nValid_ + t], std::sqrt(e)});
            }
          }
        }
      },
      o_.threads);
  std::vector<Found> out;
  for (auto& v : per_tile) out.insert(out.end(), v.begin(), v.end());
  return out;
}

// The new spikes are ≥ nt0 apart (peak lockout), so their windows are disjoint and each residual
// sample is changed by at most one of them.
void Pursuit::subtract(const std::vector<Found>& spikes) {
  parallel_for(
      spikes.size(),
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t s = begin; s < end; ++s) {
          const Found& f = spikes[s];
          const std::int32_t* ch = m_.channels_of(f.id);
          const float* T = &tdense_[static_cast<std::size_t>(f.id) * nt0_ * near_];
          for (int t = 0; t < nt0_; ++t) {
            float* row = &residual_[(f.st + t) * nC_];
            for (int i = 0; i < near_; ++i) {
              const float v = row[ch[i]] - f.y * T[t * near_ + i];
              row[ch[i]] = v;
              columns_[ch[i] * nT_ + f.st + t] = v;
            }
          }
        }
      },
      o_.threads);
}

std::vector<Interval> merged_windows(const std::vector<Found>& spikes, std::size_t reach, std::size_t n_valid,
                                     const std::uint8_t* keep_row) {
  std::vector<Interval> out;
  for (const Found& f : spikes) {
    if (keep_row != nullptr && keep_row[f.id] == 0) continue;
    std::size_t lo = f.st >= reach ? f.st - reach : 0, hi = std::min(n_valid - 1, f.st + reach);
    if (!out.empty() && lo <= out.back().hi + 1) {
      out.back().hi = std::max(out.back().hi, hi);
    } else {
      out.push_back({lo, hi});
    }
  }
  return out;
}

void Pursuit::update_scores(const std::vector<Found>& spikes) {
  const float* wtw = o_.cross_correlations;
  const std::size_t n_lags = 2 * L_ + 1;
  parallel_for(
      F_,
      [&](std::size_t begin, std::size_t end) {
        Scratch scratch;
        for (std::size_t b = begin; b < end; ++b) {
          if (wtw == nullptr) {
            // overlap_ is symmetric: row b lists the templates whose spikes can change c[b, ·].
            for (const Interval& w : merged_windows(spikes, L_, nValid_, &overlap_[b * F_])) {
              project(b, w.lo, w.hi, scratch);
            }
            continue;
          }
          float* cb = &c_[b * nValid_];
          for (const Found& f : spikes) {
            if (overlap_[b * F_ + f.id] == 0) continue;
            const float* x = &wtw[(static_cast<std::size_t>(f.id) * F_ + b) * n_lags];
            std::size_t lo = f.st >= L_ ? f.st - L_ : 0, hi = std::min(nValid_ - 1, f.st + L_);
            // Δc_b(t) = −y·WtW[id, b, st − t], lag index st − t + nt0 − 1.
            for (std::size_t t = lo; t <= hi; ++t) cb[t] -= f.y * x[f.st + L_ - t];
          }
        }
      },
      o_.threads);
  std::vector<Interval> windows = merged_windows(spikes, L_, nValid_, nullptr);
  parallel_for(
      windows.size(),
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t w = begin; w < end; ++w) best_over(windows[w].lo, windows[w].hi);
      },
      o_.threads);
}

MatchResult Pursuit::run() {
  MatchResult r;
  c_.assign(F_ * nValid_, 0.0f);
  err_.assign(nValid_, -INFINITY);
  best_.assign(nValid_, 0);
  std::vector<Found> all;
  if (F_ > 0) {
    project_all();
    const std::size_t tiles = (nValid_ + kTile - 1) / kTile;
    parallel_for(
        tiles,
        [&](std::size_t begin, std::size_t end) {
          for (std::size_t tile = begin; tile < end; ++tile) {
            best_over(tile * kTile, std::min(nValid_, (tile + 1) * kTile) - 1);
          }
        },
        o_.threads);
    for (int iter = 0; iter < o_.inner_iterations; ++iter) {
      std::vector<Found> found = pick();
      if (found.empty()) break;
      if (all.size() + found.size() > o_.max_spikes) {
        found.resize(o_.max_spikes - all.size());
        r.capped = true;
      }
      if (found.empty()) break;
      subtract(found);
      update_scores(found);
      all.insert(all.end(), found.begin(), found.end());
      r.iterations = iter + 1;
      if (r.capped) break;
    }
  }
  r.spikes_found = all.size();
  outputs(all, r);
  return r;
}

void Pursuit::outputs(std::vector<Found>& all, MatchResult& r) {
  std::stable_sort(all.begin(), all.end(), [](const Found& a, const Found& b) {
    if (a.st != b.st) return a.st < b.st;
    if (a.id != b.id) return a.id < b.id;
    return a.y < b.y;
  });
  std::vector<Found> own;
  const std::size_t first = o_.halo_samples, last = o_.halo_samples + o_.own_samples;
  for (const Found& f : all) {
    std::size_t trough = f.st + static_cast<std::size_t>(m_.nt0min);
    if (trough >= first && trough < last) own.push_back(f);
  }
  const std::size_t n = own.size();
  r.sample.resize(n);
  r.template_id.resize(n);
  r.amplitude.resize(n);
  r.score.resize(n);
  for (std::size_t s = 0; s < n; ++s) {
    r.sample[s] = static_cast<std::int32_t>(own[s].st + m_.nt0min - first);
    r.template_id[s] = own[s].id;
    r.amplitude[s] = own[s].y;
    r.score[s] = own[s].x;
  }

  if (o_.snippet_sums) {
    r.snippet_sums.assign(F_ * nt0_ * nC_, 0.0);
    r.snippet_counts.assign(F_, 0);
    std::vector<std::vector<std::size_t>> by_template(F_);
    for (std::size_t s = 0; s < n; ++s) {
      if (own[s].x > o_.learn_threshold) by_template[own[s].id].push_back(s);
    }
    parallel_for(
        F_,
        [&](std::size_t begin, std::size_t end) {
          std::vector<double> row(nC_);
          for (std::size_t j = begin; j < end; ++j) {
            const std::int32_t* ch = m_.channels_of(j);
            const float* T = &tdense_[j * nt0_ * near_];
            for (std::size_t s : by_template[j]) {
              const double y = own[s].y;
              for (int t = 0; t < nt0_; ++t) {
                const float* res = &residual_[(own[s].st + t) * nC_];
                for (std::size_t c = 0; c < nC_; ++c) row[c] = res[c];
                for (int i = 0; i < near_; ++i) row[ch[i]] += y * T[t * near_ + i];
                double* sum = &r.snippet_sums[(j * nt0_ + t) * nC_];
                for (std::size_t c = 0; c < nC_; ++c) sum[c] += row[c];
              }
            }
            r.snippet_counts[j] = static_cast<std::int32_t>(by_template[j].size());
          }
        },
        o_.threads);
  }

  if (o_.similar != nullptr) {
    const int ns = o_.n_similar;
    // cross[j*ns + m] = ⟨T_j, T_n⟩ at zero lag, n = iList[j, m].
    std::vector<double> cross(F_ * ns, 0.0);
    parallel_for(
        F_,
        [&](std::size_t begin, std::size_t end) {
          for (std::size_t j = begin; j < end; ++j) {
            const std::int32_t* ch = m_.channels_of(j);
            for (int mm = 0; mm < ns; ++mm) {
              const std::size_t nb = static_cast<std::size_t>(o_.similar[j * ns + mm]);
              double acc = 0.0;
              for (int t = 0; t < nt0_; ++t) {
                for (int i = 0; i < near_; ++i) {
                  double tn = 0.0;
                  for (int k = 0; k < rank_; ++k) {
                    tn += static_cast<double>(m_.W[(nb * nt0_ + t) * rank_ + k]) * m_.U[(nb * nC_ + ch[i]) * rank_ + k];
                  }
                  acc += tdense_[(j * nt0_ + t) * near_ + i] * tn;
                }
              }
              cross[j * ns + mm] = acc;
            }
          }
        },
        o_.threads);
    r.template_features.assign(n * ns, 0.0f);
    parallel_for(
        n,
        [&](std::size_t begin, std::size_t end) {
          for (std::size_t s = begin; s < end; ++s) {
            const Found& f = own[s];
            for (int mm = 0; mm < ns; ++mm) {
              const std::size_t nb = static_cast<std::size_t>(o_.similar[f.id * ns + mm]);
              const std::int32_t* ch = m_.channels_of(nb);
              const float* T = &tdense_[nb * nt0_ * near_];
              double acc = 0.0;
              for (int t = 0; t < nt0_; ++t) {
                const float* res = &residual_[(f.st + t) * nC_];
                for (int i = 0; i < near_; ++i) acc += static_cast<double>(res[ch[i]]) * T[t * near_ + i];
              }
              acc += static_cast<double>(f.y) * cross[f.id * ns + mm];
              r.template_features[s * ns + mm] = static_cast<float>(acc);
            }
          }
        },
        o_.threads);
  }

  if (o_.pcs != nullptr) {
    const int np = o_.n_pcs;
    r.pc_features.assign(n * np * near_, 0.0f);
    parallel_for(
        n,
        [&](std::size_t begin, std::size_t end) {
          std::vector<double> acc(static_cast<std::size_t>(np) * near_);
          for (std::size_t s = begin; s < end; ++s) {
            const Found& f = own[s];
            const std::int32_t* ch = m_.channels_of(f.id);
            const float* T = &tdense_[static_cast<std::size_t>(f.id) * nt0_ * near_];
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int t = 0; t < nt0_; ++t) {
              const float* res = &residual_[(f.st + t) * nC_];
              for (int i = 0; i < near_; ++i) {
                const double v = static_cast<double>(res[ch[i]]) + static_cast<double>(f.y) * T[t * near_ + i];
                for (int q = 0; q < np; ++q) acc[q * near_ + i] += v * o_.pcs[t * np + q];
              }
            }
            for (std::size_t q = 0; q < acc.size(); ++q) r.pc_features[s * acc.size() + q] = static_cast<float>(acc[q]);
          }
        },
        o_.threads);
  }
  r.residual = std::move(residual_);
}

}  // namespace

MatchResult match_batch(const float* data, std::size_t n_samples, std::size_t n_channels, const TemplateSet& model,
                        const MatchOptions& o) {
  model.validate();
  if (n_channels != model.n_channels) {
    bad("the batch has " + std::to_string(n_channels) + " channels, the templates " +
        std::to_string(model.n_channels));
  }
  if (n_samples < static_cast<std::size_t>(model.nt0)) {
    bad("the batch has " + std::to_string(n_samples) + " samples, fewer than one template window (" +
        std::to_string(model.nt0) + ")");
  }
  if (o.halo_samples + o.own_samples > n_samples) {
    bad("halo_samples + own_samples = " + std::to_string(o.halo_samples + o.own_samples) + " exceeds the " +
        std::to_string(n_samples) + " samples of the batch");
  }
  if (n_samples > static_cast<std::size_t>(INT32_MAX)) bad("batch too long for int32 sample indices");
  if (!(o.threshold >= 0.0f)) bad("threshold must be ≥ 0");
  if (!(o.lambda >= 0.0f) || !std::isfinite(o.lambda)) bad("lambda must be finite and ≥ 0");
  if (std::isnan(o.learn_threshold)) bad("learn_threshold is NaN");
  if (o.inner_iterations < 0) bad("inner_iterations must be ≥ 0");
  for (std::size_t j = 0; j < model.n_templates; ++j) {
    if (!(model.mu[j] >= 0.0f)) bad("mu[" + std::to_string(j) + "] must be ≥ 0");
  }
  if (o.similar != nullptr) {
    if (o.n_similar < 1) bad("n_similar must be ≥ 1 when template features are requested");
    for (std::size_t i = 0; i < model.n_templates * o.n_similar; ++i) {
      if (o.similar[i] < 0 || static_cast<std::size_t>(o.similar[i]) >= model.n_templates) {
        bad("similar-template index " + std::to_string(o.similar[i]) + " is not a template");
      }
    }
  }
  if (o.pcs != nullptr && o.n_pcs < 1) bad("n_pcs must be ≥ 1 when PC features are requested");
  for (std::size_t i = 0; i < n_samples * n_channels; ++i) {
    if (!std::isfinite(data[i])) {
      bad("the batch holds a non-finite value at sample " + std::to_string(i / n_channels) + ", channel " +
          std::to_string(i % n_channels));
    }
  }
  if (o.derive_cross_correlations && o.cross_correlations != nullptr) {
    bad("derive_cross_correlations needs cross_correlations to be null (given both)");
  }
  if (o.derive_cross_correlations && model.n_templates > 0) {
    const TemplateCorrelations derived = template_correlations(model, 1, o.threads);
    MatchOptions with = o;
    with.cross_correlations = derived.WtW.data();
    with.derive_cross_correlations = false;
    Pursuit pursuit(data, n_samples, n_channels, model, with);
    return pursuit.run();
  }
  Pursuit pursuit(data, n_samples, n_channels, model, o);
  return pursuit.run();
}

}  // namespace spikeshard

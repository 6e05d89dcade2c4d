// SPDX-License-Identifier: GPL-3.0-or-later
// New-template proposals on a residual (algorithm: include/spikeshard/templates.h, propose_templates).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "spikeshard/templates.h"
#include "matching_simd.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("propose_templates: " + what); }

// Window starts per work item: the per-item filter outputs (prototypes × channels × tile floats)
// stay cache-sized for 384 channels.
constexpr std::size_t kTile = 128;

using simd::kLanes;
using simd::Lanes;

// out[q] = Σ_tau w[tau*stride]·x[q + tau] for q < len, tau ascending (from 0.0f).
SPIKESHARD_CLONES void fir(const float* x, std::size_t len, const float* w, std::size_t stride, int nt0, float* out) {
  constexpr std::size_t kAcc = 8;
  std::size_t q0 = 0;
  for (; q0 + kAcc * kLanes <= len; q0 += kAcc * kLanes) {
    Lanes a[kAcc] = {};
    for (int t = 0; t < nt0; ++t) {
      const float wt = w[t * stride];
      for (std::size_t v = 0; v < kAcc; ++v) {
        Lanes xv;
        std::memcpy(&xv, x + q0 + t + v * kLanes, sizeof xv);
        a[v] += wt * xv;
      }
    }
    std::memcpy(out + q0, a, sizeof a);
  }
  for (std::size_t q = q0; q < len; ++q) out[q] = 0.0f;
  for (int t = 0; t < nt0; ++t) {
    const float wt = w[t * stride];
    for (std::size_t q = q0; q < len; ++q) out[q] += wt * x[q + t];
  }
}

}  // namespace

Proposals propose_templates(const float* data, std::size_t n_samples, std::size_t n_channels, const float* prototypes,
                            int n_prototypes, const std::int32_t* iC, int n_neighbours, const ProposalOptions& o) {
  const int nt0 = o.nt0;
  if (nt0 < 1 || o.nt0min < 0 || o.nt0min >= nt0) bad("need nt0 ≥ 1 and 0 ≤ nt0min < nt0");
  if (n_channels == 0) bad("no channels");
  if (n_samples < static_cast<std::size_t>(nt0)) bad("the batch is shorter than one template window");
  if (n_samples > static_cast<std::size_t>(INT32_MAX)) bad("batch too long for int32 sample indices");
  if (n_prototypes < 1) bad("need at least one prototype");
  if (n_neighbours < 1 || static_cast<std::size_t>(n_neighbours) > n_channels) bad("n_neighbours out of range");
  if (o.n_sum < 1 || o.n_sum > n_neighbours) {
    bad("n_sum must be in [1, n_neighbours = " + std::to_string(n_neighbours) + "], got " + std::to_string(o.n_sum));
  }
  if (o.channel_radius < 0) bad("channel_radius must be ≥ 0");
  if (!(o.threshold >= 0.0f)) bad("threshold must be ≥ 0");
  if (o.halo_samples + o.own_samples > n_samples) bad("halo_samples + own_samples exceeds the batch");
  for (std::size_t i = 0; i < n_channels * n_neighbours; ++i) {
    if (iC[i] < 0 || static_cast<std::size_t>(iC[i]) >= n_channels) bad("iC holds a channel index out of range");
  }
  for (std::size_t i = 0; i < static_cast<std::size_t>(nt0) * n_prototypes; ++i) {
    if (!std::isfinite(prototypes[i])) bad("prototypes contain a non-finite value");
  }

  for (std::size_t i = 0; i < n_samples * n_channels; ++i) {
    if (!std::isfinite(data[i])) {
      bad("the batch holds a non-finite value at sample " + std::to_string(i / n_channels) + ", channel " +
          std::to_string(i % n_channels));
    }
  }

  const std::size_t n_valid = n_samples - nt0 + 1, L = static_cast<std::size_t>(nt0) - 1;
  std::vector<float> err(n_valid);
  std::vector<std::int32_t> chan(n_valid);
  const std::size_t tiles = (n_valid + kTile - 1) / kTile;
  parallel_for(
      tiles,
      [&](std::size_t begin, std::size_t end) {
        std::vector<float> x, conv, score, best_c, s;
        for (std::size_t tile = begin; tile < end; ++tile) {
          const std::size_t lo = tile * kTile, len = std::min(n_valid, lo + kTile) - lo, span = len + L;
          x.resize(n_channels * span);
          for (std::size_t q = 0; q < span; ++q) {
            const float* row = data + (lo + q) * n_channels;
            for (std::size_t c = 0; c < n_channels; ++c) x[c * span + q] = row[c];
          }
          // conv[(r*nC + c)*len + q] = Σ_tau wTEMP[tau, r]·x[c, q + tau]
          conv.resize(static_cast<std::size_t>(n_prototypes) * n_channels * len);
          for (int r = 0; r < n_prototypes; ++r) {
            for (std::size_t c = 0; c < n_channels; ++c) {
              fir(&x[c * span], len, prototypes + r, n_prototypes, nt0, &conv[(r * n_channels + c) * len]);
            }
          }
          score.assign(len, -INFINITY);
          best_c.resize(len);
          s.resize(len);
          for (std::size_t q = 0; q < len; ++q) chan[lo + q] = 0;
          for (std::size_t c = 0; c < n_channels; ++c) {
            const std::int32_t* nb = iC + c * n_neighbours;
            std::fill(best_c.begin(), best_c.end(), -INFINITY);
            for (int r = 0; r < n_prototypes; ++r) {
              std::fill(s.begin(), s.end(), 0.0f);
              for (int jn = 0; jn < o.n_sum; ++jn) {
                const float* cv = &conv[(r * n_channels + nb[jn]) * len];
                const float inv = 1.0f / static_cast<float>(jn + 1);
                for (std::size_t q = 0; q < len; ++q) {
                  s[q] += cv[q];
                  best_c[q] = std::max(best_c[q], s[q] * s[q] * inv);
                }
              }
            }
            for (std::size_t q = 0; q < len; ++q) {
              if (best_c[q] > score[q]) {
                score[q] = best_c[q];
                chan[lo + q] = static_cast<std::int32_t>(c);
              }
            }
          }
          std::copy(score.begin(), score.end(), &err[lo]);
        }
      },
      o.threads);

  Proposals out;
  const std::vector<std::size_t> starts = select_proposals(err.data(), chan.data(), n_valid, n_channels, o, out);
  for (std::size_t i = 0; i < starts.size(); ++i) {
    std::copy(data + starts[i] * n_channels, data + (starts[i] + nt0) * n_channels,
              &out.snippets[i * nt0 * n_channels]);
  }
  return out;
}

}  // namespace spikeshard

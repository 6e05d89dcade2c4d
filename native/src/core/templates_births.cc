// SPDX-License-Identifier: GPL-3.0-or-later
// Births of a learning round: the proposals are smoothed and compared with the templates in
// parallel, then taken in order against each other, which is the only part that depends on an
// earlier answer. The rule is in spikeshard/templates.h.
#include <atomic>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "spikeshard/templates.h"
#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("select_births: " + what); }

// Projection of each channel's trace on the temporal PCs and back. The dot products are
// accumulated with the channel innermost (so the loop vectorises over channels) but each one
// still receives its terms in sample order; each output sums its terms in PC order.
void smooth(const float* snippet, std::size_t nC, const float* pcs, int n_pcs, int nt0, double* dot, double* out) {
  const std::size_t n_dot = static_cast<std::size_t>(n_pcs) * nC;
  for (std::size_t k = 0; k < n_dot; ++k) dot[k] = 0.0;
  for (int t = 0; t < nt0; ++t) {
    const float* s = snippet + static_cast<std::size_t>(t) * nC;
    for (int p = 0; p < n_pcs; ++p) {
      const double w = pcs[t * n_pcs + p];
      double* d = dot + static_cast<std::size_t>(p) * nC;
      for (std::size_t c = 0; c < nC; ++c) d[c] += static_cast<double>(s[c]) * w;
    }
  }
  for (int t = 0; t < nt0; ++t) {
    double* o = out + static_cast<std::size_t>(t) * nC;
    for (std::size_t c = 0; c < nC; ++c) o[c] = 0.0;
    for (int p = 0; p < n_pcs; ++p) {
      const double w = pcs[t * n_pcs + p];
      const double* d = dot + static_cast<std::size_t>(p) * nC;
      // A zero dot adds nothing, and is skipped rather than added: 0 + (−0) would be +0.
      for (std::size_t c = 0; c < nC; ++c) {
        if (d[c] != 0.0) o[c] += d[c] * w;
      }
    }
  }
}

// The smoothed proposal on its neighbourhood, packed (nt0 × n_near, neighbourhood order), and Σa²
// over it, sample by sample, channels in neighbourhood order.
double pack(const double* wave, std::size_t nC, const std::int32_t* hood, int n_near, int nt0, double* packed) {
  double aa = 0.0;
  for (int t = 0; t < nt0; ++t) {
    const double* row = wave + static_cast<std::size_t>(t) * nC;
    double* out = packed + static_cast<std::size_t>(t) * n_near;
    for (int i = 0; i < n_near; ++i) {
      const double x = row[hood[i]];
      out[i] = x;
      aa += x * x;
    }
  }
  return aa;
}

// The duplicate test of one proposal against a waveform b, from the two sums over the neighbourhood.
bool duplicate(double aa, double ab, double bb, const BirthOptions& o) {
  double cc = 0.0, ratio = 0.0;
  if (aa != 0.0 && bb != 0.0) {
    cc = ab / std::sqrt(aa * bb);
    // Where either is NaN, cc is NaN and the test below fails whatever the ratio.
    ratio = std::sqrt((aa < bb ? aa : bb) / (aa < bb ? bb : aa));
  }
  return cc > o.max_correlation && ratio > o.min_ratio;
}

// One waveform b against up to kLanes packed proposals, each over its own neighbourhood. Each
// lane's Σab and Σbb get their terms in the serial order (sample, then neighbourhood); the lanes
// only interleave independent chains, which hides the latency of the additions.
constexpr int kLanes = 4;
struct Lane {
  const double* packed;
  const std::int32_t* hood;
  double aa;
};
void compare(const double* b, std::size_t nC, const Lane* lanes, int n_lanes, const BirthOptions& o, bool* out) {
  double ab[kLanes] = {0.0, 0.0, 0.0, 0.0}, bb[kLanes] = {0.0, 0.0, 0.0, 0.0};
  const int n_near = o.n_neighbours;
  if (n_lanes == kLanes) {
    for (int t = 0; t < o.nt0; ++t) {
      const double* row = b + static_cast<std::size_t>(t) * nC;
      const std::size_t at = static_cast<std::size_t>(t) * n_near;
      for (int i = 0; i < n_near; ++i) {
        for (int l = 0; l < kLanes; ++l) {
          const double x = lanes[l].packed[at + i];
          const double y = row[lanes[l].hood[i]];
          ab[l] += x * y;
          bb[l] += y * y;
        }
      }
    }
  } else {
    for (int l = 0; l < n_lanes; ++l) {
      for (int t = 0; t < o.nt0; ++t) {
        const double* row = b + static_cast<std::size_t>(t) * nC;
        const std::size_t at = static_cast<std::size_t>(t) * n_near;
        for (int i = 0; i < n_near; ++i) {
          const double x = lanes[l].packed[at + i];
          const double y = row[lanes[l].hood[i]];
          ab[l] += x * y;
          bb[l] += y * y;
        }
      }
    }
  }
  for (int l = 0; l < n_lanes; ++l) out[l] = duplicate(lanes[l].aa, ab[l], bb[l], o);
}

}  // namespace

std::vector<std::size_t> select_births(const double* const* means, std::size_t n_templates, std::size_t n_channels,
                                       const float* const* proposals, const std::int32_t* proposal_channels,
                                       std::size_t n_proposals, const float* pcs, const std::int32_t* iC,
                                       const BirthOptions& o, double* const* smoothed) {
  const std::size_t nC = n_channels;
  if (nC == 0) bad("no channels");
  if (o.nt0 < 1 || o.nt0min < 0 || o.nt0min >= o.nt0) bad("nt0min must be in [0, nt0)");
  if (pcs == nullptr || iC == nullptr) bad("pcs and iC are required");
  if (o.n_pcs < 1) bad("n_pcs must be ≥ 1, got " + std::to_string(o.n_pcs));
  if (o.n_neighbours < 1 || static_cast<std::size_t>(o.n_neighbours) > nC) {
    bad("n_neighbours must be in [1, n_channels], got " + std::to_string(o.n_neighbours));
  }
  for (std::size_t k = 0; k < nC * o.n_neighbours; ++k) {
    if (iC[k] < 0 || static_cast<std::size_t>(iC[k]) >= nC) bad("iC holds channel " + std::to_string(iC[k]));
  }
  for (std::size_t j = 0; j < n_templates; ++j) {
    if (means[j] == nullptr) bad("mean " + std::to_string(j) + " is null");
  }
  for (std::size_t i = 0; i < n_proposals; ++i) {
    if (proposals[i] == nullptr || smoothed[i] == nullptr) bad("proposal " + std::to_string(i) + " is null");
    if (proposal_channels[i] < 0 || static_cast<std::size_t>(proposal_channels[i]) >= nC) {
      bad("proposal " + std::to_string(i) + " has peak channel " + std::to_string(proposal_channels[i]) +
          ", expected one in [0, " + std::to_string(nC) + ")");
    }
  }
  std::vector<std::size_t> born;
  if (n_proposals == 0) return born;

  // Peak channels of the templates (the rule of peak_channels, on rows held apart).
  std::vector<std::int32_t> peak(n_templates);
  parallel_for(
      n_templates,
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t j = begin; j < end; ++j) {
          const double* row = means[j] + static_cast<std::size_t>(o.nt0min) * nC;
          std::size_t best = 0;
          for (std::size_t c = 1; c < nC; ++c) {
            if (std::fabs(row[c]) > std::fabs(row[best])) best = c;
          }
          peak[j] = static_cast<std::int32_t>(best);
        }
      },
      o.threads);

  // Each proposal smoothed, and packed on its neighbourhood.
  const std::size_t n_near = static_cast<std::size_t>(o.n_neighbours);
  const std::size_t packed_size = static_cast<std::size_t>(o.nt0) * n_near;
  std::vector<double> packed(n_proposals * packed_size), energies(n_proposals);
  parallel_for(
      n_proposals,
      [&](std::size_t begin, std::size_t end) {
        std::vector<double> dot(static_cast<std::size_t>(o.n_pcs) * nC);
        for (std::size_t i = begin; i < end; ++i) {
          smooth(proposals[i], nC, pcs, o.n_pcs, o.nt0, dot.data(), smoothed[i]);
          const std::int32_t* hood = iC + static_cast<std::size_t>(proposal_channels[i]) * n_near;
          energies[i] = pack(smoothed[i], nC, hood, o.n_neighbours, o.nt0, &packed[i * packed_size]);
        }
      },
      o.threads);

  // The proposals whose neighbourhood holds each channel, ascending.
  std::vector<std::vector<std::size_t>> seen_from(nC);
  for (std::size_t i = 0; i < n_proposals; ++i) {
    const std::int32_t* hood = iC + static_cast<std::size_t>(proposal_channels[i]) * n_near;
    for (std::size_t h = 0; h < n_near; ++h) {
      std::vector<std::size_t>& list = seen_from[hood[h]];
      if (list.empty() || list.back() != i) list.push_back(i);
    }
  }
  // Templates against proposals, one template per thread at a time: a template (187 KB at 384
  // channels) is read from memory once for all the proposals that see it, where a loop over
  // proposals read ~100 templates per proposal. Whether a proposal repeats some template is an
  // OR, so the order in which the pairs are visited does not matter.
  std::vector<std::atomic<bool>> repeats_template(n_proposals);
  for (auto& r : repeats_template) r.store(false, std::memory_order_relaxed);
  parallel_for(
      n_templates,
      [&](std::size_t begin, std::size_t end) {
        Lane lanes[kLanes];
        std::size_t which[kLanes];
        bool found[kLanes];
        for (std::size_t j = begin; j < end; ++j) {
          const std::vector<std::size_t>& list = seen_from[peak[j]];
          std::size_t next = 0;
          while (next < list.size()) {
            int n = 0;
            for (; next < list.size() && n < kLanes; ++next) {
              const std::size_t i = list[next];
              if (repeats_template[i].load(std::memory_order_relaxed)) continue;
              which[n] = i;
              lanes[n] = {&packed[i * packed_size], iC + static_cast<std::size_t>(proposal_channels[i]) * n_near,
                          energies[i]};
              ++n;
            }
            if (n == 0) break;
            compare(means[j], nC, lanes, n, o, found);
            for (int l = 0; l < n; ++l) {
              if (found[l]) repeats_template[which[l]].store(true, std::memory_order_relaxed);
            }
          }
        }
      },
      o.threads);

  // In proposal order: an earlier birth of this round may make a later proposal a duplicate.
  std::vector<unsigned char> near(nC, 0);
  for (std::size_t i = 0; i < n_proposals && born.size() < o.max_births; ++i) {
    if (repeats_template[i].load(std::memory_order_relaxed)) continue;
    const std::int32_t* hood = iC + static_cast<std::size_t>(proposal_channels[i]) * n_near;
    for (std::size_t h = 0; h < n_near; ++h) near[hood[h]] = 1;
    const Lane lane = {&packed[i * packed_size], hood, energies[i]};
    bool found = false;
    for (std::size_t k = 0; k < born.size() && !found; ++k) {
      const std::size_t j = born[k];
      if (near[proposal_channels[j]]) compare(smoothed[j], nC, &lane, 1, o, &found);
    }
    for (std::size_t h = 0; h < n_near; ++h) near[hood[h]] = 0;
    if (!found) born.push_back(i);
  }
  return born;
}

}  // namespace spikeshard

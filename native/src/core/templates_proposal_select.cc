// SPDX-License-Identifier: GPL-3.0-or-later
// The peak picking and whole-batch suppression of propose_templates, shared by the CPU
// (templates_proposals.cc) and the CUDA backend, which computes err and chan on the device and
// runs this part on the host; one copy keeps the two backends' proposals identical.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "spikeshard/templates.h"

namespace spikeshard {

std::vector<std::size_t> select_proposals(const float* err, const std::int32_t* chan, std::size_t n_starts,
                                          std::size_t n_channels, const ProposalOptions& o, Proposals& out) {
  struct Peak {
    std::size_t st;
    std::int32_t ch;
    float e;
  };
  const std::size_t L = static_cast<std::size_t>(o.nt0) - 1;
  const float th2 = o.threshold * o.threshold;
  std::vector<Peak> peaks;
  const std::size_t first = o.halo_samples, last = o.halo_samples + o.own_samples;
  for (std::size_t t = 0; t < n_starts; ++t) {
    const float e = err[t];
    if (!(e > th2)) continue;
    const std::size_t trough = t + o.nt0min;
    if (trough < first || trough >= last) continue;
    std::size_t w0 = t >= L ? t - L : 0, w1 = std::min(n_starts - 1, t + L);
    bool peak = true;
    for (std::size_t u = w0; u < t && peak; ++u) peak = err[u] < e;
    for (std::size_t u = t + 1; u <= w1 && peak; ++u) peak = err[u] <= e;
    if (peak) peaks.push_back({t, chan[t], e});
  }
  // Spatial suppression over the whole batch (not greedy: a peak is dropped by any stronger peak
  // nearby, even one that is itself dropped).
  std::vector<Peak> kept;
  for (const Peak& p : peaks) {
    bool keep = true;
    for (const Peak& q : peaks) {
      if (&q == &p || std::abs(q.ch - p.ch) > o.channel_radius) continue;
      const bool stronger = q.e > p.e || (q.e == p.e && (q.st < p.st || (q.st == p.st && q.ch < p.ch)));
      if (stronger) {
        keep = false;
        break;
      }
    }
    if (keep) kept.push_back(p);
  }
  // peaks are in time order with one per window start, so kept is already sorted by (time, channel).
  out.capped = false;
  if (kept.size() > o.max_proposals) {
    kept.resize(o.max_proposals);
    out.capped = true;
  }
  const std::size_t n = kept.size();
  out.sample.resize(n);
  out.channel.resize(n);
  out.score.resize(n);
  out.snippets.resize(n * o.nt0 * n_channels);
  std::vector<std::size_t> starts(n);
  for (std::size_t i = 0; i < n; ++i) {
    out.sample[i] = static_cast<std::int32_t>(kept[i].st + o.nt0min - first);
    out.channel[i] = kept[i].ch;
    out.score[i] = std::sqrt(kept[i].e);
    starts[i] = kept[i].st;
  }
  return starts;
}

}  // namespace spikeshard

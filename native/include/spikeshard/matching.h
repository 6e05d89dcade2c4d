// SPDX-License-Identifier: GPL-3.0-or-later
// Matching pursuit of one batch against a template model (Kilosort 2.5's mexMPnu8, §4.5 of
// ks25-algorithm.md). Template layouts and symbols: include/spikeshard/templates.h.
//
// Model: a data window d starting at st is explained as y·T_j plus noise, with a Gaussian prior of
// weight λ on the amplitude around mu_j. With c = ⟨d, T_j⟩ the cost reduction of that explanation is
//   E_j = (max(c, 0) + λ·mu_j)² / (1 + λ) − λ·mu_j².
// Steps:
//  1. c[j, t] = Σ_tau Σ_{i<32} T_j[tau, iC[iW_j, i]]·x[t + tau, iC[iW_j, i]] for every window start
//     t ∈ [0, n_samples − nt0] (spatial then temporal filter; float32, fixed summation order).
//  2. err[t] = max_j E_j(c[j, t]), best[t] = argmax (lowest j on ties).
//  3. Up to inner_iterations times, until no new spike: new spikes are the t with err[t] > Th² and no
//     larger err within ±(nt0 − 1) (the earlier start wins ties); each gets id = best[t],
//     amplitude y = c[id, t] (raw projection) and score x = sqrt(err[t]). The new spikes (at least
//     nt0 apart, so their windows are disjoint) are subtracted from the residual (y·T_id), then c
//     is brought up to date for every template whose neighbourhood shares a channel with the
//     spike's, over the FULL affected range of window starts st − (nt0−1) … st + (nt0−1) (the
//     reference left lag +nt0−1 stale), and err/best are recomputed there.
//     c is updated either by recomputing the filters on the residual, or, when cross_correlations
//     (WtW of template_correlations) is given, exactly by c_b(t) −= y·WtW[id, b, st − t]; both agree
//     up to float rounding.
//  4. Ownership (halos): a spike belongs to this batch iff its trough st + nt0min lies in
//     [halo_samples, halo_samples + own_samples). Spikes in the halos are found and subtracted
//     (they shape the residual near the edges) but not reported, so adjacent batches whose halos
//     cover each other's edges report every spike exactly once.
//  5. Outputs for owned spikes, sorted by (time, template, amplitude):
//     - sample (trough, relative to the first own sample), template, amplitude y, score x;
//     - snippet_sums[j, tau, c] = Σ over owned spikes of j with x > learn_threshold of
//       residual[st + tau, c] + y·T_j[tau, c] (float64, all channels), snippet_counts[j]: the
//       sufficient statistics of the template update, pooled by the coordinator;
//     - template features (when `similar`, iList F × n_similar, is given):
//       ⟨residual window + y·T_id, T_n⟩ for the n_similar templates n = iList[id, m], i.e. the
//       projections of the spike, with every other spike removed, at its own window start;
//     - PC features (when `pcs`, wPCA nt0 × n_pcs, is given), on the template's neighbourhood
//       channels iC[iW_id, i]: featPC[s, p, i] = y·⟨T_id[:, ch], pc_p⟩ + ⟨residual[st…, ch], pc_p⟩.
//  All spikes, owned or not, are subtracted in the returned residual (n_samples × n_channels).
// Deterministic; bitwise independent of the thread count.
#ifndef SPIKESHARD_MATCHING_H_
#define SPIKESHARD_MATCHING_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "spikeshard/templates.h"

namespace spikeshard {

struct MatchOptions {
  float threshold = 6.0f;        // Th: a spike needs sqrt(E) > threshold
  float lambda = 10.0f;          // λ: weight of the amplitude prior
  float learn_threshold = 6.0f;  // spikes with x above it enter snippet_sums
  int inner_iterations = 60;
  std::size_t halo_samples = 0;
  std::size_t own_samples = 0;
  std::size_t max_spikes = 100000;  // over the whole buffer, halos included; `capped` says it was hit
  bool snippet_sums = true;
  const std::int32_t* similar = nullptr;  // iList, F × n_similar; enables template features
  int n_similar = 0;
  const float* pcs = nullptr;  // wPCA, nt0 × n_pcs; enables PC features
  int n_pcs = 0;
  const float* cross_correlations = nullptr;  // WtW, F × F × (2·nt0 − 1); exact score updates
  // Exact score updates with WtW derived from the model where the match runs (cross_correlations
  // must be null): the CUDA backend computes it on the device and keeps it with a resident model,
  // so the host never holds its F² × (2·nt0 − 1) floats; the CPU computes template_correlations per
  // call (callers that match many batches against one model pass the array instead).
  bool derive_cross_correlations = false;
  int threads = 0;
};

struct MatchResult {
  std::vector<std::int32_t> sample;
  std::vector<std::int32_t> template_id;
  std::vector<float> amplitude;
  std::vector<float> score;
  std::vector<float> residual;
  std::vector<double> snippet_sums;         // F × nt0 × nC (empty unless requested)
  std::vector<std::int32_t> snippet_counts;  // F (empty unless requested)
  std::vector<float> template_features;     // n × n_similar
  std::vector<float> pc_features;           // n × n_pcs × n_neighbours
  std::size_t spikes_found = 0;             // halos included
  int iterations = 0;                       // inner iterations that found spikes
  bool capped = false;
};

MatchResult match_batch(const float* data, std::size_t n_samples, std::size_t n_channels, const TemplateSet& model,
                        const MatchOptions& options);

}  // namespace spikeshard

#endif  // SPIKESHARD_MATCHING_H_

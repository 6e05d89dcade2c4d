// SPDX-License-Identifier: GPL-3.0-or-later
// The template model of Kilosort 2.5 (learnAndSolve8b) and the kernels that build and compare it:
// channel neighbourhoods, low-rank factorisation of mean waveforms, template cross-correlations,
// and new-template proposals found on a residual.
//
// Glossary (the algorithm's own symbols, kept because every description of it uses them):
//   F       number of templates;  nC  number of channels;  nt0  samples per template (61);
//   nt0min  index of the trough inside a template window (20);  rank  temporal components (3);
//   nNear   channels per neighbourhood (32).
//   W   temporal components, float32, F × nt0 × rank:        W[(j*nt0 + tau)*rank + k]
//   U   spatial components, float32, F × nC × rank:          U[(j*nC + c)*rank + k]
//       exactly zero outside the 32-channel neighbourhood of the template's peak channel.
//   mu  mean amplitude of the template's spikes, F (whitened units).
//   iW  peak channel of each template, F.
//   iC  channel neighbourhoods, nC × nNear: iC[c*nNear + i] is the i-th nearest channel to c
//       (self first). Template j lives on the channels iC[iW[j]*nNear + i], i < nNear.
//   The unit-norm template is T_j[tau, c] = sum_k W[j, tau, k]·U[j, c, k]; ||T_j||_F = 1 and the
//   columns W[j, :, k] are orthonormal, so mu_j·T_j approximates the mean waveform of template j.
//   dWU mean waveforms, float64, F × nt0 × nC: dWU[(j*nt0 + tau)*nC + c] (sample-major, like a batch).
//   A template window starts at sample st; its trough is at st + nt0min.
//
// Every kernel is deterministic and its output is bitwise independent of the thread count
// (`threads` = 0 uses spikeshard::default_threads()).
#ifndef SPIKESHARD_TEMPLATES_H_
#define SPIKESHARD_TEMPLATES_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace spikeshard {

// Non-owning view of a template model (layouts above). Kernels read it only.
struct TemplateSet {
  std::size_t n_templates = 0;
  std::size_t n_channels = 0;
  int nt0 = 61;
  int nt0min = 20;
  int rank = 3;
  int n_neighbours = 32;
  const float* W = nullptr;
  const float* U = nullptr;
  const float* mu = nullptr;
  const std::int32_t* iW = nullptr;
  const std::int32_t* iC = nullptr;

  // Channels of template j (n_neighbours of them).
  const std::int32_t* channels_of(std::size_t j) const { return iC + static_cast<std::size_t>(iW[j]) * n_neighbours; }
  // Throws std::invalid_argument on inconsistent sizes, out-of-range indices, non-finite values
  // or a U that is non-zero outside a template's neighbourhood.
  void validate() const;
};

// Owning template model; view() lends it to the kernels.
struct TemplateModel {
  std::size_t n_templates = 0;
  std::size_t n_channels = 0;
  int nt0 = 61;
  int nt0min = 20;
  int rank = 3;
  int n_neighbours = 32;
  std::vector<float> W, U, mu;
  std::vector<std::int32_t> iW, iC;

  TemplateSet view() const;
};

// iC: for each channel its n_neighbours nearest channels by Euclidean distance of (x, y) µm,
// self first, ties broken by channel index. n_neighbours ≤ n_channels.
std::vector<std::int32_t> nearest_channels(const float* x_um, const float* y_um, std::size_t n_channels,
                                           int n_neighbours);

// iW from mean waveforms: argmax_c |dWU[j, nt0min, c]| (first channel on ties).
std::vector<std::int32_t> peak_channels(const double* dWU, std::size_t n_templates, int nt0, std::size_t n_channels,
                                        int nt0min, int threads = 0);

struct FactorizeOptions {
  int nt0 = 61;
  int nt0min = 20;
  int rank = 3;
  int power_iterations = 100;
  // Sub-sample alignment: component 0 is evaluated at nt0min + m/upsample, |m| ≤ upsample/2, by
  // interpolation with a squared-exponential kernel of width kernel_sigma samples.
  int upsample = 10;
  double kernel_sigma = 1.0;
  int threads = 0;
};

// Low-rank factorisation of mean waveforms (Kilosort's mexSVDsmall2, §4.4 of ks25-algorithm.md),
// per template j, in float64:
//  1. D = dWU[j] restricted to the neighbourhood of iW[j] (nt0 × nNear); G = D·Dᵀ.
//  2. rank components by power iteration on G; component k is kept orthogonal to components < k
//     (projected deflation). Warm start from W_prev (F × nt0 × rank, may be null); the cold start is
//     the exact top eigenvectors (symmetric_eigen of DᵀD), so both starts converge to the same W.
//  3. U_k = Dᵀ·W_k; mu = sqrt(Σ_k ||U_k||²); U /= mu (so ||T||_F = 1).
//  4. Integer alignment: W is shifted circularly so that max |W_0| sits at nt0min.
//  5. Sub-sample alignment (fixes quirk 2 of the reference): the candidate positions are centred
//     on the aligned trough; when the interpolated extremum of W_0 is off-sample all components are
//     resampled, re-orthonormalised (the triangular factor is folded into U) and renormalised into
//     mu, so T_j keeps unit norm and mu_j·T_j keeps approximating the mean waveform.
//  6. Signs: W_0 is made negative at nt0min; each other W_k keeps the sign of its warm start, or
//     without one is made positive at its largest |·| sample. Every flip is applied to W_k and U_k
//     together, so T_j is never sign-inverted (the reference could invert W_0 alone).
// Returns a model with iW and iC copied from the inputs.
TemplateModel factorize_templates(const double* dWU, std::size_t n_templates, std::size_t n_channels,
                                  const std::int32_t* iC, int n_neighbours, const std::int32_t* iW,
                                  const float* W_prev, const FactorizeOptions& options);
// The same with each template's nt0 × nC mean waveform in its own memory (dWU[j]), so a caller
// holding them apart need not copy them into one block.
TemplateModel factorize_templates(const double* const* dWU, std::size_t n_templates, std::size_t n_channels,
                                  const std::int32_t* iC, int n_neighbours, const std::int32_t* iW,
                                  const float* W_prev, const FactorizeOptions& options);

// Full-lag template cross-correlations (Kilosort's getMeWtW), computed in float64:
//   WtW[a, b, ℓ] = Σ_tau Σ_c T_a[tau, c]·T_b[tau + ℓ, c] for ℓ = −(nt0−1) … nt0−1,
// stored at WtW[(a*F + b)*(2*nt0 − 1) + ℓ + nt0 − 1]; WtW[a, b, ℓ] = WtW[b, a, −ℓ].
// similarity[a*F + b] = max_ℓ WtW[a, b, ℓ] (simScore; 1 on the diagonal for unit-norm templates).
// similar[a*n_similar + m] (iList): the n_similar = min(n_similar_max, F) most similar templates
// to a, a itself first, then by decreasing similarity (ties: lower index first).
struct TemplateCorrelations {
  std::size_t n_templates = 0;
  int n_lags = 0;
  int n_similar = 0;
  std::vector<float> WtW;
  std::vector<float> similarity;
  std::vector<std::int32_t> similar;
};
TemplateCorrelations template_correlations(const TemplateSet& model, int n_similar_max = 32, int threads = 0);
// The same, with WtW written to `WtW` (nTemplates² × (2·nt0 − 1) floats, all zero on entry: only
// pairs whose neighbourhoods overlap are written) and the result's WtW left empty. Lets a caller
// hand over memory it already owns (a JS typed array) instead of filling and copying a vector of
// ~0.7 GB at 1 200 templates. With `WtW` null, only the similarity and the most-similar lists are
// made (the same bits), and no table is held: for callers that need no WtW (the coordinator's
// similarity tables while the engine derives its own WtW where it matches).
TemplateCorrelations template_correlations(const TemplateSet& model, int n_similar_max, int threads, float* WtW);

// One batch's learning statistics folded into the running means, in place: for each row k,
// means[k][i] = f·means[k][i] + ((1 − f)·sums[k·size + i]) / n with f = factors[k] (pm^n, computed
// by the caller) and n = spikes[k] > 0. The rows must not overlap (each is written by one thread).
void pool_running_means(double* const* means, std::size_t n_active, std::size_t size, const double* sums,
                        const double* factors, const double* spikes, int threads = 0);

// Zero-lag similarity cc[a*F + b] = ⟨T_a, T_b⟩ (used by triage); the diagonal is ||T_a||² (= 1).
std::vector<float> zero_lag_similarity(const TemplateSet& model, int threads = 0);

// Births of a learning round (ks25-algorithm.md §4.2 step 8): which proposals become templates.
// Each proposal i (nt0 × nC float32 snippet, peak channel proposal_channels[i]) is smoothed by
// projecting every channel's trace on the temporal PCs and back:
//   dot[c, p] = Σ_tau snippet[tau, c]·pcs[tau, p] (tau ascending, float64);
//   smoothed[tau, c] = Σ_p dot[c, p]·pcs[tau, p] (p ascending, terms with dot = 0 skipped),
// written to smoothed[i] for every proposal. Over the neighbourhood H = iC[peak] (in iC order,
// sample-major), a = smoothed, b another waveform: cc = Σab / sqrt(Σaa·Σbb) and
// ratio = sqrt(min(Σaa, Σbb) / max(Σaa, Σbb)) (both 0 when Σaa or Σbb is 0). Proposals are taken
// in order; one is a duplicate when some template (means[0 … n_templates), peak channel
// argmax_c |mean[nt0min, c]|, first on ties) or an earlier born proposal has its peak channel in H
// and cc > max_correlation and ratio > min_ratio. Non-duplicates are born until max_births.
// Returns the indices of the born proposals, ascending. Every sum is in the order above, one
// thread per proposal, so the bits are those of a serial loop whatever the thread count.
struct BirthOptions {
  int nt0 = 61;
  int nt0min = 20;
  int n_pcs = 3;
  int n_neighbours = 32;
  double max_correlation = 0.9;
  double min_ratio = 0.8;
  std::size_t max_births = 0;
  int threads = 0;
};
std::vector<std::size_t> select_births(const double* const* means, std::size_t n_templates, std::size_t n_channels,
                                       const float* const* proposals, const std::int32_t* proposal_channels,
                                       std::size_t n_proposals, const float* pcs, const std::int32_t* iC,
                                       const BirthOptions& options, double* const* smoothed);

// Triage of a learning round (ks25-algorithm.md §4.6): the templates kept, ascending. Template a
// is dropped when nsp[a] < min_nsp, or when some b ≠ a has zero-lag similarity cc[a, b]
// (zero_lag_similarity, float32) > max_similarity, |mu[a] − mu[b]| < amplitude_gap (in float64)
// and the larger running count (nsp[a] < nsp[b], or equal counts and b < a).
struct TriageOptions {
  double min_nsp = 0.0;
  double max_similarity = 0.9;
  double amplitude_gap = 0.0;
  int threads = 0;
};
std::vector<std::int32_t> triage_templates(const TemplateSet& model, const double* nsp, const TriageOptions& options);

// New-template proposals on a residual (Kilosort's mexGetSpikes2, §4.3), with the running-max
// quirk of the reference fixed (every window start gets its own maximum).
//  data: sample-major residual, n_samples × n_channels (a batch plus halos).
//  prototypes: wTEMP, nt0 × n_prototypes: prototypes[tau*n_prototypes + r].
//  iC: nC × n_neighbours neighbourhoods (self first); the first n_sum of each are summed.
// For every window start t and channel c: conv_r(t, c) = Σ_tau wTEMP[tau, r]·data[t + tau, c];
// score(t, c) = max over r and j < n_sum of (Σ_{i≤j} conv_r(t, iC[c, i]))² / (j + 1);
// err(t) = max_c score(t, c) (lowest channel on ties). Peaks: err(t) > threshold² and no larger
// err within ±(nt0−1) (earlier start wins ties). Only peaks whose trough t + nt0min lies in
// [halo_samples, halo_samples + own_samples) are kept; among those, a peak is dropped when another
// kept peak anywhere in the batch has a channel within ±channel_radius and a larger err (ties:
// earlier, then lower channel wins). Kept peaks are sorted by (time, channel), capped at
// max_proposals (earliest first; `capped` says so), and their full-channel snippets extracted.
struct ProposalOptions {
  int nt0 = 61;
  int nt0min = 20;
  int n_sum = 7;
  int channel_radius = 4;
  float threshold = 6.0f;
  std::size_t halo_samples = 0;
  std::size_t own_samples = 0;
  std::size_t max_proposals = 5000;
  int threads = 0;
};
struct Proposals {
  std::vector<std::int32_t> sample;   // trough sample relative to the first own sample
  std::vector<std::int32_t> channel;  // channel of the best score
  std::vector<float> score;           // sqrt(err)
  std::vector<float> snippets;        // n × nt0 × nC: data[st + tau, c] at [(i*nt0 + tau)*nC + c]
  bool capped = false;
};
Proposals propose_templates(const float* data, std::size_t n_samples, std::size_t n_channels, const float* prototypes,
                            int n_prototypes, const std::int32_t* iC, int n_neighbours, const ProposalOptions& options);

// The second half of propose_templates, from err and chan (n_starts = n_samples − nt0 + 1 window
// starts; chan[t] = the channel of err(t)): the peaks, the suppression and the cap described above,
// with options' nt0, nt0min, threshold, channel_radius, halo_samples, own_samples, max_proposals.
// Fills out.sample, channel, score and capped, sizes out.snippets (n × nt0 × n_channels) without
// filling it, and returns the window start of each kept proposal (its snippet is rows st … st + nt0).
std::vector<std::size_t> select_proposals(const float* err, const std::int32_t* chan, std::size_t n_starts,
                                          std::size_t n_channels, const ProposalOptions& options, Proposals& out);

}  // namespace spikeshard

#endif  // SPIKESHARD_TEMPLATES_H_

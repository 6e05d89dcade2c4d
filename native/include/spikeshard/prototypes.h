// SPDX-License-Identifier: GPL-3.0-or-later
// Prototype waveforms (KS2.5 "extractTemplatesfromSnippets", docs/ks25-algorithm.md §3.2, §4.1):
// isolated negative peaks of a whitened batch, their single-channel snippets, and from a pool of
// snippets the correlation k-means prototypes (wTEMP) and the principal components (wPCA).
//
// Conventions (used consistently by the drift detector and template learning):
//  - data blocks are float32, sample-major: x[t * n_channels + c];
//  - a snippet is nt0 samples of one channel with its trough at 0-based index trough_index =
//    nt0min - 1 = 19 (MATLAB's 1-based index nt0min = 20), snippets[i * nt0 + k];
//  - wTEMP and wPCA are nt0 × n_prototypes row-major: w[k * n_prototypes + r] (sample-major like
//    the data, column r is one waveform);
//  - wPCA column 0 is negative at trough_index (pykilosort tests the neighbouring index 20; the
//    trough is where the sign is meaningful, so we test the trough itself).
// Determinism: every result is bitwise independent of the thread count (fixed reduction blocks).
#ifndef SPIKESHARD_PROTOTYPES_H_
#define SPIKESHARD_PROTOTYPES_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace spikeshard {

// SplitMix64 (Steele, Lea & Flood 2014): a tiny, well-mixed, seedable generator. Used wherever
// the reference draws random numbers, so CPU and CUDA paths can replay the same draws.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  // Uniform integer in [0, bound), bound > 0, without modulo bias (Lemire's method).
  std::uint64_t below(std::uint64_t bound);

 private:
  std::uint64_t state_;
};

struct IsolatedPeakParams {
  float threshold = -6.0f;      // spkTh: a peak must be strictly below this (whitened units)
  int local_samples = 5;        // loc_range: a peak is the minimum of a ±5 samples ...
  int local_channels = 4;       // ... × ±4 channel-index box (box clipped at the block edges)
  int isolation_samples = 30;   // long_range: no other peak within ±30 samples ...
  int isolation_channels = 6;   // ... × ±6 channel indices
  int nt0 = 61;                 // snippet length; peaks closer than nt0 samples to either block
                                // end are not reported (they still veto their neighbours)
  int trough_index = 19;        // nt0min - 1
  // Only peaks with own_begin <= sample < own_end are reported, so that blocks with halos
  // attribute each peak to exactly one batch. Peaks in the halo still veto their neighbours.
  std::size_t own_begin = 0;
  std::size_t own_end = std::numeric_limits<std::size_t>::max();
};

struct IsolatedPeak {
  std::size_t sample;  // block-relative sample of the trough
  std::size_t channel;
  float value;
};

// Isolated negative peaks of one block, ordered by (sample, channel). A sample is a peak when it
// equals the minimum of its local box and is below the threshold; it is isolated when no other
// peak lies in its isolation box (|Δt| ≤ isolation_samples and |Δc| ≤ isolation_channels).
std::vector<IsolatedPeak> find_isolated_peaks(const float* x, std::size_t n_samples, std::size_t n_channels,
                                              const IsolatedPeakParams& params, int threads = 0);

// Snippets of the given peaks: out[i * nt0 + k] = x[(peak.sample - trough_index + k) * n_channels
// + peak.channel]. Throws std::invalid_argument if a window leaves the block.
std::vector<float> extract_snippets(const float* x, std::size_t n_samples, std::size_t n_channels,
                                    const std::vector<IsolatedPeak>& peaks, int nt0, int trough_index);

struct PrototypeParams {
  std::size_t n_prototypes = 3;  // nPCs: 3 for classic datashift, 6 for template learning
  int iterations = 10;
  std::uint64_t seed = 42;
  int trough_index = 19;  // where wPCA column 0 is made negative
};

struct Prototypes {
  std::size_t nt0 = 0;
  std::size_t n_prototypes = 0;
  std::vector<float> w_temp;  // nt0 × n_prototypes, unit-norm columns
  std::vector<float> w_pca;   // nt0 × n_prototypes, orthonormal columns
  std::vector<double> singular_values;  // of the snippet matrix, descending (√ Gram eigenvalues)
  std::vector<std::size_t> cluster_sizes;  // snippets assigned to each prototype in the last pass
};

// From a pool of n_snippets snippets (row-major n_snippets × nt0):
//  wTEMP: correlation k-means. Initial prototypes are n_prototypes distinct snippets drawn by
//    SplitMix64(seed) (partial Fisher–Yates), unit-normalised. Each iteration assigns every snippet
//    to the prototype with the largest dot product (= largest correlation, prototypes being unit
//    norm; ties to the lower index) and replaces each prototype by the sum of its snippets
//    weighted by that dot product, unit-normalised. A prototype left without snippets keeps its
//    previous value (KS would divide by zero).
//  wPCA: eigenvectors of the nt0 × nt0 Gram matrix Σ s sᵀ (the left singular vectors of the
//    nt0 × n snippet matrix), largest first.
Prototypes learn_prototypes(const float* snippets, std::size_t n_snippets, std::size_t nt0,
                            const PrototypeParams& params, int threads = 0);

}  // namespace spikeshard

#endif  // SPIKESHARD_PROTOTYPES_H_

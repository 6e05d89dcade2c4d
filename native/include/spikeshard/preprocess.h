// SPDX-License-Identifier: GPL-3.0-or-later
// Preprocessing kernels of the CPU reference backend (ks25-algorithm.md §2.2–2.4): zero-phase
// Butterworth high-pass, common median reference, bad-channel features and labels, local (32
// nearest channels) ZCA whitening, and the fused per-batch chain. The CUDA backend must match
// these within documented tolerances.
//
// Layout everywhere: blocks are (samples × channels), sample-major, x[t * stride + c]; a batch
// arrives with its halo samples on both sides and the kernels treat halo samples like any other.
// Where an input block has a row stride, channels 0..n_channels-1 of each row are used (so a
// 385-channel SpikeGLX block can be passed without dropping the sync channel first); outputs are
// always dense, stride n_channels.
//
// Determinism: every kernel splits its work into fixed ranges (channel groups, time chunks,
// matrix rows) whose results do not depend on the number of threads; outputs are bitwise
// identical for any thread count.
#ifndef SPIKESHARD_PREPROCESS_H_
#define SPIKESHARD_PREPROCESS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace spikeshard {

// ---------------------------------------------------------------------------------------------
// High-pass filter

// One biquad with a0 = 1: y = b0·x + b1·x[-1] + b2·x[-2] − a1·y[-1] − a2·y[-2]. The same numbers
// as a row [b0 b1 b2 1 a1 a2] of scipy's "sos" layout.
struct SosSection {
  double b0, b1, b2, a1, a2;
};

// Digital Butterworth high-pass of the given order as second-order sections: analogue prototype
// poles on the unit circle, low-pass→high-pass at the pre-warped cutoff 2·tan(π·fc/fs), bilinear
// transform (all zeros land on z = 1). Section order follows scipy's zpk2sos ('nearest'
// pairing): the first-order section first (odd orders), then conjugate pole pairs from the one
// farthest from the unit circle to the nearest; the overall gain (unit gain at Nyquist) sits in
// the first section. Throws std::invalid_argument unless 1 ≤ order ≤ 16 and 0 < fc < fs/2.
std::vector<SosSection> butterworth_highpass_sos(int order, double cutoff_hz, double sample_rate_hz);

// Analytic single-pass magnitude |H(f)| of that digital filter:
// |H|² = 1 / (1 + (tan(π·fc/fs) / tan(π·f/fs))^(2·order)). A forward–backward pass gives |H|².
double butterworth_highpass_gain(int order, double cutoff_hz, double sample_rate_hz, double frequency_hz);

// Edge padding of sosfiltfilt, scipy's default rule: 3·(2·sections + 1 − min(#{b2 = 0},
// #{a2 = 0})), i.e. 12 samples for order 3.
std::size_t filtfilt_pad_samples(const std::vector<SosSection>& sos);

// Zero-phase filtering of one channel in place (double), the behaviour of scipy's
// sosfiltfilt(sos, x, padtype='odd', padlen=filtfilt_pad_samples(sos)):
//  1. odd extension by p = pad samples at both ends: x[-i] = 2·x[0] − x[i] and
//     x[n−1+i] = 2·x[n−1] − x[n−1−i], i = 1..p;
//  2. forward pass over the extended signal (direct form II transposed, sections in cascade),
//     starting from the step-response steady state of each section scaled by the first extended
//     sample (scipy's sosfilt_zi · x[-p]);
//  3. backward pass over the result, starting from the same steady state scaled by the last
//     output sample of the forward pass;
//  4. the central n samples are the result.
// Throws std::invalid_argument if n ≤ pad (scipy raises too).
void sosfiltfilt(const std::vector<SosSection>& sos, double* x, std::size_t n);

struct HighpassOptions {
  int order = 3;
  double cutoff_hz = 300.0;
  double sample_rate_hz = 30000.0;
};

// Per-channel mean removal then zero-phase high-pass of a block, computed in double, channels in
// parallel. value = input · gains[c] (gains may be nullptr: 1). in: (n_samples × in_stride),
// out: (n_samples × n_channels) float32.
void highpass_block(const std::int16_t* in, std::size_t in_stride, const double* gains, std::size_t n_samples,
                    std::size_t n_channels, const HighpassOptions& options, float* out);
void highpass_block(const float* in, std::size_t in_stride, const double* gains, std::size_t n_samples,
                    std::size_t n_channels, const HighpassOptions& options, float* out);

// ---------------------------------------------------------------------------------------------
// Common median reference

// In place: at each sample, subtracts the median over the channels with good[c] ≠ 0 from every
// channel (the median of an even count is the mean of the two middle values, computed in
// double). Parallel over time. Throws std::invalid_argument if no channel is good.
void common_median_reference(float* x, std::size_t n_samples, std::size_t n_channels, const std::uint8_t* good);

// ---------------------------------------------------------------------------------------------
// Bad channels (ks25-algorithm.md §2.2, one window)

enum ChannelLabel : std::int32_t { kChannelGood = 0, kChannelDead = 1, kChannelNoisy = 2, kChannelOutside = 3 };

struct BadChannelOptions {
  double sample_rate_hz = 30000.0;
  // The high-pass used for the filtered similarity (order 3, 300 Hz); its sample rate is
  // sample_rate_hz above, whatever highpass.sample_rate_hz says.
  HighpassOptions highpass;
  // Width of the median filter along the channel index (odd).
  std::size_t median_window_channels = 11;
  // Welch: Hann (periodic) segments of this length, half overlap, per-segment mean removed,
  // one-sided density (scipy.signal.welch defaults).
  std::size_t welch_segment_samples = 256;
  // psd_hf averages the bins strictly above this fraction of Nyquist.
  double psd_band_fraction = 0.8;
};

struct BadChannelFeatures {
  std::vector<double> xcor;     // similarity of each channel with the across-channel median trace
  std::vector<double> xcor_hf;  // xcor − medfilt(xcor)
  std::vector<double> xcor_lf;  // medfilt(similarity of the high-passed block) − 1
  std::vector<double> psd_hf;   // mean PSD above psd_band_fraction·Nyquist, (input unit)²/Hz
};

// Features of one window. The input should be in µV (gains = µV per count for int16 input, or
// nullptr for a float block already in µV) so that psd_hf compares with the µV²/Hz threshold.
// Similarity ("xcor"): zero-lag cross-correlation of each mean-removed channel with the
// mean-removed median trace (median over all channels at each sample), divided by the median
// trace's zero-lag autocorrelation; computed directly as dot products, which equals the
// FFT-based circular correlation at lag 0. medfilt: running median of width
// median_window_channels along the channel index with edge values replicated.
// Throws std::invalid_argument on shapes the filter or Welch cannot use.
BadChannelFeatures bad_channel_features(const std::int16_t* in, std::size_t in_stride, const double* gains,
                                        std::size_t n_samples, std::size_t n_channels,
                                        const BadChannelOptions& options);
BadChannelFeatures bad_channel_features(const float* in, std::size_t in_stride, const double* gains,
                                        std::size_t n_samples, std::size_t n_channels,
                                        const BadChannelOptions& options);

struct BadChannelThresholds {
  double dead_similarity_below = -0.5;        // dead if xcor_hf < this
  double noisy_similarity_above = 1.0;        // noisy if xcor_hf > this ...
  double noisy_psd_above_uv2_per_hz = 0.02;   // ... or psd_hf > this
  double outside_similarity_below = -0.75;    // outside-brain candidates: xcor_lf < this
};

// Labels of one window. Outside-brain (3) only when the candidate set contains the last (top)
// channel, and then only the contiguous run of candidates ending there. Precedence when rules
// overlap: noisy > dead > outside.
std::vector<std::int32_t> label_bad_channels(const double* xcor_hf, const double* xcor_lf, const double* psd_hf,
                                             std::size_t n_channels, const BadChannelThresholds& thresholds);

// labels: (n_windows × n_channels). Per channel, the most frequent label over windows; ties go to
// the smallest label (scipy.stats.mode's rule). Throws on labels outside 0..3 or no windows.
std::vector<std::int32_t> channel_label_mode(const std::int32_t* labels, std::size_t n_windows,
                                             std::size_t n_channels);

// Running median of odd width along a vector with the edge values replicated.
std::vector<double> median_filter(const double* x, std::size_t n, std::size_t width);

// One-sided Welch power spectral density of one signal (see BadChannelOptions), bins
// k·fs/segment for k = 0..segment/2. Throws std::invalid_argument if n < segment or segment < 2.
std::vector<double> welch_psd(const double* x, std::size_t n, double sample_rate_hz, std::size_t segment);

// ---------------------------------------------------------------------------------------------
// Whitening (ks25-algorithm.md §2.4)

// XᵀX / n (no mean removal) of a (n_samples × n_channels) block, accumulated in double;
// row-major n_channels². Parallel over pairs of rows.
std::vector<double> channel_covariance(const float* x, std::size_t n_samples, std::size_t n_channels);

// In place, one window's covariance: rows and columns of channels with label ≠ 0 set to 0; their
// diagonal set to the linear interpolation over channel index of the good channels' diagonal
// (constant beyond the first/last good channel); then the diagonal of outside-brain channels
// (label 3) set to median(good diagonal)·1e6 so whitening scales them to ≈ 0.
// Throws std::invalid_argument if no channel is good or a label is outside 0..3.
void stabilise_covariance(double* cov, std::size_t n_channels, const std::int32_t* labels);

// Element-wise median of n_matrices row-major n_channels² matrices stored one after the other.
std::vector<double> median_of_matrices(const double* matrices, std::size_t n_matrices, std::size_t n_channels);

// The whitening covariance CC of §2.4: each window's covariance stabilised (a copy), then the
// element-wise median over windows.
std::vector<double> whitening_covariance(const double* window_covariances, std::size_t n_windows,
                                         std::size_t n_channels, const std::int32_t* labels);

// For each channel j its k nearest channels by Euclidean distance on (x_um, y_um): j itself
// first, the others by increasing distance, ties by index. (n_channels × k) row-major.
std::vector<std::int32_t> nearest_channels(const double* x_um, const double* y_um, std::size_t n_channels,
                                           std::size_t k);

// Local ZCA whitening in sparse form: out[t, j] = scale · Σ_k weights[j·K + k] · x[t, indices[j·K + k]].
// The scale (scaleproc = 200 in Kilosort's int16 files) is not part of the weights: whitened
// data stay float with unit noise, and the factor is applied only when writing int16.
struct LocalWhitening {
  std::size_t n_channels = 0;
  std::size_t n_nearest = 0;           // K
  double epsilon = 0;                  // regulariser added to the eigenvalues
  std::vector<std::int32_t> indices;   // (n_channels × K)
  std::vector<float> weights;          // (n_channels × K)
  // Dense form for export (phy's whitening_mat.npy = Kilosort's Wrot / scaleproc):
  // dense[i·n + j] is the weight of input channel i in output channel j, so out = x · dense.
  std::vector<double> dense;
};

// For each channel j: C_j = cov restricted to its K = min(n_nearest, n_channels) nearest
// channels (self first), C_j = E·diag(λ)·Eᵀ, ZCA W_j = E·diag(1/√(|λ| + ε))·Eᵀ, and j's weights
// are the column of W_j for j itself. |λ| are the singular values the reference's SVD uses; they
// differ from λ only when the element-wise median of covariances is slightly indefinite.
// ε = epsilon_fraction · mean(diag(cov) over label-0 channels). The weights are computed in
// double and rounded to float; dense keeps the double values. Throws std::invalid_argument if no
// channel is good.
LocalWhitening local_whitening(const double* cov, std::size_t n_channels, const double* x_um, const double* y_um,
                               const std::int32_t* labels, std::size_t n_nearest = 32,
                               double epsilon_fraction = 1e-3);

// Inverse of a dense n×n row-major matrix (LU with partial pivoting, double); for phy's
// whitening_mat_inv.npy. Throws std::runtime_error if the matrix is singular to working precision.
std::vector<double> invert_matrix(const double* a, std::size_t n);

// out[t, j] = scale · Σ_k weights[j, k] · in[t, indices[j, k]], summed in double, parallel over
// time. in and out must not overlap. Throws std::invalid_argument on an index out of range.
void apply_whitening(const float* in, std::size_t n_samples, std::size_t n_channels, const std::int32_t* indices,
                     const float* weights, std::size_t n_nearest, double scale, float* out);

// ---------------------------------------------------------------------------------------------
// The fused per-batch chain

struct PreprocessBatchInput {
  const std::int16_t* raw = nullptr;  // (n_samples × raw_stride), batch plus halo
  std::size_t raw_stride = 0;         // ≥ n_channels
  std::size_t n_samples = 0;
  std::size_t n_channels = 0;
  const double* gains = nullptr;      // per channel (e.g. µV per count); nullptr means 1
  const std::uint8_t* good = nullptr; // channels entering the median (non-zero = good)
  const std::int32_t* whitening_indices = nullptr;  // LocalWhitening::indices
  const float* whitening_weights = nullptr;         // LocalWhitening::weights
  std::size_t n_nearest = 0;
  HighpassOptions highpass;
  double scale = 1.0;  // output scale (1: unit-noise float)
  bool common_reference = true;  // false: skip the common median reference (the 'none' choice)
};

// raw → ×gains → per-channel mean removal → zero-phase high-pass → common median reference →
// local whitening → out (n_samples × n_channels float32). Bitwise equal to calling
// highpass_block, common_median_reference and apply_whitening in turn.
void preprocess_batch(const PreprocessBatchInput& input, float* out);

}  // namespace spikeshard

#endif  // SPIKESHARD_PREPROCESS_H_

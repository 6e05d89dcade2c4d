// SPDX-License-Identifier: GPL-3.0-or-later
// IBL destriping of a batch (ks25-algorithm.md §2.3): saturation mute, zero-phase high-pass,
// ADC sample-shift correction, bad-channel interpolation and the spatial high-pass across channels
// of each shank ("k-filter", with automatic gain control), as an alternative to Kilosort 2.5's
// high-pass + common median reference.
//
// Layout as in preprocess.h: (samples × channels), sample-major. Every kernel splits its work by
// channel or by time sample into fixed ranges, so results are bitwise independent of the thread
// count.
#ifndef SPIKESHARD_DESTRIPE_H_
#define SPIKESHARD_DESTRIPE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "spikeshard/preprocess.h"

namespace spikeshard {

struct FractionalDelayOptions {
  std::size_t half_width = 16;  // taps −K..K (33 taps)
  double kaiser_beta = 8.0;     // |error| ≤ 2.2e-4 of the ideal delay up to 0.3·fs
};

// Taps h[0..2K] of a delay by shift_samples: h[i] = sinc(i − K − s)·kaiser(i − K − s), the Kaiser
// window reaching zero at ±(K + 1), normalised to unit sum. y[t] = Σ_i h[i]·x[t − i + K].
std::vector<double> fractional_delay_taps(double shift_samples, std::size_t half_width, double kaiser_beta);

// In place: delays channel c by shift_samples[c] samples (fractional), x_c(t) ← x_c(t − s_c), the
// correction of ADC sampling offsets (IBL does it by a phase ramp in the Fourier domain; a
// windowed-sinc FIR is the same operation in the spike band at a fraction of the cost). Samples
// beyond the block count as zero, so the first and last K samples are approximate: a batch's halo
// absorbs them. Channels whose shift is 0 are copied exactly. Parallel over time.
void adc_shift(float* x, std::size_t n_samples, std::size_t n_channels, const double* shift_samples,
               const FractionalDelayOptions& options = {});

// NP1.0 / NP2.0 ADC sampling offsets of the first n_channels channels, in samples: channels are
// multiplexed onto ADCs in pairs of groups, adc(c) = ⌊c / (2·per_adc)⌋·2 + c mod 2, and the
// channels of one ADC are converted one after the other, so channel c is sampled
// ⌊(c mod 2·per_adc) / 2⌋ / cycles of a sample after the first. NP1.0: per_adc = 12, cycles 13;
// NP2.0: per_adc = 16, cycles 16.
std::vector<double> adc_sample_shift(std::size_t n_channels, std::size_t per_adc, std::size_t cycles);

struct InterpolationOptions {
  double length_um = 20.0;   // weights exp(−(d / length)^power)
  double power = 1.3;
  double min_weight = 0.005;  // smaller weights are dropped (before normalising)
};

// The interpolation of bad channels (label 1 or 2) from good ones (label 0): a row-major
// (n_channels × n_channels) matrix W with out[b] = Σ_j W[b, j]·x[j]; rows of other channels are 0.
// A bad channel with no good channel within reach keeps a zero row (it becomes 0).
std::vector<double> bad_channel_interpolation(const double* x_um, const double* y_um, const std::int32_t* labels,
                                              std::size_t n_channels, const InterpolationOptions& options);

// In place: replaces each bad channel (label 1 or 2) by its interpolation from the good ones.
void interpolate_bad_channels(float* x, std::size_t n_samples, std::size_t n_channels, const double* x_um,
                              const double* y_um, const std::int32_t* labels, const InterpolationOptions& options);

struct KFilterOptions {
  int order = 3;
  double cutoff = 0.01;              // Wn, as a fraction of the spatial Nyquist (0.5 cycle/channel)
  std::size_t pad_channels = 60;     // mirrored channels at each end (at most the group's size)
  std::size_t agc_window_samples = 3001;  // Hann window of the automatic gain control; 0 = no AGC
};

// In place, the spatial high-pass: for each shank, the channels with label ≠ 3 (in channel order)
// form a line; each channel is divided by its gain (hann_smoothed_abs of the channel, plus 1e-8 of
// the shank's mean |x|; channels that are all zero are left as they are), the line is mirrored by
// pad_channels at each end (edge channel repeated), filtered at every time sample by a zero-phase
// Butterworth high-pass along the channels (sosfiltfilt semantics) and multiplied back by the gain.
// Outside-brain channels (label 3) are left untouched. shank may be nullptr (one shank). The gains
// are computed by sliding window sums restarted every 4096 samples (fixed, so thread-independent).
void kfilter(float* x, std::size_t n_samples, std::size_t n_channels, const std::int32_t* shank,
             const std::int32_t* labels, const KFilterOptions& options);

// Smoothed |x| of one channel: (|x| ⊛ Hann(window)) / Σ Hann, same length, zero beyond the ends.
// O(n) through prefix sums of |x|·exp(iθj). Exposed for tests.
std::vector<double> hann_smoothed_abs(const float* x, std::size_t stride, std::size_t n, std::size_t window);

struct SaturationOptions {
  double max_count = 512.0;         // ADC full scale in counts (512 for NP1.0, 8192 for NP2.0)
  double level_fraction = 0.98;     // |count| ≥ level_fraction·max_count is saturated
  double step_uv = 300.0;           // |x[t] − x[t−1]| ≥ step_uv (µV) is a saturation step
  double channel_fraction = 0.2;    // a sample is saturated if more than this fraction of channels is
};

// The multiplicative mute of each sample (1 = keep, 0 = silence): 1 − (saturated ⊛ w) clipped at 0,
// w the 7-point cosine bump sin²(π(k + 1)/8), k = 0..6 (peak 1 at the saturated sample). gains: µV per
// count per channel (nullptr: 1). Also returns the number of saturated samples through n_saturated.
std::vector<float> saturation_mute(const std::int16_t* raw, std::size_t stride, const double* gains,
                                   std::size_t n_samples, std::size_t n_channels, const SaturationOptions& options,
                                   std::size_t* n_saturated);

struct DestripeInput {
  const std::int16_t* raw = nullptr;
  std::size_t raw_stride = 0;
  std::size_t n_samples = 0;
  std::size_t n_channels = 0;
  const double* gains = nullptr;          // µV per count (nullptr: 1)
  const double* shift_samples = nullptr;  // ADC shift per channel; nullptr = no correction
  const double* x_um = nullptr;
  const double* y_um = nullptr;
  const std::int32_t* shank = nullptr;    // nullptr: one shank
  const std::int32_t* labels = nullptr;   // 0 good, 1 dead, 2 noisy, 3 outside
  HighpassOptions highpass;
  InterpolationOptions interpolation;
  bool kfilter = true;
  KFilterOptions k;
  bool mute = true;
  SaturationOptions saturation;
  // Channels (nonzero) whose median is subtracted from every channel at each sample after the
  // chain, as common_median_reference does (IBL's waveform extraction); nullptr: none.
  const std::uint8_t* reference = nullptr;
};

// The chain of ks25-algorithm.md §2.3 steps 1, 3–7 on one batch: mute detection on the raw
// counts, gains + mean removal + high-pass (highpass_block), ADC shift, bad-channel interpolation,
// k-filter, mute, and the common median reference when `reference` is set. out: (n_samples ×
// n_channels) µV. High-pass and shift run in one pass per group of channels, interpolation and
// reference in one pass per sample: bitwise the steps run one after the other.
void destripe_block(const DestripeInput& in, float* out, std::size_t* n_saturated = nullptr);

// IBL's waveform extraction (coordinator/export/ibl-waveforms.ts), its per-value loops.

// out[w, r, i] = scale · block[starts[w] + i, channels[w, r]] (the product in double, rounded to
// float) for w < n_waves, r < n_rows, i < length; NaN where channels[w, r] == n_channels (a padded
// row). block: (n_samples × n_channels); every window must lie inside it. Parallel over waveforms.
void cut_waveforms(const float* block, std::size_t n_samples, std::size_t n_channels, const std::int32_t* starts,
                   const std::int32_t* channels, std::size_t n_waves, std::size_t n_rows, std::size_t length,
                   double scale, float* out);

// out[p] = the median over w < n_waves of the non-NaN traces[w·n_values + p] (p < n_values), NaN
// where there are none: numpy's median of the float32 values (the mean of the two middle ones for
// an even count, in double, rounded to float; −0 sorts before 0). Parallel over blocks of p.
void waveform_medians(const float* traces, std::size_t n_waves, std::size_t n_values, float* out);

// IEEE binary16 bit patterns of float32 values, rounded to nearest (ties to even) as numpy's
// astype(float16): overflow gives ±inf, NaN stays NaN (quiet, sign kept). Parallel over blocks.
void float16_from_float32(const float* in, std::size_t n, std::uint16_t* out);

// The finish of IBL's waveform extraction, from the scratch file of cut waveforms (open as
// scratch_fd; row r, n_values float32, at byte r · n_values · 4) to the traces file (open as
// traces_fd). Cluster u < n_clusters has the waveforms rows[first[u] .. first[u + 1]), at most
// max_per_cluster of them, in its order: templates[u · n_values + p] ← their median as
// waveform_medians computes it, and their float16 patterns (float16_from_float32), then NaN
// (0x7e00) up to max_per_cluster waveforms, go to bytes traces_offset + u · max_per_cluster ·
// n_values · 2 on. Clusters are handed out to threads (0: default_threads()) one at a time and each
// is computed by one thread alone with one read per row and one write, so the results do not depend
// on the thread count; the memory is about (max_per_cluster · n_values · 6 bytes) per thread. A
// failed or short read or a failed write throws std::runtime_error naming the byte. Neither file
// is closed.
void finish_ibl_waveforms(int scratch_fd, int traces_fd, std::uint64_t traces_offset, const std::uint32_t* rows,
                          const std::uint64_t* first, std::size_t n_clusters, std::size_t max_per_cluster,
                          std::size_t n_values, float* templates, int threads = 0);

}  // namespace spikeshard

#endif  // SPIKESHARD_DESTRIPE_H_

// SPDX-License-Identifier: GPL-3.0-or-later
// Filters used by the simulator: the spike-band high-pass that defines SNR (the same zero-phase
// 3rd-order Butterworth at 300 Hz that the sorter's preprocessing applies), and the resonators
// that make LFP-like sources.
#ifndef SPIKESHARD_CORE_SIMULATE_FILTER_H_
#define SPIKESHARD_CORE_SIMULATE_FILTER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace spikeshard::sim {

// One second-order section, y = (b0 + b1 z⁻¹ + b2 z⁻²) / (1 + a1 z⁻¹ + a2 z⁻²) x.
struct Biquad {
  double b0, b1, b2, a1, a2;
};

// Digital Butterworth high-pass of the given order by the bilinear transform with pre-warping,
// as cascaded sections with unit gain at Nyquist. Throws std::invalid_argument unless
// 1 ≤ order ≤ 8 and 0 < cutoff < fs/2.
std::vector<Biquad> butterworth_highpass(int order, double cutoff_hz, double sample_rate_hz);

// Gain |H(e^{iω})| of a cascade at frequency f.
double cascade_gain(const std::vector<Biquad>& sections, double frequency_hz, double sample_rate_hz);

// Filters x in place forward then backward (zero phase, squared magnitude), starting from rest.
void filtfilt(const std::vector<Biquad>& sections, double* x, std::size_t n);

// Zero-phase high-pass of channel-major float data (n_channels rows of n_samples), in place.
void highpass_zero_phase(float* data, std::size_t n_channels, std::size_t n_samples, double sample_rate_hz,
                         double cutoff_hz, int threads);

// RMS in µV of each neural channel of interleaved int16 data after removing its mean and a
// zero-phase 3rd-order Butterworth high-pass at cutoff_hz. The first and last
// min(20 ms, n/4) samples, where the filter starts from rest, are left out.
void spike_band_rms(const std::int16_t* data, std::size_t n_samples, std::size_t n_saved, std::size_t n_neural,
                    double sample_rate_hz, double uv_per_count, double cutoff_hz, float* out, int threads);

// A resonator y[n] = a1·y[n-1] + a2·y[n-2] + gain·w[n] (poles at radius exp(-π·bw/fs), angle
// 2π·f0/fs) whose stationary RMS is rms when w is unit white noise.
struct Resonator {
  double a1, a2, gain;
  // Stationary variance of y and lag-1 autocovariance for unit gain, for starting in steady state.
  double var_unit, cov1_unit;
};
Resonator make_resonator(double centre_hz, double bandwidth_hz, double rms, double sample_rate_hz);

}  // namespace spikeshard::sim

#endif  // SPIKESHARD_CORE_SIMULATE_FILTER_H_

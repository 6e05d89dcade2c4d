// SPDX-License-Identifier: GPL-3.0-or-later
// Per-chunk synthesis of a simulated Neuropixels AP stream: coloured per-channel noise, common
// mode, LFP-like sources, spikes (from waveform tables, at sub-sample precision), DC offsets,
// dead channels, the ADCs' staggered sampling times, quantisation and a sync channel, written as
// interleaved int16.
//
// Every random number comes from a stream keyed by (seed, chunk, channel|source, purpose), and
// filter states are carried from one chunk to the next in a caller-owned state array, so the
// bytes depend only on the setup, the chunk sequence and the spikes, never on the thread count.
#ifndef SPIKESHARD_CORE_SIMULATE_H_
#define SPIKESHARD_CORE_SIMULATE_H_

#include <cstddef>
#include <cstdint>

#include "simulate_waveform.h"

namespace spikeshard::sim {

// Flat layout of one channel (doubles), shared with native/lib/simulate.ts.
enum ChannelField : std::size_t {
  kChannelX = 0,       // site position, µm
  kChannelY,           //
  kChannelWhiteUv,     // gain of the white part (µV per unit normal, before the anti-alias pole)
  kChannelPinkUv,      // gain of the 1/f part
  kChannelCommonGain,  // gain of the common-mode signal on this channel
  kChannelDcUv,        // DC offset
  kChannelDead,        // 1: the channel only carries its DC offset
  kChannelDelay,       // ADC sampling delay in [0, 1) samples: sample i is the signal at time i + delay
  kChannelFields,
};

// The 1/f part is a weighted sum of one-pole low-passes of the channel's white noise.
inline constexpr std::size_t kPinkPoles = 8;
inline constexpr std::size_t kNoiseState = kPinkPoles + 1;  // anti-alias low-pass + pink bank
inline constexpr std::size_t kLfpFields = 3;                // centre Hz, bandwidth Hz, RMS µV
inline constexpr std::size_t kLfpState = 2;
inline constexpr std::size_t kMaxLfpSources = 16;

struct NoiseModel {
  double pink_poles[kPinkPoles];    // a_k: y ← a·y + (1 − a)·w
  double pink_weights[kPinkPoles];  // b_k
  double antialias_pole;            // a of the white part's low-pass
  double common_white_uv;           // common-mode white gain
  double common_pink_uv;            // common-mode 1/f gain
};

struct ChunkSetup {
  std::uint64_t seed = 0;
  std::size_t n_channels = 0;  // neural channels; the file has one more (sync)
  double sample_rate_hz = 30000.0;
  const double* channels = nullptr;  // n_channels × kChannelFields
  NoiseModel noise{};
  std::size_t n_lfp = 0;
  const double* lfp_sources = nullptr;   // n_lfp × kLfpFields
  const float* lfp_profiles = nullptr;   // n_lfp × n_channels, weight of each source on each channel
  double uv_per_count = 2.34375;
  int adc_min = -512, adc_max = 511;
  int sync_bit = 6;
  TableGrid grid{};
  const float* tables = nullptr;
  std::size_t n_tables = 0;
  int threads = 0;

  void validate() const;
};

// Doubles of filter state: per channel kNoiseState, then the common mode, then kLfpState per source.
std::size_t state_length(std::size_t n_channels, std::size_t n_lfp);

// Fills state with a draw from the stationary distribution of every filter, so the recording
// starts in steady state.
void init_state(const ChunkSetup& setup, double* state);

// Synthesises n_samples × (n_channels + 1) int16 into out. `spikes` (kSpikeFields each) hold soma
// times relative to start_sample; spikes outside the chunk contribute what overlaps it.
void synthesize_chunk(const ChunkSetup& setup, std::uint64_t chunk_index, std::uint64_t start_sample,
                      std::size_t n_samples, const double* spikes, std::size_t n_spikes, double* state,
                      std::int16_t* out);

}  // namespace spikeshard::sim

#endif  // SPIKESHARD_CORE_SIMULATE_H_

// SPDX-License-Identifier: GPL-3.0-or-later
// The destriping's host-side tables (not part of the public API), shared by the CPU kernels
// (preprocess_destripe.cc) and the CUDA backend (src/cuda/destripe.cu), so that both run on the
// very same float taps and double weights.
#ifndef SPIKESHARD_DESTRIPE_INTERNAL_H_
#define SPIKESHARD_DESTRIPE_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "spikeshard/destripe.h"

namespace spikeshard::detail {

bool is_bad_label(std::int32_t label);

// Throws std::invalid_argument naming the channel when a label is not 0..3.
void check_channel_labels(const std::int32_t* labels, std::size_t n_channels);

// adc_shift's taps as float, taps[i·C + c] (tap i of channel c, so that loops over channels read
// them contiguously); a channel with no shift gets the identity. Empty when no channel is shifted.
std::vector<float> shift_taps(const double* shift_samples, std::size_t n_channels,
                              const FractionalDelayOptions& options);

// One bad channel's interpolation: its index and the good channels' weights, ascending channel.
struct Interpolated {
  std::size_t channel;
  std::vector<std::pair<std::size_t, double>> terms;
};

// The nonzero rows of bad_channel_interpolation, bad channels ascending.
std::vector<Interpolated> interpolation_rows(const double* x_um, const double* y_um, const std::int32_t* labels,
                                             std::size_t n_channels, const InterpolationOptions& options);

}  // namespace spikeshard::detail

#endif  // SPIKESHARD_DESTRIPE_INTERNAL_H_

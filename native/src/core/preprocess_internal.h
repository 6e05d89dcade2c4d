// SPDX-License-Identifier: GPL-3.0-or-later
// Helpers shared by the preprocess_*.cc files (not part of the public API).
#ifndef SPIKESHARD_PREPROCESS_INTERNAL_H_
#define SPIKESHARD_PREPROCESS_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "spikeshard/preprocess.h"

namespace spikeshard::detail {

// Median of values[0..n) with numpy's rule for even n (mean of the two middle values); reorders
// the values. n must be ≥ 1.
double median_in_place(double* values, std::size_t n);

// highpass_block for any input type (int16, float) into float or double output; explicitly
// instantiated in preprocess_filter.cc.
template <typename In, typename Out>
void highpass_block_impl(const In* in, std::size_t in_stride, const double* gains, std::size_t n_samples,
                         std::size_t n_channels, const HighpassOptions& options, Out* out);

// Shape checks shared by the public entry points (std::invalid_argument with `what` first).
void require_block(const char* what, const void* data, std::size_t stride, std::size_t n_samples,
                   std::size_t n_channels);

}  // namespace spikeshard::detail

#endif  // SPIKESHARD_PREPROCESS_INTERNAL_H_

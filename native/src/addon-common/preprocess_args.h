// SPDX-License-Identifier: GPL-3.0-or-later
// The preprocessing options shared by the CPU addon's and the CUDA addon's bindings: the high-pass
// fields and the preprocessBatch fields (options style of args.h), read in one order so that both
// backends report the same first mistake.
#ifndef SPIKESHARD_ADDON_COMMON_PREPROCESS_ARGS_H_
#define SPIKESHARD_ADDON_COMMON_PREPROCESS_ARGS_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "args.h"
#include "spikeshard/preprocess.h"

namespace spikeshard::addon_common {

// {order, cutoffHz, sampleRateHz}.
inline HighpassOptions highpass_options(const Options& o) {
  HighpassOptions h;
  h.order = o.integer("order");
  h.cutoff_hz = o.number("cutoffHz");
  h.sample_rate_hz = o.number("sampleRateHz");
  return h;
}

// The preprocessBatch fields: {raw: Int16Array (nSamples × rowStride), nSamples, nChannels,
// rowStride, gains: Float64Array | null, good: Uint8Array, nNearest, indices, weights, order,
// cutoffHz, sampleRateHz, scale, commonReference}. The arrays are viewed in place.
inline PreprocessBatchInput preprocess_batch_input(const Options& o) {
  PreprocessBatchInput in;
  in.n_samples = o.count("nSamples", 1);
  in.n_channels = o.count("nChannels", 1);
  in.raw_stride = o.count("rowStride", 1);
  if (in.raw_stride < in.n_channels) {
    o.range_error("rowStride", "must be ≥ nChannels (" + std::to_string(in.n_channels) + ")");
  }
  in.raw = o.array<std::int16_t>("raw", napi_int16_array, checked_product(o, "nSamples", in.n_samples, in.raw_stride))
               .Data();
  in.gains = o.optional_array<double>("gains", napi_float64_array, in.n_channels);
  in.good = o.array<std::uint8_t>("good", napi_uint8_array, in.n_channels).Data();
  in.n_nearest = o.count("nNearest", 1);
  const std::size_t nk = checked_product(o, "nChannels", in.n_channels, in.n_nearest);
  in.whitening_indices = o.array<std::int32_t>("indices", napi_int32_array, nk).Data();
  in.whitening_weights = o.array<float>("weights", napi_float32_array, nk).Data();
  in.highpass = highpass_options(o);
  in.scale = o.number("scale");
  in.common_reference = o.boolean("commonReference");
  return in;
}

}  // namespace spikeshard::addon_common

#endif  // SPIKESHARD_ADDON_COMMON_PREPROCESS_ARGS_H_

// SPDX-License-Identifier: GPL-3.0-or-later
// The destripeBatch fields shared by the CPU addon's destripeBatch and the CUDA addon's IBL
// waveform entries (options style of args.h), read in one order so that both backends report the
// same first mistake.
#ifndef SPIKESHARD_ADDON_COMMON_DESTRIPE_ARGS_H_
#define SPIKESHARD_ADDON_COMMON_DESTRIPE_ARGS_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "args.h"
#include "preprocess_args.h"
#include "spikeshard/destripe.h"

namespace spikeshard::addon_common {

// {raw: Int16Array (nSamples × rowStride), nSamples, nChannels, rowStride, gains: Float64Array |
// null, shiftSamples: Float64Array | null, xUm, yUm: Float64Array, shank: Int32Array | null,
// labels: Int32Array, order, cutoffHz, sampleRateHz, interpLengthUm, interpPower, interpMinWeight,
// kfilter: boolean, kOrder, kCutoff, kPadChannels, agcWindowSamples, mute: boolean,
// saturationMaxCount, saturationLevelFraction, saturationStepUv, saturationChannelFraction,
// reference: Uint8Array | null}. The arrays are viewed in place.
inline DestripeInput destripe_input(const Options& o) {
  DestripeInput in;
  in.n_samples = o.count("nSamples", 1);
  in.n_channels = o.count("nChannels", 1);
  in.raw_stride = o.count("rowStride", 1);
  const std::size_t nc = in.n_channels;
  if (in.raw_stride < nc) o.range_error("rowStride", "must be ≥ nChannels (" + std::to_string(nc) + ")");
  in.raw = o.array<std::int16_t>("raw", napi_int16_array, checked_product(o, "nSamples", in.n_samples, in.raw_stride))
               .Data();
  in.gains = o.optional_array<double>("gains", napi_float64_array, nc);
  in.shift_samples = o.optional_array<double>("shiftSamples", napi_float64_array, nc);
  in.x_um = o.array<double>("xUm", napi_float64_array, nc).Data();
  in.y_um = o.array<double>("yUm", napi_float64_array, nc).Data();
  in.shank = o.optional_array<std::int32_t>("shank", napi_int32_array, nc);
  in.labels = o.array<std::int32_t>("labels", napi_int32_array, nc).Data();
  in.highpass = highpass_options(o);
  in.interpolation.length_um = o.number("interpLengthUm");
  in.interpolation.power = o.number("interpPower");
  in.interpolation.min_weight = o.number("interpMinWeight");
  in.kfilter = o.boolean("kfilter");
  in.k.order = o.integer("kOrder");
  in.k.cutoff = o.number("kCutoff");
  in.k.pad_channels = o.count("kPadChannels");
  in.k.agc_window_samples = o.count("agcWindowSamples");
  in.mute = o.boolean("mute");
  in.saturation.max_count = o.number("saturationMaxCount");
  in.saturation.level_fraction = o.number("saturationLevelFraction");
  in.saturation.step_uv = o.number("saturationStepUv");
  in.saturation.channel_fraction = o.number("saturationChannelFraction");
  in.reference = o.optional_array<std::uint8_t>("reference", napi_uint8_array, nc);
  return in;
}

}  // namespace spikeshard::addon_common

#endif  // SPIKESHARD_ADDON_COMMON_DESTRIPE_ARGS_H_

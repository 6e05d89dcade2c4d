// SPDX-License-Identifier: GPL-3.0-or-later
// The driftDetectSpikes result, written the same way by the CPU addon and the CUDA addon.
#ifndef SPIKESHARD_ADDON_COMMON_DRIFT_ARGS_H_
#define SPIKESHARD_ADDON_COMMON_DRIFT_ARGS_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>

#include "spikeshard/drift.h"

namespace spikeshard::addon_common {

// {samples: Int32Array, centres: Int32Array, depthsUm: Float32Array, amplitudes: Float32Array,
// found}: one entry per kept spike; found counts the spikes in the own range before the capacity cut.
inline Napi::Object drift_detection_to_js(Napi::Env env, const DriftDetection& d) {
  const std::size_t n = d.spikes.size();
  Napi::Int32Array samples = Napi::Int32Array::New(env, n);
  Napi::Int32Array centres = Napi::Int32Array::New(env, n);
  Napi::Float32Array depths = Napi::Float32Array::New(env, n);
  Napi::Float32Array amps = Napi::Float32Array::New(env, n);
  for (std::size_t i = 0; i < n; ++i) {
    samples[i] = static_cast<std::int32_t>(d.spikes[i].sample);
    centres[i] = static_cast<std::int32_t>(d.spikes[i].centre);
    depths[i] = d.spikes[i].depth_um;
    amps[i] = d.spikes[i].amplitude;
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("samples", samples);
  out.Set("centres", centres);
  out.Set("depthsUm", depths);
  out.Set("amplitudes", amps);
  out.Set("found", static_cast<double>(d.found));
  return out;
}

}  // namespace spikeshard::addon_common

#endif  // SPIKESHARD_ADDON_COMMON_DRIFT_ARGS_H_

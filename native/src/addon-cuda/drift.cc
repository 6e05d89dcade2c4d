// SPDX-License-Identifier: GPL-3.0-or-later
// Drift-detection glue of the CUDA addon (see drift.h). The geometry is built on the host by the
// CPU core's make_detector_geometry, so both backends detect on the same virtual centres.
#include "drift.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "args.h"
#include "drift_args.h"
#include "drift_backend.h"
#include "preprocess_args.h"
#include "promise_worker.h"
#include "spikeshard/drift.h"
#include "spikeshard/preprocess.h"

namespace spikeshard::addon_cuda {

namespace {

using addon_common::Args;
using addon_common::describe;
using addon_common::drift_detection_to_js;
using addon_common::guarded;
using addon_common::Options;
using addon_common::preprocess_batch_input;

double positive(const Args& a, const Napi::Object& p, const char* key) {
  const Napi::Value v = p.Get(key);
  const double d = a.number(v, std::string("params.") + key, 0, std::numeric_limits<double>::max());
  if (!(d > 0)) a.range_error(std::string("params.") + key, "a positive number", std::to_string(d));
  return d;
}

std::size_t integer(const Args& a, const Napi::Object& p, const char* key, double lo, double hi) {
  return static_cast<std::size_t>(a.integer(p.Get(key), std::string("params.") + key, static_cast<std::int64_t>(lo),
                                            static_cast<std::int64_t>(hi)));
}

// Arguments after the block: (xUm, yUm, wTemp, params) at info[first..first+3], as the CPU binding.
struct Detection {
  std::shared_ptr<const DetectorGeometry> geometry;
  cuda::DriftDetectArgs args;
};

Detection detection_args(const Args& a, const Napi::CallbackInfo& info, std::size_t first, std::size_t nc,
                         std::size_t nt) {
  Detection d;
  const double* xs = a.typed<double>(info[first], "xUm", nc, "one position per channel");
  const double* ys = a.typed<double>(info[first + 1], "yUm", nc, "one position per channel");
  std::size_t w_length = 0;
  const float* w = a.typed_any<float>(info[first + 2], "wTemp", w_length);
  const Napi::Object p = a.object(info[first + 3], "params");
  DriftDetectorParams& dp = d.args.params;
  dp.nt0 = static_cast<int>(integer(a, p, "nt0", 1, 10000));
  dp.nt0min = static_cast<int>(integer(a, p, "nt0min", 1, dp.nt0));
  dp.threshold = positive(a, p, "threshold");
  dp.n_nearest_channels = integer(a, p, "nearestChannels", 1, 64);
  dp.n_sizes = integer(a, p, "spatialSizes", 1, 100);
  dp.size_step_um = positive(a, p, "sizeStepUm");
  dp.centre_x_step_um = positive(a, p, "centreXStepUm");
  dp.centre_max_site_distance_um = positive(a, p, "centreMaxSiteDistanceUm");
  dp.neighbour_radius_um = positive(a, p, "neighbourRadiusUm");
  dp.max_neighbours = integer(a, p, "maxNeighbours", 0, 1e6);
  dp.window_samples = static_cast<int>(integer(a, p, "windowSamples", 1, 10000));
  d.args.own_begin = integer(a, p, "ownBeginSample", 0, static_cast<double>(nt));
  d.args.own_end = integer(a, p, "ownEndSample", static_cast<double>(d.args.own_begin), static_cast<double>(nt));
  d.args.capacity = integer(a, p, "capacity", 0, 1e9);
  const auto nt0 = static_cast<std::size_t>(dp.nt0);
  if (w_length == 0 || w_length % nt0 != 0) {
    a.range_error("wTemp", "a non-empty length that is a multiple of params.nt0 = " + std::to_string(nt0),
                  std::to_string(w_length));
  }
  d.geometry = shared_detector_geometry(xs, ys, nc, dp);
  d.args.geometry = d.geometry.get();
  d.args.w_temp = w;
  d.args.n_prototypes = w_length / nt0;
  return d;
}

// [sync] driftDetectSpikes(data, nChannels, xUm, yUm, wTemp, params) → {samples, centres, depthsUm,
// amplitudes, found}: the CPU binding's function on the device (same spikes, bitwise values).
Napi::Value DetectSpikes(const Napi::CallbackInfo& info) {
  const char* fn = "driftDetectSpikes";
  return guarded(info, [&]() -> Napi::Value {
    const Args a(info, fn, 6);
    std::size_t length = 0;
    const float* data = a.typed_any<float>(info[0], "data", length);
    const auto nc = static_cast<std::size_t>(a.integer(info[1], "nChannels", 1, 1 << 20));
    if (length % nc != 0) {
      a.range_error("data", "a length that is a multiple of nChannels = " + std::to_string(nc), std::to_string(length));
    }
    const std::size_t nt = length / nc;
    if (nt > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
      a.range_error("data", "at most 2^31 - 1 samples", std::to_string(nt));
    }
    const Detection d = detection_args(a, info, 2, nc, nt);
    return drift_detection_to_js(info.Env(), cuda::detect_drift_spikes(data, nt, nc, d.args));
  });
}

// The arguments of preprocessDriftDetectSpikes and its async twin, read and checked.
struct FusedDetection {
  PreprocessBatchInput input;
  Detection detection;
};

FusedDetection fused_detection_args(const Napi::CallbackInfo& info, const char* fn) {
  const Args a(info, fn, 5);
  if (!info[0].IsObject() || info[0].IsArray() || info[0].IsTypedArray()) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": batch: expected an object, got " + describe(info[0]));
  }
  const Options o(info[0].As<Napi::Object>(), info.Env(), fn);
  FusedDetection f{preprocess_batch_input(o), {}};
  if (f.input.n_samples > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    a.range_error("batch.nSamples", "at most 2^31 - 1 samples", std::to_string(f.input.n_samples));
  }
  f.detection = detection_args(a, info, 1, f.input.n_channels, f.input.n_samples);
  return f;
}

// [sync] preprocessDriftDetectSpikes(batch: {...preprocessBatch fields}, xUm, yUm, wTemp, params) →
// the result of driftDetectSpikes on preprocessBatch(batch) (no drift shift), computed without
// the whitened block leaving the device: int16 in, spikes out. params as driftDetectSpikes'
// (own range relative to the batch's first row).
Napi::Value PreprocessDetectSpikes(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    FusedDetection f = fused_detection_args(info, "preprocessDriftDetectSpikes");
    return drift_detection_to_js(info.Env(), cuda::preprocess_detect_drift_spikes(f.input, f.detection.args));
  });
}

// [async] preprocessDriftDetectSpikesAsync(same arguments) → Promise of its result, computed on a
// libuv worker thread (arguments checked here first, as the fused match's async entry).
Napi::Value PreprocessDetectSpikesAsync(const Napi::CallbackInfo& info) {
  const char* fn = "preprocessDriftDetectSpikesAsync";
  return guarded(info, [&]() -> Napi::Value {
    return addon_common::queue_promise<DriftDetection>(
        info, fn, fused_detection_args(info, fn),
        [](FusedDetection& f) {
          return cuda::preprocess_detect_drift_spikes(f.input, f.detection.args);
        },
        [](Napi::Env env, DriftDetection&& d, FusedDetection&) -> Napi::Value { return drift_detection_to_js(env, d); });
  });
}

}  // namespace

void register_drift(Napi::Env env, Napi::Object exports) {
  exports.Set("driftDetectSpikes", Napi::Function::New(env, DetectSpikes));
  exports.Set("preprocessDriftDetectSpikes", Napi::Function::New(env, PreprocessDetectSpikes));
  exports.Set("preprocessDriftDetectSpikesAsync", Napi::Function::New(env, PreprocessDetectSpikesAsync));
}

}  // namespace spikeshard::addon_cuda

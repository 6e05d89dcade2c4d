// SPDX-License-Identifier: GPL-3.0-or-later
// IBL waveform glue of the CUDA addon (see destripe.h). The destriping's fields are read by the
// CPU binding's parser (src/addon-common/destripe_args.h); the device accepts only kfilter = false
// and mute = false (RangeError otherwise, from the backend's std::invalid_argument).
#include "destripe.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "args.h"
#include "cuda_backend.h"
#include "destripe_args.h"
#include "promise_worker.h"
#include "spikeshard/destripe.h"

namespace spikeshard::addon_cuda {

namespace {

using addon_common::checked_product;
using addon_common::destripe_input;
using addon_common::guarded;
using addon_common::Options;

// [sync] destripeBatch: as the CPU binding (nSaturated is 0: the device has no saturation mute).
Napi::Value DestripeBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "destripeBatch");
    const DestripeInput in = destripe_input(o);
    auto out = Napi::Float32Array::New(o.env(), checked_product(o, "nSamples", in.n_samples, in.n_channels));
    cuda::destripe_block(in, out.Data());
    Napi::Object result = Napi::Object::New(o.env());
    result.Set("data", out);
    result.Set("nSaturated", 0.0);
    return result;
  });
}

// The arguments of destripeCutWaveforms and its async twin, read and checked, with the output
// array (created here, on the JavaScript thread) that the device results are copied into.
struct CutArgs {
  DestripeInput input;
  cuda::WaveformCut cut;
  Napi::Reference<Napi::Float32Array> out;
  float* out_data = nullptr;
};

CutArgs cut_args(const Napi::CallbackInfo& info, const char* fn) {
  Options o(info, fn);
  CutArgs a;
  a.input = destripe_input(o);
  cuda::WaveformCut& c = a.cut;
  c.n_waves = o.count("nWaves");
  c.n_rows = o.count("nRows", 1);
  c.length = o.count("length", 1);
  c.starts = o.array<std::int32_t>("starts", napi_int32_array, c.n_waves).Data();
  const std::size_t rows = checked_product(o, "nRows", c.n_waves, c.n_rows);
  c.channels = o.array<std::int32_t>("channels", napi_int32_array, rows).Data();
  c.scale = o.number("scale");
  auto out = Napi::Float32Array::New(o.env(), checked_product(o, "length", rows, c.length));
  a.out_data = out.Data();
  a.out = Napi::Reference<Napi::Float32Array>::New(out, 1);
  return a;
}

// [sync] destripeCutWaveforms({...destripeBatch fields, starts: Int32Array (nWaves), channels:
// Int32Array (nWaves × nRows; nChannels pads), nWaves, nRows, length, scale}) → Float32Array
// (nWaves × nRows × length): cutWaveforms(destripeBatch(...)) without the block leaving the device.
Napi::Value DestripeCutWaveforms(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    CutArgs a = cut_args(info, "destripeCutWaveforms");
    cuda::destripe_cut_waveforms(a.input, a.cut, a.out_data);
    return a.out.Value();
  });
}

// [async] destripeCutWaveformsAsync(same options) → Promise of the same Float32Array, computed on a
// libuv worker thread (arguments checked here first; bad ones throw before it returns).
Napi::Value DestripeCutWaveformsAsync(const Napi::CallbackInfo& info) {
  const char* fn = "destripeCutWaveformsAsync";
  return guarded(info, [&]() -> Napi::Value {
    return addon_common::queue_promise<bool>(
        info, fn, cut_args(info, fn),
        [](CutArgs& a) {
          cuda::destripe_cut_waveforms(a.input, a.cut, a.out_data);
          return true;
        },
        [](Napi::Env, bool&&, CutArgs& a) -> Napi::Value { return a.out.Value(); });
  });
}

}  // namespace

void register_destripe(Napi::Env env, Napi::Object exports) {
  exports.Set("destripeBatch", Napi::Function::New(env, DestripeBatch));
  exports.Set("destripeCutWaveforms", Napi::Function::New(env, DestripeCutWaveforms));
  exports.Set("destripeCutWaveformsAsync", Napi::Function::New(env, DestripeCutWaveformsAsync));
}

}  // namespace spikeshard::addon_cuda

// SPDX-License-Identifier: GPL-3.0-or-later
// The spikeshard_cuda addon: the CUDA backend's kernels with the CPU binding's function names and
// argument shapes (see native/lib/binding-cuda.ts), plus the device's description and a
// micro-benchmark. Every function is [sync].
//
// Loading the addon never touches the GPU; describe() reports whether a device is usable, and the
// kernels throw Error (with CUDA's error string) when none is.
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <thread>

#include "cuda_backend.h"
#include "matching.h"
#include "options.h"
#include "spikeshard/preprocess.h"
#include "spikeshard/threads.h"
#include "spikeshard/version.h"

namespace spikeshard::addon_cuda {

namespace {

HighpassOptions highpass_options(const Fields& o) {
  HighpassOptions h;
  h.order = o.integer("order");
  h.cutoff_hz = o.number("cutoffHz");
  h.sample_rate_hz = o.number("sampleRateHz");
  return h;
}

// [sync] describe() → {backend: 'cuda', coreVersion, hardwareThreads, defaultThreads, device: {...}}.
Napi::Value Describe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const cuda::DeviceInfo d = cuda::describe_device();
  Napi::Object device = Napi::Object::New(env);
  device.Set("available", d.available);
  device.Set("reason", d.reason);
  device.Set("deviceCount", d.device_count);
  device.Set("name", d.name);
  device.Set("totalMemoryBytes", static_cast<double>(d.total_memory_bytes));
  device.Set("freeMemoryBytes", static_cast<double>(d.free_memory_bytes));
  device.Set("computeCapability", std::to_string(d.compute_major) + "." + std::to_string(d.compute_minor));
  device.Set("multiprocessors", d.multiprocessors);
  device.Set("driverVersion", d.driver_version);
  device.Set("runtimeVersion", d.runtime_version);
  device.Set("maxContextBytes", static_cast<double>(cuda::kMaxDeviceBytes));
  Napi::Object out = Napi::Object::New(env);
  out.Set("backend", "cuda");
  out.Set("coreVersion", kCoreVersion);
  out.Set("hardwareThreads", static_cast<double>(std::thread::hardware_concurrency()));
  out.Set("defaultThreads", default_threads());
  out.Set("device", device);
  return out;
}

// [sync] setThreads(n): accepted for interface parity with the CPU binding (host-side helpers).
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(env, "setThreads expects one number (threads, 0 = all cores)");
  }
  set_default_threads(info[0].As<Napi::Number>().Int32Value());
  return env.Undefined();
}

// [sync] highpassBlock: as the CPU binding.
Napi::Value HighpassBlock(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Fields o(info, "highpassBlock");
    const std::size_t n = o.count("nSamples", 1), nc = o.count("nChannels", 1), stride = o.count("rowStride", 1);
    if (stride < nc) o.range_error("rowStride", "must be ≥ nChannels (" + std::to_string(nc) + ")");
    const std::size_t length = o.product("nSamples", n, stride);
    const double* gains = o.optional_array<double>("gains", napi_float64_array, nc);
    const HighpassOptions h = highpass_options(o);
    auto out = Napi::Float32Array::New(o.env(), o.product("nSamples", n, nc));
    if (o.has_type("data", napi_int16_array)) {
      cuda::highpass_block(o.array<std::int16_t>("data", napi_int16_array, length).Data(), stride, gains, n, nc, h,
                           out.Data());
    } else {
      cuda::highpass_block(o.array<float>("data", napi_float32_array, length).Data(), stride, gains, n, nc, h,
                           out.Data());
    }
    return out;
  });
}

// [sync] commonMedianReference: as the CPU binding (returns a new array).
Napi::Value CommonMedianReference(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Fields o(info, "commonMedianReference");
    const std::size_t n = o.count("nSamples", 1), nc = o.count("nChannels", 1);
    auto data = o.array<float>("data", napi_float32_array, o.product("nSamples", n, nc));
    auto good = o.array<std::uint8_t>("good", napi_uint8_array, nc);
    auto out = Napi::Float32Array::New(o.env(), n * nc);
    std::memcpy(out.Data(), data.Data(), n * nc * sizeof(float));
    cuda::common_median_reference(out.Data(), n, nc, good.Data());
    return out;
  });
}

// [sync] applyWhitening: as the CPU binding.
Napi::Value ApplyWhitening(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Fields o(info, "applyWhitening");
    const std::size_t n = o.count("nSamples", 1), nc = o.count("nChannels", 1), k = o.count("nNearest", 1);
    auto data = o.array<float>("data", napi_float32_array, o.product("nSamples", n, nc));
    auto indices = o.array<std::int32_t>("indices", napi_int32_array, o.product("nChannels", nc, k));
    auto weights = o.array<float>("weights", napi_float32_array, nc * k);
    const double scale = o.number("scale");
    auto out = Napi::Float32Array::New(o.env(), n * nc);
    cuda::apply_whitening(data.Data(), n, nc, indices.Data(), weights.Data(), k, scale, out.Data());
    return out;
  });
}

PreprocessBatchInput batch_input(const Fields& o) {
  PreprocessBatchInput in;
  in.n_samples = o.count("nSamples", 1);
  in.n_channels = o.count("nChannels", 1);
  in.raw_stride = o.count("rowStride", 1);
  if (in.raw_stride < in.n_channels) {
    o.range_error("rowStride", "must be ≥ nChannels (" + std::to_string(in.n_channels) + ")");
  }
  in.raw =
      o.array<std::int16_t>("raw", napi_int16_array, o.product("nSamples", in.n_samples, in.raw_stride)).Data();
  in.gains = o.optional_array<double>("gains", napi_float64_array, in.n_channels);
  in.good = o.array<std::uint8_t>("good", napi_uint8_array, in.n_channels).Data();
  in.n_nearest = o.count("nNearest", 1);
  const std::size_t nk = o.product("nChannels", in.n_channels, in.n_nearest);
  in.whitening_indices = o.array<std::int32_t>("indices", napi_int32_array, nk).Data();
  in.whitening_weights = o.array<float>("weights", napi_float32_array, nk).Data();
  in.highpass = highpass_options(o);
  in.scale = o.number("scale");
  in.common_reference = o.boolean("commonReference");
  return in;
}

const float* kriging_field(const Fields& o, std::size_t n_channels) {
  return o.optional_array<float>("krigingMatrix", napi_float32_array, o.product("nChannels", n_channels, n_channels));
}

// [sync] preprocessBatch: as the CPU binding; raw → whitened on the device.
Napi::Value PreprocessBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Fields o(info, "preprocessBatch");
    const PreprocessBatchInput in = batch_input(o);
    auto out = Napi::Float32Array::New(o.env(), in.n_samples * in.n_channels);
    cuda::preprocess_batch(in, out.Data());
    return out;
  });
}

// [sync] preprocessShiftBatch({...preprocessBatch fields, krigingMatrix: Float32Array (nChannels²)
// | null}) → Float32Array: preprocessBatch then driftApplyKriging, without leaving the device.
Napi::Value PreprocessShiftBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Fields o(info, "preprocessShiftBatch");
    const PreprocessBatchInput in = batch_input(o);
    const float* m = kriging_field(o, in.n_channels);
    auto out = Napi::Float32Array::New(o.env(), in.n_samples * in.n_channels);
    cuda::preprocess_shift_batch(in, m, out.Data());
    return out;
  });
}

// [sync] preprocessShiftMatchBatch(batch: {...preprocessShiftBatch fields}, model, matchOptions,
// returnResidual) → RawMatchResult: preprocessShiftBatch then matchBatch (model and options as the
// CPU binding's matchBatch) on its output, without the batch leaving the device; the residual is
// null unless returnResidual.
Napi::Value PreprocessShiftMatchBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const char* fn = "preprocessShiftMatchBatch";
    Napi::Env env = info.Env();
    if (info.Length() != 4) {
      throw Napi::TypeError::New(env, std::string(fn) + ": expected 4 arguments (batch, model, options, "
                                                        "returnResidual), got " + std::to_string(info.Length()));
    }
    if (!info[0].IsObject() || info[0].IsArray() || info[0].IsTypedArray()) {
      throw Napi::TypeError::New(env, std::string(fn) + ": batch: expected an object, got " + describe_value(info[0]));
    }
    Fields o(info[0].As<Napi::Object>(), env, fn);
    const PreprocessBatchInput in = batch_input(o);
    const float* m = kriging_field(o, in.n_channels);
    const TemplateSet model = read_match_model(fn, info[1]);
    if (model.n_channels != in.n_channels) {
      throw Napi::RangeError::New(env, std::string(fn) + ": model.nChannels: expected " +
                                           std::to_string(in.n_channels) + " (batch.nChannels), got " +
                                           std::to_string(model.n_channels));
    }
    if (in.n_samples < static_cast<std::size_t>(model.nt0)) {
      throw Napi::RangeError::New(env, std::string(fn) + ": batch.nSamples: expected at least model.templateSamples = " +
                                           std::to_string(model.nt0) + ", got " + std::to_string(in.n_samples));
    }
    const MatchOptions mo = read_match_options(fn, info[2], model, in.n_samples);
    if (!info[3].IsBoolean()) {
      throw Napi::TypeError::New(env, std::string(fn) + ": returnResidual: expected a boolean, got " +
                                          describe_value(info[3]));
    }
    const bool residual = info[3].As<Napi::Boolean>().Value();
    const MatchResult r = cuda::preprocess_shift_match_batch(in, m, model, mo, residual);
    return write_match_result(env, r, mo, residual);
  });
}

// [sync] benchmarkPreprocess({...preprocessShiftBatch fields, repeats}) → {repeats, stages: [{name,
// ms, bytes}]}: per-stage device times of the fused chain (CUDA events, mean over repeats).
Napi::Value BenchmarkPreprocess(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Fields o(info, "benchmarkPreprocess");
    const PreprocessBatchInput in = batch_input(o);
    const float* m = kriging_field(o, in.n_channels);
    const int repeats = static_cast<int>(o.count("repeats", 1));
    const cuda::BenchmarkResult r = cuda::benchmark_preprocess(in, m, repeats);
    Napi::Array stages = Napi::Array::New(o.env());
    for (int s = 0; s < cuda::BenchmarkResult::kStages; ++s) {
      Napi::Object stage = Napi::Object::New(o.env());
      stage.Set("name", r.stages[s].name);
      stage.Set("ms", r.stages[s].ms);
      stage.Set("bytes", r.stages[s].bytes);
      stages.Set(static_cast<std::uint32_t>(s), stage);
    }
    Napi::Object out = Napi::Object::New(o.env());
    out.Set("repeats", r.repeats);
    out.Set("stages", stages);
    return out;
  });
}

// [sync] driftApplyKriging(data, nChannels, matrix, out) → undefined; positional, as the CPU binding.
Napi::Value ApplyKriging(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    const char* fn = "driftApplyKriging";
    if (info.Length() != 4) {
      throw Napi::TypeError::New(env, std::string(fn) + ": expected 4 arguments, got " + std::to_string(info.Length()));
    }
    auto f32 = [&](std::size_t i, const char* name) {
      const Napi::Value v = info[i];
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
        throw Napi::TypeError::New(env, std::string(fn) + ": " + name + ": expected a Float32Array, got " +
                                            describe_value(v));
      }
      return v.As<Napi::Float32Array>();
    };
    const Napi::Float32Array data = f32(0, "data");
    if (!info[1].IsNumber()) {
      throw Napi::TypeError::New(env, std::string(fn) + ": nChannels: expected an integer, got " +
                                          describe_value(info[1]));
    }
    const double nc_value = info[1].As<Napi::Number>().DoubleValue();
    if (!(nc_value >= 1 && nc_value == std::floor(nc_value) && nc_value <= 1e6)) {
      throw Napi::RangeError::New(env, std::string(fn) + ": nChannels: expected an integer ≥ 1, got " +
                                           std::to_string(nc_value));
    }
    const auto nc = static_cast<std::size_t>(nc_value);
    if (data.ElementLength() % nc != 0) {
      throw Napi::RangeError::New(env, std::string(fn) + ": data: expected a multiple of nChannels (" +
                                           std::to_string(nc) + ") values, got " +
                                           std::to_string(data.ElementLength()));
    }
    const Napi::Float32Array m = f32(2, "matrix");
    if (m.ElementLength() != nc * nc) {
      throw Napi::RangeError::New(env, std::string(fn) + ": matrix: expected nChannels × nChannels (" +
                                           std::to_string(nc * nc) + ") values, got " +
                                           std::to_string(m.ElementLength()));
    }
    Napi::Float32Array out = f32(3, "out");
    if (out.ElementLength() != data.ElementLength()) {
      throw Napi::RangeError::New(env, std::string(fn) + ": out: expected the length of data (" +
                                           std::to_string(data.ElementLength()) + "), got " +
                                           std::to_string(out.ElementLength()));
    }
    const float* src = data.Data();
    float* dst = out.Data();
    const bool disjoint = dst + out.ElementLength() <= src || src + data.ElementLength() <= dst;
    if (!disjoint && dst != src) {
      throw Napi::RangeError::New(env, std::string(fn) + ": out: expected either data itself or a buffer that does "
                                                         "not overlap it, got a partially overlapping view");
    }
    cuda::apply_kriging(src, data.ElementLength() / nc, nc, m.Data(), dst);
    return env.Undefined();
  });
}

// [sync] deviceMemory() → {bytesInUse, maxBytes}; releaseDeviceMemory() frees the context's buffers.
Napi::Value DeviceMemory(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("bytesInUse", static_cast<double>(cuda::device_bytes_in_use()));
    out.Set("maxBytes", static_cast<double>(cuda::kMaxDeviceBytes));
    return out;
  });
}

Napi::Value ReleaseDeviceMemory(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    cuda::release_device_memory();
    return info.Env().Undefined();
  });
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("describe", Napi::Function::New(env, Describe));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("highpassBlock", Napi::Function::New(env, HighpassBlock));
  exports.Set("commonMedianReference", Napi::Function::New(env, CommonMedianReference));
  exports.Set("applyWhitening", Napi::Function::New(env, ApplyWhitening));
  exports.Set("preprocessBatch", Napi::Function::New(env, PreprocessBatch));
  exports.Set("preprocessShiftBatch", Napi::Function::New(env, PreprocessShiftBatch));
  exports.Set("benchmarkPreprocess", Napi::Function::New(env, BenchmarkPreprocess));
  exports.Set("driftApplyKriging", Napi::Function::New(env, ApplyKriging));
  exports.Set("deviceMemory", Napi::Function::New(env, DeviceMemory));
  exports.Set("releaseDeviceMemory", Napi::Function::New(env, ReleaseDeviceMemory));
  exports.Set("preprocessShiftMatchBatch", Napi::Function::New(env, PreprocessShiftMatchBatch));
  register_matching(env, exports);
  return exports;
}

}  // namespace spikeshard::addon_cuda

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return spikeshard::addon_cuda::Init(env, exports);
}

NODE_API_MODULE(spikeshard_cuda, InitModule)

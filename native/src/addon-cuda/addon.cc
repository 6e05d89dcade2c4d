// SPDX-License-Identifier: GPL-3.0-or-later
// The spikeshard_cuda addon: the CUDA backend's kernels with the CPU binding's function names and
// argument shapes (see native/lib/binding-cuda.ts), plus the device's description and a
// micro-benchmark. Every function is [sync].
//
// Loading the addon never touches the GPU; describe() reports whether a device is usable, and the
// kernels throw Error (with CUDA's error string) when none is.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cuda_backend.h"
#include "destripe.h"
#include "drift.h"
#include "matching.h"
#include "args.h"
#include "match_args.h"
#include "preprocess_args.h"
#include "promise_worker.h"
#include "spikeshard/preprocess.h"
#include "spikeshard/threads.h"
#include "spikeshard/version.h"

namespace spikeshard::addon_cuda {

namespace {

using addon_common::Args;
using addon_common::checked_product;
using addon_common::describe;
using addon_common::guarded;
using addon_common::highpass_options;
using addon_common::Options;
using addon_common::preprocess_batch_input;

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
    Options o(info, "highpassBlock");
    const std::size_t n = o.count("nSamples", 1), nc = o.count("nChannels", 1), stride = o.count("rowStride", 1);
    if (stride < nc) o.range_error("rowStride", "must be ≥ nChannels (" + std::to_string(nc) + ")");
    const std::size_t length = checked_product(o, "nSamples", n, stride);
    const double* gains = o.optional_array<double>("gains", napi_float64_array, nc);
    const HighpassOptions h = highpass_options(o);
    auto out = Napi::Float32Array::New(o.env(), checked_product(o, "nSamples", n, nc));
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
    Options o(info, "commonMedianReference");
    const std::size_t n = o.count("nSamples", 1), nc = o.count("nChannels", 1);
    auto data = o.array<float>("data", napi_float32_array, checked_product(o, "nSamples", n, nc));
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
    Options o(info, "applyWhitening");
    const std::size_t n = o.count("nSamples", 1), nc = o.count("nChannels", 1), k = o.count("nNearest", 1);
    auto data = o.array<float>("data", napi_float32_array, checked_product(o, "nSamples", n, nc));
    auto indices = o.array<std::int32_t>("indices", napi_int32_array, checked_product(o, "nChannels", nc, k));
    auto weights = o.array<float>("weights", napi_float32_array, nc * k);
    const double scale = o.number("scale");
    auto out = Napi::Float32Array::New(o.env(), n * nc);
    cuda::apply_whitening(data.Data(), n, nc, indices.Data(), weights.Data(), k, scale, out.Data());
    return out;
  });
}

const float* kriging_field(const Options& o, std::size_t n_channels) {
  return o.optional_array<float>("krigingMatrix", napi_float32_array, checked_product(o, "nChannels", n_channels, n_channels));
}

// The shift of a block: `krigingMatrix` (one matrix for every row) or `krigingPieces` ({rowStart,
// rowEnd: Int32Array, matrices: Float32Array of pieces × nChannels²}; absent or null: none), not both.
cuda::KrigingPieces kriging_pieces(const Options& o, const PreprocessBatchInput& in) {
  const float* whole = kriging_field(o, in.n_channels);
  const Napi::Value v = o.get("krigingPieces");
  if (v.IsUndefined() || v.IsNull()) return cuda::whole_block(whole, in.n_samples);
  if (whole != nullptr) o.range_error("krigingPieces", "must be null when krigingMatrix is given");
  if (!v.IsObject() || v.IsArray() || v.IsTypedArray()) o.type_error("krigingPieces", "an object or null", v);
  Options p(v.As<Napi::Object>(), o.env(), "krigingPieces");
  auto starts = p.array<std::int32_t>("rowStart", napi_int32_array);
  const std::size_t count = starts.ElementLength();
  auto ends = p.array<std::int32_t>("rowEnd", napi_int32_array, count);
  const std::size_t nc2 = checked_product(o, "nChannels", in.n_channels, in.n_channels);
  auto matrices = p.array<float>("matrices", napi_float32_array, checked_product(p, "matrices", count, nc2));
  cuda::KrigingPieces pieces(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (starts[i] < 0 || ends[i] <= starts[i] || static_cast<std::size_t>(ends[i]) > in.n_samples ||
        (i > 0 && starts[i] < ends[i - 1])) {
      p.range_error("rowStart", "and rowEnd must be sorted, disjoint, non-empty row ranges inside [0, " +
                                    std::to_string(in.n_samples) + "), got [" + std::to_string(starts[i]) + ", " +
                                    std::to_string(ends[i]) + ") at piece " + std::to_string(i));
    }
    pieces[i] = {static_cast<std::size_t>(starts[i]), static_cast<std::size_t>(ends[i]), matrices.Data() + i * nc2};
  }
  return pieces;
}

// [sync] preprocessBatch: as the CPU binding; raw → whitened on the device.
Napi::Value PreprocessBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "preprocessBatch");
    const PreprocessBatchInput in = preprocess_batch_input(o);
    auto out = Napi::Float32Array::New(o.env(), in.n_samples * in.n_channels);
    cuda::preprocess_batch(in, out.Data());
    return out;
  });
}

// [sync] preprocessShiftBatch({...preprocessBatch fields, krigingMatrix: Float32Array (nChannels²)
// | null, krigingPieces?}) → Float32Array: preprocessBatch then driftApplyKriging (on the whole
// block or per piece of rows), without leaving the device.
Napi::Value PreprocessShiftBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "preprocessShiftBatch");
    const PreprocessBatchInput in = preprocess_batch_input(o);
    const cuda::KrigingPieces pieces = kriging_pieces(o, in);
    auto out = Napi::Float32Array::New(o.env(), in.n_samples * in.n_channels);
    cuda::preprocess_shift_batch(in, pieces, out.Data());
    return out;
  });
}

struct FusedArgs {
  PreprocessBatchInput input;
  cuda::KrigingPieces pieces;
  TemplateSet model;
  MatchOptions options;
  bool residual = false;
  std::uint64_t model_key = 0;
  bool has_proposals = false;
  cuda::ProposalInput proposals;
};

// The fused entry's optional proposals argument: {prototypes, nPrototypes, neighbours, nNeighbours,
// templateSamples, troughSample, neighboursSummed, channelRadius, threshold, maxProposals} (the CPU
// proposeTemplates's arguments; the batch's halo and own samples are the match options').
cuda::ProposalInput proposal_input(const Args& a, const Napi::Value& v, std::size_t n_samples, std::size_t n_channels) {
  Napi::Object o = a.object(v, "proposals");
  cuda::ProposalInput p;
  const auto n64 = static_cast<std::int64_t>(n_samples);
  p.n_prototypes = static_cast<int>(a.integer(o.Get("nPrototypes"), "proposals.nPrototypes", 1, 64));
  p.n_neighbours = static_cast<int>(
      a.integer(o.Get("nNeighbours"), "proposals.nNeighbours", 1, static_cast<std::int64_t>(n_channels)));
  p.iC = a.typed<std::int32_t>(o.Get("neighbours"), "proposals.neighbours", n_channels * p.n_neighbours,
                               "nChannels × nNeighbours");
  ProposalOptions& po = p.options;
  po.nt0 = static_cast<int>(a.integer(o.Get("templateSamples"), "proposals.templateSamples", 1, std::min<std::int64_t>(n64, 256)));
  po.nt0min = static_cast<int>(a.integer(o.Get("troughSample"), "proposals.troughSample", 0, po.nt0 - 1));
  po.n_sum = static_cast<int>(a.integer(o.Get("neighboursSummed"), "proposals.neighboursSummed", 1, p.n_neighbours));
  po.channel_radius = static_cast<int>(a.integer(o.Get("channelRadius"), "proposals.channelRadius", 0, 65536));
  po.threshold = static_cast<float>(a.number(o.Get("threshold"), "proposals.threshold", 0.0, 1e6));
  po.max_proposals = static_cast<std::size_t>(
      a.integer(o.Get("maxProposals"), "proposals.maxProposals", 1, addon_common::kMaxDimension));
  p.prototypes = a.typed<float>(o.Get("prototypes"), "proposals.prototypes",
                                static_cast<std::size_t>(po.nt0) * p.n_prototypes, "templateSamples × nPrototypes");
  return p;
}

// (batch, model, options, returnResidual[, repeats]) of the fused entry and its benchmark.
FusedArgs fused_args(const Napi::CallbackInfo& info, const char* fn, std::size_t count,
                     bool optional_proposals = false) {
  Napi::Env env = info.Env();
  const bool extra = optional_proposals && info.Length() == count + 1;
  if (info.Length() != count && !extra) {
    throw Napi::TypeError::New(env, std::string(fn) + ": expected " + std::to_string(count) +
                                        " arguments (batch, model, options, returnResidual" +
                                        (count > 4 ? ", repeats" : "") + "), got " + std::to_string(info.Length()));
  }
  if (!info[0].IsObject() || info[0].IsArray() || info[0].IsTypedArray()) {
    throw Napi::TypeError::New(env, std::string(fn) + ": batch: expected an object, got " + describe(info[0]));
  }
  Options o(info[0].As<Napi::Object>(), env, fn);
  FusedArgs a;
  a.input = preprocess_batch_input(o);
  a.pieces = kriging_pieces(o, a.input);
  const Args args(env, fn);
  a.model = addon_common::read_template_set(args, info[1], "model");
  addon_common::check_model_fits(args, a.model, a.input.n_samples, a.input.n_channels, "batch.nChannels",
                                 "batch.nSamples");
  a.options = addon_common::read_match_options(args, info[2], a.model, a.input.n_samples);
  a.model_key = read_model_key(env, info[2], fn);
  if (!info[3].IsBoolean()) {
    throw Napi::TypeError::New(env, std::string(fn) + ": returnResidual: expected a boolean, got " +
                                        describe(info[3]));
  }
  a.residual = info[3].As<Napi::Boolean>().Value();
  if (extra && !info[count].IsNull() && !info[count].IsUndefined()) {
    a.proposals = proposal_input(args, info[count], a.input.n_samples, a.input.n_channels);
    a.has_proposals = true;
  }
  return a;
}

// [sync] preprocessShiftMatchBatch(batch: {...preprocessShiftBatch fields}, model, matchOptions,
// returnResidual[, proposals]) → RawMatchResult with compact snippet sums (and `proposals`, the CPU
// proposeTemplates's result on the residual, when asked): preprocessShiftBatch then matchBatch
// (model and options as the CPU binding's matchBatch) on its output, without the batch leaving the
// device. snippetSums holds the rows of the templates in snippetTemplates only (those with
// snippetCounts > 0, ascending); the residual is null unless returnResidual.
Napi::Value PreprocessShiftMatchBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    FusedArgs a = fused_args(info, "preprocessShiftMatchBatch", 4, true);
    return write_fused_result(info.Env(),
                              cuda::preprocess_shift_match(a.input, a.pieces, a.model, a.options, a.residual,
                                                           nullptr, a.model_key,
                                                           a.has_proposals ? &a.proposals : nullptr),
                              a.options, a.residual);
  });
}

// [async] preprocessShiftMatchBatchAsync(same arguments) → Promise of preprocessShiftMatchBatch's
// result, computed on a libuv worker thread, so that the JavaScript thread reads and prepares the
// next batch (file read, kriging matrices, pooling the last result) while this one runs on the
// device. The arguments are checked here first (bad ones throw, as the sync entry's do); the call
// leases a free device context (its own stream) or waits for one.
Napi::Value PreprocessShiftMatchBatchAsync(const Napi::CallbackInfo& info) {
  const char* fn = "preprocessShiftMatchBatchAsync";
  return guarded(info, [&]() -> Napi::Value {
    return addon_common::queue_promise<cuda::FusedMatchResult>(
        info, fn, fused_args(info, fn, 4, true),
        [](FusedArgs& a) {
          return cuda::preprocess_shift_match(a.input, a.pieces, a.model, a.options, a.residual, nullptr, a.model_key,
                                              a.has_proposals ? &a.proposals : nullptr);
        },
        [](Napi::Env env, cuda::FusedMatchResult&& r, FusedArgs& a) -> Napi::Value {
          return write_fused_result(env, std::move(r), a.options, a.residual);
        });
  });
}

// [sync] benchmarkPreprocessShiftMatch(batch, model, options, returnResidual, repeats) → {repeats,
// spikesFound, stages: [{name, ms, bytes}], firstStages}: host-clock stages of the fused entry
// (staging copy, upload, preprocessing, matching, download, copy out, total, model upload), mean
// over repeats. An untimed warm-up (allocations, model uploaded without a key) comes first, then
// `firstStages` times one call with options.modelKey (it uploads the model), then the repeats (with
// a key they reuse the resident model; without one each uploads it again).
Napi::Value BenchmarkPreprocessShiftMatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const char* fn = "benchmarkPreprocessShiftMatch";
    FusedArgs a = fused_args(info, fn, 5);
    const int repeats = static_cast<int>(Args(info.Env(), fn).integer(info[4], "repeats", 1, 1000));
    cuda::FusedTiming mean, first;
    std::size_t spikes = 0;
    cuda::preprocess_shift_match(a.input, a.pieces, a.model, a.options, a.residual);  // warm-up (allocations)
    cuda::preprocess_shift_match(a.input, a.pieces, a.model, a.options, a.residual, &first, a.model_key);
    for (int r = 0; r < repeats; ++r) {
      cuda::FusedTiming t;
      spikes = cuda::preprocess_shift_match(a.input, a.pieces, a.model, a.options, a.residual, &t, a.model_key)
                   .match.sample.size();
      for (int s = 0; s < cuda::FusedTiming::kStages; ++s) {
        mean.stages[s].ms += t.stages[s].ms / repeats;
        mean.stages[s].bytes = t.stages[s].bytes;
      }
    }
    Napi::Env env = info.Env();
    auto stage_list = [&](const cuda::FusedTiming& timing) {
      Napi::Array stages = Napi::Array::New(env);
      for (int s = 0; s < cuda::FusedTiming::kStages; ++s) {
        Napi::Object stage = Napi::Object::New(env);
        stage.Set("name", timing.stages[s].name);
        stage.Set("ms", timing.stages[s].ms);
        stage.Set("bytes", timing.stages[s].bytes);
        stages.Set(static_cast<std::uint32_t>(s), stage);
      }
      return stages;
    };
    Napi::Object out = Napi::Object::New(env);
    out.Set("repeats", repeats);
    out.Set("spikesFound", static_cast<double>(spikes));
    out.Set("stages", stage_list(mean));
    out.Set("firstStages", stage_list(first));
    return out;
  });
}

// [sync] benchmarkPreprocess({...preprocessShiftBatch fields, repeats}) → {repeats, stages: [{name,
// ms, bytes}]}: per-stage device times of the fused chain (CUDA events, mean over repeats).
Napi::Value BenchmarkPreprocess(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Options o(info, "benchmarkPreprocess");
    const PreprocessBatchInput in = preprocess_batch_input(o);
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
                                            describe(v));
      }
      return v.As<Napi::Float32Array>();
    };
    const Napi::Float32Array data = f32(0, "data");
    if (!info[1].IsNumber()) {
      throw Napi::TypeError::New(env, std::string(fn) + ": nChannels: expected an integer, got " +
                                          describe(info[1]));
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

// [sync] deviceMemory() → {bytesInUse, maxBytes, residentModelKey, modelUploads, modelReuses,
// lastModelUploadBytes}; releaseDeviceMemory() frees the context's buffers (and the resident model).
Napi::Value DeviceMemory(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("bytesInUse", static_cast<double>(cuda::device_bytes_in_use()));
    out.Set("maxBytes", static_cast<double>(cuda::kMaxDeviceBytes));
    const cuda::ResidentModelStats m = cuda::resident_model_stats();
    out.Set("residentModelKey", static_cast<double>(m.key));
    out.Set("modelUploads", static_cast<double>(m.uploads));
    out.Set("modelReuses", static_cast<double>(m.reuses));
    out.Set("lastModelUploadBytes", m.last_upload_bytes);
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
  exports.Set("preprocessShiftMatchBatchAsync", Napi::Function::New(env, PreprocessShiftMatchBatchAsync));
  exports.Set("benchmarkPreprocessShiftMatch", Napi::Function::New(env, BenchmarkPreprocessShiftMatch));
  register_matching(env, exports);
  register_drift(env, exports);
  register_destripe(env, exports);
  return exports;
}

}  // namespace spikeshard::addon_cuda

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  return spikeshard::addon_cuda::Init(env, exports);
}

NODE_API_MODULE(spikeshard_cuda, InitModule)

// SPDX-License-Identifier: GPL-3.0-or-later
// Bindings of the drift area (classic datashift + prototype waveforms). All [sync]: each call is
// one batch-sized kernel that uses every thread given to parallel_for; the worker runs them off
// its event loop's critical path (see native/lib/binding-drift.ts).
//
// Every argument is checked here: a wrong type throws TypeError, a wrong size or value
// RangeError, both naming the function, the argument, what was expected and what was given.
// Parameter objects must carry every property (the TS wrapper fills defaults).
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "addon.h"
#include "drift_args.h"
#include "spikeshard/drift.h"
#include "spikeshard/prototypes.h"

namespace spikeshard::addon {

namespace {

constexpr double kMaxSafe = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER

std::string number_text(double d) {
  if (d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
  return std::to_string(d);
}

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) return number_text(v.As<Napi::Number>().DoubleValue());
  if (v.IsString()) return "a string";
  if (v.IsBoolean()) return "a boolean";
  if (v.IsTypedArray()) {
    const auto t = v.As<Napi::TypedArray>().TypedArrayType();
    const char* name = t == napi_float32_array   ? "Float32Array"
                       : t == napi_float64_array ? "Float64Array"
                       : t == napi_int32_array   ? "Int32Array"
                       : t == napi_int16_array   ? "Int16Array"
                                                 : "another typed array";
    return std::string(name) + " of length " + std::to_string(v.As<Napi::TypedArray>().ElementLength());
  }
  if (v.IsArray()) return "an Array";
  if (v.IsFunction()) return "a function";
  if (v.IsObject()) return "an object";
  return "a value of another type";
}

// Argument reader of one binding call: every error names the function and the argument.
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn, std::size_t count) : info_(info), env_(info.Env()), fn_(fn) {
    if (info.Length() != count) {
      throw Napi::TypeError::New(env_, std::string(fn) + ": expected " + std::to_string(count) + " arguments, got " +
                                           std::to_string(info.Length()));
    }
  }

  [[noreturn]] void type_error(const std::string& name, const std::string& expected, const Napi::Value& got) const {
    throw Napi::TypeError::New(env_,
                               std::string(fn_) + ": " + name + ": expected " + expected + ", got " + describe(got));
  }
  [[noreturn]] void range_error(const std::string& name, const std::string& expected, const std::string& got) const {
    throw Napi::RangeError::New(env_, std::string(fn_) + ": " + name + ": expected " + expected + ", got " + got);
  }

  template <typename T, napi_typedarray_type kType>
  Napi::TypedArrayOf<T> typed(std::size_t i, const char* name, const char* type_name) const {
    const Napi::Value v = info_[i];
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != kType) type_error(name, type_name, v);
    return v.As<Napi::TypedArrayOf<T>>();
  }
  Napi::Float32Array f32(std::size_t i, const char* name) const {
    return typed<float, napi_float32_array>(i, name, "a Float32Array");
  }
  Napi::Float64Array f64(std::size_t i, const char* name) const {
    return typed<double, napi_float64_array>(i, name, "a Float64Array");
  }

  double number(const Napi::Value& v, const std::string& name) const {
    if (!v.IsNumber()) type_error(name, "a number", v);
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d)) range_error(name, "a finite number", describe(v));
    return d;
  }
  // An integer in [lo, hi] (doubles represent integers exactly up to 2^53).
  std::uint64_t integer(const Napi::Value& v, const std::string& name, double lo, double hi = kMaxSafe) const {
    const double d = number(v, name);
    if (d != std::floor(d) || d < lo || d > hi) {
      range_error(name, "an integer in [" + number_text(lo) + ", " + number_text(hi) + "]", describe(v));
    }
    return static_cast<std::uint64_t>(d);
  }
  double positive(const Napi::Value& v, const std::string& name) const {
    const double d = number(v, name);
    if (!(d > 0)) range_error(name, "a number > 0", describe(v));
    return d;
  }

  std::size_t count(std::size_t i, const char* name, double lo = 1) const {
    return static_cast<std::size_t>(integer(info_[i], name, lo));
  }

  Napi::Object params(std::size_t i) const {
    const Napi::Value v = info_[i];
    if (!v.IsObject() || v.IsArray() || v.IsTypedArray()) type_error("params", "an object", v);
    return v.As<Napi::Object>();
  }
  Napi::Value field(const Napi::Object& o, const char* key) const { return o.Get(key); }
  std::string key(const char* k) const { return std::string("params.") + k; }
  double num(const Napi::Object& o, const char* k) const { return number(field(o, k), key(k)); }
  double pos(const Napi::Object& o, const char* k) const { return positive(field(o, k), key(k)); }
  std::uint64_t intg(const Napi::Object& o, const char* k, double lo, double hi = kMaxSafe) const {
    return integer(field(o, k), key(k), lo, hi);
  }

  void same_length(std::size_t got, std::size_t want, const char* name, const std::string& why) const {
    if (got != want) range_error(name, "length " + std::to_string(want) + " (" + why + ")", std::to_string(got));
  }

  Napi::Env env() const { return env_; }
  const char* fn() const { return fn_; }

 private:
  const Napi::CallbackInfo& info_;
  Napi::Env env_;
  const char* fn_;
};

// Core errors become JS errors: bad shapes/values RangeError, anything else Error.
template <typename Body>
Napi::Value guarded(const Napi::CallbackInfo& info, const char* fn, Body body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string(fn) + ": " + e.what());
  }
}

template <typename T, typename Array>
Array copy_out(Napi::Env env, const T* src, std::size_t n) {
  Array a = Array::New(env, n);
  if (n > 0) std::memcpy(a.Data(), src, n * sizeof(T));
  return a;
}
Napi::Float32Array f32_out(Napi::Env env, const std::vector<float>& v) {
  return copy_out<float, Napi::Float32Array>(env, v.data(), v.size());
}
Napi::Float64Array f64_out(Napi::Env env, const std::vector<double>& v) {
  return copy_out<double, Napi::Float64Array>(env, v.data(), v.size());
}

std::size_t block_samples(const Args& a, const Napi::Float32Array& data, std::size_t n_channels) {
  if (data.ElementLength() % n_channels != 0) {
    a.range_error("data", "a length that is a multiple of nChannels = " + std::to_string(n_channels),
                  std::to_string(data.ElementLength()));
  }
  const std::size_t n_samples = data.ElementLength() / n_channels;
  // Sample indices cross back as Int32Array.
  if (n_samples > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    a.range_error("data", "at most 2^31 - 1 samples", std::to_string(n_samples));
  }
  return n_samples;
}

DriftHistogramParams histogram_params(const Args& a, const Napi::Object& p) {
  DriftHistogramParams h;
  h.bin_um = a.pos(p, "binUm");
  h.n_amp_bins = a.intg(p, "ampBins", 1, 64);
  h.amp_min = a.pos(p, "ampMin");
  h.amp_max = a.pos(p, "ampMax");
  h.amp_clip = a.pos(p, "ampClip");
  if (!(h.amp_max > h.amp_min)) a.range_error("params.ampMax", "a value > params.ampMin", std::to_string(h.amp_max));
  return h;
}

// [sync] driftFindIsolatedSnippets(data, nChannels, params) → {samples, channels, values, snippets}
Napi::Value FindIsolatedSnippets(const Napi::CallbackInfo& info) {
  const char* fn = "driftFindIsolatedSnippets";
  return guarded(info, fn, [&]() -> Napi::Value {
    Args a(info, fn, 3);
    const Napi::Float32Array data = a.f32(0, "data");
    const std::size_t nc = a.count(1, "nChannels");
    const std::size_t nt = block_samples(a, data, nc);
    const Napi::Object p = a.params(2);
    IsolatedPeakParams ip;
    ip.threshold = static_cast<float>(a.num(p, "threshold"));
    ip.local_samples = static_cast<int>(a.intg(p, "localSamples", 0, 1000));
    ip.local_channels = static_cast<int>(a.intg(p, "localChannels", 0, 1000));
    ip.isolation_samples = static_cast<int>(a.intg(p, "isolationSamples", 0, 10000));
    ip.isolation_channels = static_cast<int>(a.intg(p, "isolationChannels", 0, 1000));
    ip.nt0 = static_cast<int>(a.intg(p, "nt0", 1, 10000));
    ip.trough_index = static_cast<int>(a.intg(p, "troughIndex", 0, static_cast<double>(ip.nt0 - 1)));
    ip.own_begin = a.intg(p, "ownBeginSample", 0, static_cast<double>(nt));
    ip.own_end = a.intg(p, "ownEndSample", static_cast<double>(ip.own_begin), static_cast<double>(nt));
    const auto peaks = find_isolated_peaks(data.Data(), nt, nc, ip);
    const auto snippets = extract_snippets(data.Data(), nt, nc, peaks, ip.nt0, ip.trough_index);
    Napi::Env env = a.env();
    Napi::Int32Array samples = Napi::Int32Array::New(env, peaks.size());
    Napi::Int32Array channels = Napi::Int32Array::New(env, peaks.size());
    Napi::Float32Array values = Napi::Float32Array::New(env, peaks.size());
    for (std::size_t i = 0; i < peaks.size(); ++i) {
      samples[i] = static_cast<std::int32_t>(peaks[i].sample);
      channels[i] = static_cast<std::int32_t>(peaks[i].channel);
      values[i] = peaks[i].value;
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("samples", samples);
    out.Set("channels", channels);
    out.Set("values", values);
    out.Set("snippets", f32_out(env, snippets));
    return out;
  });
}

// [sync] driftLearnPrototypes(snippets, nt0, params) → {wTemp, wPca, singularValues, clusterSizes}
Napi::Value LearnPrototypes(const Napi::CallbackInfo& info) {
  const char* fn = "driftLearnPrototypes";
  return guarded(info, fn, [&]() -> Napi::Value {
    Args a(info, fn, 3);
    const Napi::Float32Array snippets = a.f32(0, "snippets");
    const std::size_t nt0 = a.count(1, "nt0");
    if (snippets.ElementLength() % nt0 != 0) {
      a.range_error("snippets", "a length that is a multiple of nt0 = " + std::to_string(nt0),
                    std::to_string(snippets.ElementLength()));
    }
    const std::size_t n = snippets.ElementLength() / nt0;
    const Napi::Object p = a.params(2);
    PrototypeParams pp;
    pp.n_prototypes = a.intg(p, "nPrototypes", 1, static_cast<double>(nt0));
    pp.iterations = static_cast<int>(a.intg(p, "iterations", 0, 10000));
    pp.seed = a.intg(p, "seed", 0);
    pp.trough_index = static_cast<int>(a.intg(p, "troughIndex", 0, static_cast<double>(nt0 - 1)));
    if (n < pp.n_prototypes) {
      a.range_error("snippets", "at least params.nPrototypes = " + std::to_string(pp.n_prototypes) + " snippets",
                    std::to_string(n));
    }
    const Prototypes pr = learn_prototypes(snippets.Data(), n, nt0, pp);
    Napi::Env env = a.env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("wTemp", f32_out(env, pr.w_temp));
    out.Set("wPca", f32_out(env, pr.w_pca));
    out.Set("singularValues", f64_out(env, pr.singular_values));
    std::vector<double> sizes(pr.cluster_sizes.begin(), pr.cluster_sizes.end());
    out.Set("clusterSizes", f64_out(env, sizes));
    return out;
  });
}

// [sync] driftDetectSpikes(data, nChannels, xUm, yUm, wTemp, params)
//   → {samples, centres, depthsUm, amplitudes, found}
Napi::Value DetectSpikes(const Napi::CallbackInfo& info) {
  const char* fn = "driftDetectSpikes";
  return guarded(info, fn, [&]() -> Napi::Value {
    Args a(info, fn, 6);
    const Napi::Float32Array data = a.f32(0, "data");
    const std::size_t nc = a.count(1, "nChannels");
    const std::size_t nt = block_samples(a, data, nc);
    const Napi::Float64Array xs = a.f64(2, "xUm");
    const Napi::Float64Array ys = a.f64(3, "yUm");
    a.same_length(xs.ElementLength(), nc, "xUm", "one position per channel");
    a.same_length(ys.ElementLength(), nc, "yUm", "one position per channel");
    const Napi::Float32Array w = a.f32(4, "wTemp");
    const Napi::Object p = a.params(5);
    DriftDetectorParams dp;
    dp.nt0 = static_cast<int>(a.intg(p, "nt0", 1, 10000));
    dp.nt0min = static_cast<int>(a.intg(p, "nt0min", 1, static_cast<double>(dp.nt0)));
    dp.threshold = a.pos(p, "threshold");
    dp.n_nearest_channels = a.intg(p, "nearestChannels", 1, 64);
    dp.n_sizes = a.intg(p, "spatialSizes", 1, 100);
    dp.size_step_um = a.pos(p, "sizeStepUm");
    dp.centre_x_step_um = a.pos(p, "centreXStepUm");
    dp.centre_max_site_distance_um = a.pos(p, "centreMaxSiteDistanceUm");
    dp.neighbour_radius_um = a.pos(p, "neighbourRadiusUm");
    dp.max_neighbours = a.intg(p, "maxNeighbours", 0, 1e6);
    dp.window_samples = static_cast<int>(a.intg(p, "windowSamples", 1, 10000));
    const std::size_t own_begin = a.intg(p, "ownBeginSample", 0, static_cast<double>(nt));
    const std::size_t own_end = a.intg(p, "ownEndSample", static_cast<double>(own_begin), static_cast<double>(nt));
    const std::size_t capacity = a.intg(p, "capacity", 0, 1e9);
    const std::size_t nt0 = static_cast<std::size_t>(dp.nt0);
    if (w.ElementLength() == 0 || w.ElementLength() % nt0 != 0) {
      a.range_error("wTemp", "a non-empty length that is a multiple of params.nt0 = " + std::to_string(nt0),
                    std::to_string(w.ElementLength()));
    }
    const std::shared_ptr<const DetectorGeometry> geo = shared_detector_geometry(xs.Data(), ys.Data(), nc, dp);
    const DriftDetection d =
        detect_drift_spikes(data.Data(), nt, nc, *geo, w.Data(), w.ElementLength() / nt0, own_begin, own_end,
                            capacity, dp);
    return addon_common::drift_detection_to_js(a.env(), d);
  });
}

// [sync] driftHistogram(depthsUm, amplitudes, yUm, params)
//   → {histogram, depthBins, ampBins, originUm, counted}
Napi::Value Histogram(const Napi::CallbackInfo& info) {
  const char* fn = "driftHistogram";
  return guarded(info, fn, [&]() -> Napi::Value {
    Args a(info, fn, 4);
    const Napi::Float32Array depths = a.f32(0, "depthsUm");
    const Napi::Float32Array amps = a.f32(1, "amplitudes");
    a.same_length(amps.ElementLength(), depths.ElementLength(), "amplitudes", "one per spike, as depthsUm");
    const Napi::Float64Array ys = a.f64(2, "yUm");
    if (ys.ElementLength() == 0) a.range_error("yUm", "at least one channel", "length 0");
    const DriftHistogramParams hp = histogram_params(a, a.params(3));
    const DriftHistogramGrid g = make_drift_histogram_grid(ys.Data(), ys.ElementLength(), hp);
    std::vector<float> h(g.n_depth_bins * g.params.n_amp_bins);
    const std::size_t counted = drift_histogram(depths.Data(), amps.Data(), depths.ElementLength(), g, h.data());
    Napi::Env env = a.env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("histogram", f32_out(env, h));
    out.Set("depthBins", static_cast<double>(g.n_depth_bins));
    out.Set("ampBins", static_cast<double>(g.params.n_amp_bins));
    out.Set("originUm", g.origin_um);
    out.Set("counted", static_cast<double>(counted));
    return out;
  });
}

// [sync] driftRegister(histograms, nBatches, yUm, params)
//   → {dshiftUm, yBlockUm, rigidShiftBins, targetBatch, nBlocks}
Napi::Value Register(const Napi::CallbackInfo& info) {
  const char* fn = "driftRegister";
  return guarded(info, fn, [&]() -> Napi::Value {
    Args a(info, fn, 4);
    const Napi::Float32Array h = a.f32(0, "histograms");
    const std::size_t nb = a.count(1, "nBatches");
    const Napi::Float64Array ys = a.f64(2, "yUm");
    if (ys.ElementLength() == 0) a.range_error("yUm", "at least one channel", "length 0");
    const Napi::Object p = a.params(3);
    const DriftHistogramGrid g = make_drift_histogram_grid(ys.Data(), ys.ElementLength(), histogram_params(a, p));
    a.same_length(h.ElementLength(), nb * g.n_depth_bins * g.params.n_amp_bins, "histograms",
                  "nBatches × " + std::to_string(g.n_depth_bins) + " depth bins × " +
                      std::to_string(g.params.n_amp_bins) + " amplitude bins");
    DriftRegistrationParams rp;
    rp.rigid_iterations = static_cast<int>(a.intg(p, "rigidIterations", 1, 1000));
    rp.rigid_max_shift = static_cast<int>(a.intg(p, "rigidMaxShiftBins", 0, 10000));
    rp.n_blocks = a.intg(p, "nBlocks", 1, static_cast<double>(g.n_depth_bins));
    rp.block_max_shift = static_cast<int>(a.intg(p, "blockMaxShiftBins", 0, 10000));
    rp.smooth_sigma = a.num(p, "smoothSigma");
    if (rp.smooth_sigma < 0) a.range_error("params.smoothSigma", "a number >= 0", std::to_string(rp.smooth_sigma));
    rp.upsample_step = a.pos(p, "upsampleStepBins");
    rp.upsample_sigma = a.pos(p, "upsampleSigmaBins");
    const DriftRegistration r = register_drift(h.Data(), nb, g, rp);
    Napi::Env env = a.env();
    Napi::Int32Array rigid = Napi::Int32Array::New(env, nb);
    for (std::size_t k = 0; k < nb; ++k) rigid[k] = r.rigid_shift_bins[k];
    Napi::Object out = Napi::Object::New(env);
    out.Set("dshiftUm", f64_out(env, r.dshift_um));
    out.Set("yBlockUm", f64_out(env, r.yblk_um));
    out.Set("rigidShiftBins", rigid);
    out.Set("targetBatch", static_cast<double>(r.target_batch));
    out.Set("nBlocks", static_cast<double>(r.n_blocks));
    return out;
  });
}

// [sync] driftKrigingMatrix(xUm, yUm, dshiftRowUm, yBlockUm, params) → {matrix, channelShiftUm}
Napi::Value KrigingMatrix(const Napi::CallbackInfo& info) {
  const char* fn = "driftKrigingMatrix";
  return guarded(info, fn, [&]() -> Napi::Value {
    Args a(info, fn, 5);
    const Napi::Float64Array xs = a.f64(0, "xUm");
    const Napi::Float64Array ys = a.f64(1, "yUm");
    const std::size_t nc = xs.ElementLength();
    if (nc == 0) a.range_error("xUm", "at least one channel", "length 0");
    a.same_length(ys.ElementLength(), nc, "yUm", "one position per channel, as xUm");
    const Napi::Float64Array row = a.f64(2, "dshiftRowUm");
    const Napi::Float64Array yblk = a.f64(3, "yBlockUm");
    if (row.ElementLength() == 0) a.range_error("dshiftRowUm", "at least one block", "length 0");
    a.same_length(yblk.ElementLength(), row.ElementLength(), "yBlockUm", "one depth per block, as dshiftRowUm");
    const Napi::Object p = a.params(4);
    KrigingParams kp;
    kp.sigma_x_um = a.pos(p, "sigmaXUm");
    kp.sigma_y_um = a.pos(p, "sigmaYUm");
    kp.ridge = a.pos(p, "ridge");
    const std::vector<double> shifts = channel_shifts(row.Data(), yblk.Data(), row.ElementLength(), ys.Data(), nc);
    const std::vector<float> m = kriging_matrix(xs.Data(), ys.Data(), nc, shifts.data(), kp);
    Napi::Env env = a.env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("matrix", f32_out(env, m));
    out.Set("channelShiftUm", f64_out(env, shifts));
    return out;
  });
}

// [sync] driftApplyKriging(data, nChannels, matrix, out) → undefined; out may be data.
Napi::Value ApplyKriging(const Napi::CallbackInfo& info) {
  const char* fn = "driftApplyKriging";
  return guarded(info, fn, [&]() -> Napi::Value {
    Args a(info, fn, 4);
    const Napi::Float32Array data = a.f32(0, "data");
    const std::size_t nc = a.count(1, "nChannels");
    const std::size_t nt = block_samples(a, data, nc);
    const Napi::Float32Array m = a.f32(2, "matrix");
    a.same_length(m.ElementLength(), nc * nc, "matrix", "nChannels × nChannels");
    Napi::Float32Array out = a.f32(3, "out");
    a.same_length(out.ElementLength(), data.ElementLength(), "out", "the length of data");
    const float* src = data.Data();
    float* dst = out.Data();
    // Partial overlap (different views of one buffer) would read rows already written.
    const bool disjoint = dst + out.ElementLength() <= src || src + data.ElementLength() <= dst;
    if (!disjoint && dst != src) {
      a.range_error("out", "either data itself or a buffer that does not overlap it", "a partially overlapping view");
    }
    apply_kriging(src, nt, nc, m.Data(), dst);
    return a.env().Undefined();
  });
}

}  // namespace

void register_drift(Napi::Env env, Napi::Object exports) {
  exports.Set("driftFindIsolatedSnippets", Napi::Function::New(env, FindIsolatedSnippets));
  exports.Set("driftLearnPrototypes", Napi::Function::New(env, LearnPrototypes));
  exports.Set("driftDetectSpikes", Napi::Function::New(env, DetectSpikes));
  exports.Set("driftHistogram", Napi::Function::New(env, Histogram));
  exports.Set("driftRegister", Napi::Function::New(env, Register));
  exports.Set("driftKrigingMatrix", Napi::Function::New(env, KrigingMatrix));
  exports.Set("driftApplyKriging", Napi::Function::New(env, ApplyKriging));
}

}  // namespace spikeshard::addon

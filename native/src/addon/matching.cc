// SPDX-License-Identifier: GPL-3.0-or-later
// Bindings of the matching area: channel neighbourhoods, template factorisation, template
// correlations, new-template proposals and matching pursuit. Raw TS types: native/lib/binding-matching.ts.
//
// Every entry point is [sync]: it runs on the calling thread and blocks the event loop for the
// duration of the kernel (a batch takes about a second). Arguments are checked here; a wrong type
// throws TypeError and a wrong size or value RangeError, both naming the argument, what was
// expected and what was found. Typed arrays are read in place, never copied.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "addon.h"
#include "spikeshard/matching.h"
#include "spikeshard/templates.h"

namespace spikeshard::addon {

namespace {

// Sizes above these are refused before any product of them is formed (so products cannot overflow).
constexpr std::int64_t kMaxDimension = std::int64_t{1} << 31;
constexpr std::int64_t kMaxTemplates = std::int64_t{1} << 20;

std::string kind_of(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return "boolean";
  if (v.IsNumber()) return "number " + std::to_string(v.As<Napi::Number>().DoubleValue());
  if (v.IsString()) return "string";
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_float32_array:
        return "Float32Array";
      case napi_float64_array:
        return "Float64Array";
      case napi_int32_array:
        return "Int32Array";
      case napi_int16_array:
        return "Int16Array";
      case napi_uint32_array:
        return "Uint32Array";
      default:
        return "another typed array";
    }
  }
  if (v.IsArray()) return "Array";
  if (v.IsFunction()) return "function";
  return "object";
}

// Argument access with messages of the form "<fn>: <name>: expected <what>, got <found>".
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn, std::size_t count) : env_(info.Env()), fn_(fn) {
    if (info.Length() != count) {
      throw Napi::TypeError::New(env_, std::string(fn) + ": expected " + std::to_string(count) + " arguments, got " +
                                           std::to_string(info.Length()));
    }
  }

  Napi::Env env() const { return env_; }

  [[noreturn]] void type_error(const std::string& name, const std::string& what, const Napi::Value& v) const {
    throw Napi::TypeError::New(env_, std::string(fn_) + ": " + name + ": expected " + what + ", got " + kind_of(v));
  }
  [[noreturn]] void range_error(const std::string& name, const std::string& what, const std::string& got) const {
    throw Napi::RangeError::New(env_, std::string(fn_) + ": " + name + ": expected " + what + ", got " + got);
  }

  Napi::Object object(const Napi::Value& v, const std::string& name) const {
    if (!v.IsObject() || v.IsArray() || v.IsTypedArray() || v.IsFunction()) type_error(name, "an object", v);
    return v.As<Napi::Object>();
  }

  std::int64_t integer(const Napi::Value& v, const std::string& name, std::int64_t lo, std::int64_t hi) const {
    if (!v.IsNumber()) type_error(name, "an integer", v);
    double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::floor(d)) type_error(name, "an integer", v);
    if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
      range_error(name, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", kind_of(v));
    }
    return static_cast<std::int64_t>(d);
  }

  double number(const Napi::Value& v, const std::string& name, double lo, double hi) const {
    if (!v.IsNumber()) type_error(name, "a number", v);
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= lo && d <= hi)) {
      range_error(name, "a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", kind_of(v));
    }
    return d;
  }

  bool boolean(const Napi::Value& v, const std::string& name) const {
    if (!v.IsBoolean()) type_error(name, "a boolean", v);
    return v.As<Napi::Boolean>().Value();
  }

  // A typed array of element type T and exactly `length` elements (`shape` explains the length).
  // With nullable, null gives nullptr.
  template <typename T>
  T* typed(const Napi::Value& v, const std::string& name, std::size_t length, const std::string& shape,
           bool nullable = false) const {
    if (nullable && v.IsNull()) return nullptr;
    const std::string wanted = std::string(array_name<T>()) + (nullable ? " or null" : "");
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != array_type<T>()) {
      type_error(name, wanted, v);
    }
    auto a = v.As<Napi::TypedArrayOf<T>>();
    if (a.ElementLength() != length) {
      range_error(name, std::to_string(length) + " elements (" + shape + ")", std::to_string(a.ElementLength()));
    }
    return a.Data();
  }

  // A typed array of element type T of any length; the length is returned in `length`.
  template <typename T>
  T* typed_any(const Napi::Value& v, const std::string& name, std::size_t& length) const {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != array_type<T>()) {
      type_error(name, array_name<T>(), v);
    }
    auto a = v.As<Napi::TypedArrayOf<T>>();
    length = a.ElementLength();
    return a.Data();
  }

 private:
  template <typename T>
  static napi_typedarray_type array_type() {
    if constexpr (std::is_same_v<T, float>) return napi_float32_array;
    if constexpr (std::is_same_v<T, double>) return napi_float64_array;
    if constexpr (std::is_same_v<T, std::int32_t>) return napi_int32_array;
  }
  template <typename T>
  static const char* array_name() {
    if constexpr (std::is_same_v<T, float>) return "a Float32Array";
    if constexpr (std::is_same_v<T, double>) return "a Float64Array";
    if constexpr (std::is_same_v<T, std::int32_t>) return "an Int32Array";
  }

  Napi::Env env_;
  const char* fn_;
};

template <typename T, typename A>
A to_typed(Napi::Env env, const std::vector<T>& v) {
  A out = A::New(env, v.size());
  if (!v.empty()) std::memcpy(out.Data(), v.data(), v.size() * sizeof(T));
  return out;
}
Napi::Float32Array f32(Napi::Env env, const std::vector<float>& v) { return to_typed<float, Napi::Float32Array>(env, v); }
Napi::Float64Array f64(Napi::Env env, const std::vector<double>& v) {
  return to_typed<double, Napi::Float64Array>(env, v);
}
Napi::Int32Array i32(Napi::Env env, const std::vector<std::int32_t>& v) {
  return to_typed<std::int32_t, Napi::Int32Array>(env, v);
}

// Core errors that get past the checks here (e.g. an index inside iC out of range) become
// RangeError (bad values) or Error (anything else).
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(info.Env(), e.what());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

// The model object of binding-matching.ts (RawTemplateModel), viewed in place.
TemplateSet read_model(const Args& a, const Napi::Value& v, const std::string& name) {
  Napi::Object o = a.object(v, name);
  TemplateSet m;
  m.n_templates = static_cast<std::size_t>(a.integer(o.Get("nTemplates"), name + ".nTemplates", 0, kMaxTemplates));
  m.n_channels = static_cast<std::size_t>(a.integer(o.Get("nChannels"), name + ".nChannels", 1, 65536));
  m.nt0 = static_cast<int>(a.integer(o.Get("templateSamples"), name + ".templateSamples", 1, 4096));
  m.nt0min = static_cast<int>(a.integer(o.Get("troughSample"), name + ".troughSample", 0, m.nt0 - 1));
  m.rank = static_cast<int>(a.integer(o.Get("rank"), name + ".rank", 1, m.nt0));
  m.n_neighbours =
      static_cast<int>(a.integer(o.Get("nNeighbours"), name + ".nNeighbours", 1, static_cast<std::int64_t>(m.n_channels)));
  const std::size_t F = m.n_templates;
  m.W = a.typed<float>(o.Get("temporal"), name + ".temporal", F * m.nt0 * m.rank, "nTemplates × templateSamples × rank");
  m.U = a.typed<float>(o.Get("spatial"), name + ".spatial", F * m.n_channels * m.rank, "nTemplates × nChannels × rank");
  m.mu = a.typed<float>(o.Get("meanAmplitude"), name + ".meanAmplitude", F, "nTemplates");
  m.iW = a.typed<std::int32_t>(o.Get("peakChannel"), name + ".peakChannel", F, "nTemplates");
  m.iC = a.typed<std::int32_t>(o.Get("neighbours"), name + ".neighbours", m.n_channels * m.n_neighbours,
                               "nChannels × nNeighbours");
  return m;
}

Napi::Object write_model(Napi::Env env, const TemplateModel& m) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("nTemplates", static_cast<double>(m.n_templates));
  out.Set("nChannels", static_cast<double>(m.n_channels));
  out.Set("templateSamples", m.nt0);
  out.Set("troughSample", m.nt0min);
  out.Set("rank", m.rank);
  out.Set("nNeighbours", m.n_neighbours);
  out.Set("temporal", f32(env, m.W));
  out.Set("spatial", f32(env, m.U));
  out.Set("meanAmplitude", f32(env, m.mu));
  out.Set("peakChannel", i32(env, m.iW));
  out.Set("neighbours", i32(env, m.iC));
  return out;
}

// [sync] nearestChannels(xUm, yUm, nNeighbours) → Int32Array (nChannels × nNeighbours)
Napi::Value NearestChannels(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Args a(info, "nearestChannels", 3);
    std::size_t n = 0;
    const float* x = a.typed_any<float>(info[0], "xUm", n);
    if (n == 0) a.range_error("xUm", "at least one channel", "an empty array");
    const float* y = a.typed<float>(info[1], "yUm", n, "one per channel, like xUm");
    int k = static_cast<int>(a.integer(info[2], "nNeighbours", 1, static_cast<std::int64_t>(n)));
    for (std::size_t c = 0; c < n; ++c) {
      if (!std::isfinite(x[c]) || !std::isfinite(y[c])) a.range_error("xUm/yUm", "finite positions", "a non-finite value");
    }
    return i32(info.Env(), nearest_channels(x, y, n, k));
  });
}

// [sync] peakChannels(meanWaveforms, nTemplates, templateSamples, nChannels, troughSample, threads) → Int32Array
Napi::Value PeakChannels(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Args a(info, "peakChannels", 6);
    auto F = static_cast<std::size_t>(a.integer(info[1], "nTemplates", 0, kMaxTemplates));
    int nt0 = static_cast<int>(a.integer(info[2], "templateSamples", 1, 4096));
    auto nC = static_cast<std::size_t>(a.integer(info[3], "nChannels", 1, 65536));
    int nt0min = static_cast<int>(a.integer(info[4], "troughSample", 0, nt0 - 1));
    int threads = static_cast<int>(a.integer(info[5], "threads", 0, 4096));
    const double* d = a.typed<double>(info[0], "meanWaveforms", F * nt0 * nC, "nTemplates × templateSamples × nChannels");
    return i32(info.Env(), peak_channels(d, F, nt0, nC, nt0min, threads));
  });
}

// [sync] factorizeTemplates(meanWaveforms, nTemplates, nChannels, neighbours, nNeighbours, peakChannel,
//                           previousTemporal | null, options) → RawTemplateModel
Napi::Value FactorizeTemplates(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Args a(info, "factorizeTemplates", 8);
    auto F = static_cast<std::size_t>(a.integer(info[1], "nTemplates", 0, kMaxTemplates));
    auto nC = static_cast<std::size_t>(a.integer(info[2], "nChannels", 1, 65536));
    int near = static_cast<int>(a.integer(info[4], "nNeighbours", 1, static_cast<std::int64_t>(nC)));
    Napi::Object o = a.object(info[7], "options");
    FactorizeOptions fo;
    fo.nt0 = static_cast<int>(a.integer(o.Get("templateSamples"), "options.templateSamples", 2, 4096));
    fo.nt0min = static_cast<int>(a.integer(o.Get("troughSample"), "options.troughSample", 0, fo.nt0 - 1));
    fo.rank = static_cast<int>(a.integer(o.Get("rank"), "options.rank", 1, fo.nt0));
    fo.power_iterations = static_cast<int>(a.integer(o.Get("powerIterations"), "options.powerIterations", 0, 100000));
    fo.upsample = static_cast<int>(a.integer(o.Get("upsampleFactor"), "options.upsampleFactor", 0, 1000));
    fo.kernel_sigma = a.number(o.Get("kernelSigmaSamples"), "options.kernelSigmaSamples", 1e-3, 100.0);
    fo.threads = static_cast<int>(a.integer(o.Get("threads"), "options.threads", 0, 4096));
    const double* d =
        a.typed<double>(info[0], "meanWaveforms", F * fo.nt0 * nC, "nTemplates × templateSamples × nChannels");
    const std::int32_t* iC = a.typed<std::int32_t>(info[3], "neighbours", nC * near, "nChannels × nNeighbours");
    const std::int32_t* iW = a.typed<std::int32_t>(info[5], "peakChannel", F, "nTemplates");
    const float* prev =
        a.typed<float>(info[6], "previousTemporal", F * fo.nt0 * fo.rank, "nTemplates × templateSamples × rank", true);
    return write_model(info.Env(), factorize_templates(d, F, nC, iC, near, iW, prev, fo));
  });
}

// [sync] templateCorrelations(model, nSimilarMax, threads) → {nTemplates, nLags, nSimilar, crossCorrelation,
//                                                           similarity, similar}
Napi::Value TemplateCorrelationsBinding(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Args a(info, "templateCorrelations", 3);
    TemplateSet m = read_model(a, info[0], "model");
    int n_similar = static_cast<int>(a.integer(info[1], "nSimilarMax", 1, 1 << 20));
    int threads = static_cast<int>(a.integer(info[2], "threads", 0, 4096));
    TemplateCorrelations r = template_correlations(m, n_similar, threads);
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("nTemplates", static_cast<double>(r.n_templates));
    out.Set("nLags", r.n_lags);
    out.Set("nSimilar", r.n_similar);
    out.Set("crossCorrelation", f32(info.Env(), r.WtW));
    out.Set("similarity", f32(info.Env(), r.similarity));
    out.Set("similar", i32(info.Env(), r.similar));
    return out;
  });
}

// [sync] zeroLagSimilarity(model, threads) → Float32Array (nTemplates × nTemplates)
Napi::Value ZeroLagSimilarity(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Args a(info, "zeroLagSimilarity", 2);
    TemplateSet m = read_model(a, info[0], "model");
    int threads = static_cast<int>(a.integer(info[1], "threads", 0, 4096));
    return f32(info.Env(), zero_lag_similarity(m, threads));
  });
}

// [sync] matchBatch(samples, nSamples, nChannels, model, options) → RawMatchResult
Napi::Value MatchBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Args a(info, "matchBatch", 5);
    auto nT = static_cast<std::size_t>(a.integer(info[1], "nSamples", 1, std::numeric_limits<std::int32_t>::max()));
    auto nC = static_cast<std::size_t>(a.integer(info[2], "nChannels", 1, 65536));
    const float* x = a.typed<float>(info[0], "samples", nT * nC, "nSamples × nChannels");
    TemplateSet m = read_model(a, info[3], "model");
    if (m.n_channels != nC) a.range_error("model.nChannels", std::to_string(nC) + " (nChannels)", std::to_string(m.n_channels));
    if (nT < static_cast<std::size_t>(m.nt0)) {
      a.range_error("nSamples", "at least model.templateSamples = " + std::to_string(m.nt0), std::to_string(nT));
    }
    Napi::Object o = a.object(info[4], "options");
    const auto n64 = static_cast<std::int64_t>(nT);
    MatchOptions mo;
    mo.threshold = static_cast<float>(a.number(o.Get("threshold"), "options.threshold", 0.0, 1e6));
    mo.lambda = static_cast<float>(a.number(o.Get("amplitudePrior"), "options.amplitudePrior", 0.0, 1e6));
    mo.learn_threshold = static_cast<float>(a.number(o.Get("learnThreshold"), "options.learnThreshold", -1e6, 1e6));
    mo.inner_iterations = static_cast<int>(a.integer(o.Get("innerIterations"), "options.innerIterations", 0, 100000));
    mo.halo_samples = static_cast<std::size_t>(a.integer(o.Get("haloSamples"), "options.haloSamples", 0, n64));
    mo.own_samples = static_cast<std::size_t>(
        a.integer(o.Get("ownSamples"), "options.ownSamples", 0, n64 - static_cast<std::int64_t>(mo.halo_samples)));
    mo.max_spikes = static_cast<std::size_t>(a.integer(o.Get("maxSpikes"), "options.maxSpikes", 1, kMaxDimension));
    mo.snippet_sums = a.boolean(o.Get("snippetSums"), "options.snippetSums");
    mo.threads = static_cast<int>(a.integer(o.Get("threads"), "options.threads", 0, 4096));
    Napi::Value similar = o.Get("similarTemplates");
    if (!similar.IsNull()) {
      Napi::Object s = a.object(similar, "options.similarTemplates");
      mo.n_similar = static_cast<int>(a.integer(s.Get("nSimilar"), "options.similarTemplates.nSimilar", 1,
                                                static_cast<std::int64_t>(std::max<std::size_t>(m.n_templates, 1))));
      mo.similar = a.typed<std::int32_t>(s.Get("similar"), "options.similarTemplates.similar",
                                         m.n_templates * mo.n_similar, "nTemplates × nSimilar");
    }
    Napi::Value pcs = o.Get("pcs");
    if (!pcs.IsNull()) {
      Napi::Object p = a.object(pcs, "options.pcs");
      mo.n_pcs = static_cast<int>(a.integer(p.Get("nPcs"), "options.pcs.nPcs", 1, 64));
      mo.pcs = a.typed<float>(p.Get("values"), "options.pcs.values", static_cast<std::size_t>(m.nt0) * mo.n_pcs,
                              "templateSamples × nPcs");
      for (std::size_t i = 0; i < static_cast<std::size_t>(m.nt0) * mo.n_pcs; ++i) {
        if (!std::isfinite(mo.pcs[i])) a.range_error("options.pcs.values", "finite values", "a non-finite value");
      }
    }
    mo.cross_correlations =
        a.typed<float>(o.Get("crossCorrelation"), "options.crossCorrelation",
                       m.n_templates * m.n_templates * (2 * static_cast<std::size_t>(m.nt0) - 1),
                       "nTemplates × nTemplates × (2·templateSamples − 1)", true);
    MatchResult r = match_batch(x, nT, nC, m, mo);
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("sample", i32(env, r.sample));
    out.Set("templateId", i32(env, r.template_id));
    out.Set("amplitude", f32(env, r.amplitude));
    out.Set("score", f32(env, r.score));
    out.Set("residual", f32(env, r.residual));
    out.Set("snippetSums", mo.snippet_sums ? Napi::Value(f64(env, r.snippet_sums)) : env.Null());
    out.Set("snippetCounts", mo.snippet_sums ? Napi::Value(i32(env, r.snippet_counts)) : env.Null());
    out.Set("templateFeatures", mo.similar != nullptr ? Napi::Value(f32(env, r.template_features)) : env.Null());
    out.Set("pcFeatures", mo.pcs != nullptr ? Napi::Value(f32(env, r.pc_features)) : env.Null());
    out.Set("spikesFound", static_cast<double>(r.spikes_found));
    out.Set("iterations", r.iterations);
    out.Set("capped", r.capped);
    return out;
  });
}

// [sync] proposeTemplates(samples, nSamples, nChannels, prototypes, nPrototypes, neighbours, nNeighbours, options)
//        → {sample, channel, score, snippets, capped}
Napi::Value ProposeTemplates(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Args a(info, "proposeTemplates", 8);
    auto nT = static_cast<std::size_t>(a.integer(info[1], "nSamples", 1, std::numeric_limits<std::int32_t>::max()));
    auto nC = static_cast<std::size_t>(a.integer(info[2], "nChannels", 1, 65536));
    const float* x = a.typed<float>(info[0], "samples", nT * nC, "nSamples × nChannels");
    int n_proto = static_cast<int>(a.integer(info[4], "nPrototypes", 1, 1024));
    int near = static_cast<int>(a.integer(info[6], "nNeighbours", 1, static_cast<std::int64_t>(nC)));
    const std::int32_t* iC = a.typed<std::int32_t>(info[5], "neighbours", nC * near, "nChannels × nNeighbours");
    Napi::Object o = a.object(info[7], "options");
    const auto n64 = static_cast<std::int64_t>(nT);
    ProposalOptions po;
    po.nt0 = static_cast<int>(a.integer(o.Get("templateSamples"), "options.templateSamples", 1, n64));
    po.nt0min = static_cast<int>(a.integer(o.Get("troughSample"), "options.troughSample", 0, po.nt0 - 1));
    po.n_sum = static_cast<int>(a.integer(o.Get("neighboursSummed"), "options.neighboursSummed", 1, near));
    po.channel_radius = static_cast<int>(a.integer(o.Get("channelRadius"), "options.channelRadius", 0, 65536));
    po.threshold = static_cast<float>(a.number(o.Get("threshold"), "options.threshold", 0.0, 1e6));
    po.halo_samples = static_cast<std::size_t>(a.integer(o.Get("haloSamples"), "options.haloSamples", 0, n64));
    po.own_samples = static_cast<std::size_t>(
        a.integer(o.Get("ownSamples"), "options.ownSamples", 0, n64 - static_cast<std::int64_t>(po.halo_samples)));
    po.max_proposals =
        static_cast<std::size_t>(a.integer(o.Get("maxProposals"), "options.maxProposals", 1, kMaxDimension));
    po.threads = static_cast<int>(a.integer(o.Get("threads"), "options.threads", 0, 4096));
    const float* w = a.typed<float>(info[3], "prototypes", static_cast<std::size_t>(po.nt0) * n_proto,
                                    "templateSamples × nPrototypes");
    Proposals p = propose_templates(x, nT, nC, w, n_proto, iC, near, po);
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    out.Set("sample", i32(env, p.sample));
    out.Set("channel", i32(env, p.channel));
    out.Set("score", f32(env, p.score));
    out.Set("snippets", f32(env, p.snippets));
    out.Set("capped", p.capped);
    return out;
  });
}

}  // namespace

void register_matching(Napi::Env env, Napi::Object exports) {
  exports.Set("nearestChannels", Napi::Function::New(env, NearestChannels));
  exports.Set("peakChannels", Napi::Function::New(env, PeakChannels));
  exports.Set("factorizeTemplates", Napi::Function::New(env, FactorizeTemplates));
  exports.Set("templateCorrelations", Napi::Function::New(env, TemplateCorrelationsBinding));
  exports.Set("zeroLagSimilarity", Napi::Function::New(env, ZeroLagSimilarity));
  exports.Set("matchBatch", Napi::Function::New(env, MatchBatch));
  exports.Set("proposeTemplates", Napi::Function::New(env, ProposeTemplates));
}

}  // namespace spikeshard::addon

// SPDX-License-Identifier: GPL-3.0-or-later
// matchBatch and benchmarkMatch of the CUDA addon. Argument checks and messages follow the CPU
// binding's (src/addon/matching.cc): "<fn>: <name>: expected <what>, got <found>", TypeError for a
// wrong type, RangeError for a wrong size or value.
#include "matching.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda_backend.h"
#include "options.h"

namespace spikeshard::addon_cuda {

namespace {

constexpr std::int64_t kMaxDimension = std::int64_t{1} << 31;
constexpr std::int64_t kMaxTemplates = std::int64_t{1} << 20;

class Args {
 public:
  Args(Napi::Env env, const char* fn) : env_(env), fn_(fn) {}

  [[noreturn]] void type_error(const std::string& name, const std::string& what, const Napi::Value& v) const {
    throw Napi::TypeError::New(env_, std::string(fn_) + ": " + name + ": expected " + what + ", got " +
                                         describe_value(v));
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
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!std::isfinite(d) || d != std::floor(d)) type_error(name, "an integer", v);
    if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) {
      range_error(name, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", describe_value(v));
    }
    return static_cast<std::int64_t>(d);
  }

  double number(const Napi::Value& v, const std::string& name, double lo, double hi) const {
    if (!v.IsNumber()) type_error(name, "a number", v);
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= lo && d <= hi)) {
      range_error(name, "a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]", describe_value(v));
    }
    return d;
  }

  bool boolean(const Napi::Value& v, const std::string& name) const {
    if (!v.IsBoolean()) type_error(name, "a boolean", v);
    return v.As<Napi::Boolean>().Value();
  }

  template <typename T>
  T* typed(const Napi::Value& v, const std::string& name, std::size_t length, const std::string& shape,
           bool nullable = false) const {
    if (nullable && v.IsNull()) return nullptr;
    constexpr napi_typedarray_type type = std::is_same_v<T, float>  ? napi_float32_array
                                          : std::is_same_v<T, double> ? napi_float64_array
                                                                      : napi_int32_array;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
      type_error(name, std::string("a ") + typed_array_name(type) + (nullable ? " or null" : ""), v);
    }
    auto a = v.As<Napi::TypedArrayOf<T>>();
    if (a.ElementLength() != length) {
      range_error(name, std::to_string(length) + " elements (" + shape + ")", std::to_string(a.ElementLength()));
    }
    return a.Data();
  }

 private:
  Napi::Env env_;
  const char* fn_;
};

template <typename T, typename A>
A to_typed(Napi::Env env, const std::vector<T>& v) {
  A out = A::New(env, v.size());
  if (!v.empty()) std::memcpy(out.Data(), v.data(), v.size() * sizeof(T));
  return out;
}

// A typed array over memory the vector owned: no copy; the finaliser frees it with the array.
template <typename T, typename A, typename V>
A adopt(Napi::Env env, V&& v) {
  if (v.empty()) return A::New(env, 0);
  auto* owner = new V(std::move(v));
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
      env, owner->data(), owner->size() * sizeof(T), [](Napi::Env, void*, V* o) { delete o; }, owner);
  return A::New(env, owner->size(), buffer, 0);
}

struct Positional {
  const float* samples;
  std::size_t n_samples;
  std::size_t n_channels;
  TemplateSet model;
  MatchOptions options;
};

// (samples, nSamples, nChannels, model, options, ...) as the CPU binding's matchBatch.
Positional read_positional(const Napi::CallbackInfo& info, const char* fn, std::size_t count) {
  Args a(info.Env(), fn);
  if (info.Length() != count) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": expected " + std::to_string(count) +
                                               " arguments, got " + std::to_string(info.Length()));
  }
  Positional p;
  p.n_samples =
      static_cast<std::size_t>(a.integer(info[1], "nSamples", 1, std::numeric_limits<std::int32_t>::max()));
  p.n_channels = static_cast<std::size_t>(a.integer(info[2], "nChannels", 1, 65536));
  p.samples = a.typed<float>(info[0], "samples", p.n_samples * p.n_channels, "nSamples × nChannels");
  p.model = read_match_model(fn, info[3]);
  if (p.model.n_channels != p.n_channels) {
    a.range_error("model.nChannels", std::to_string(p.n_channels) + " (nChannels)", std::to_string(p.model.n_channels));
  }
  if (p.n_samples < static_cast<std::size_t>(p.model.nt0)) {
    a.range_error("nSamples", "at least model.templateSamples = " + std::to_string(p.model.nt0),
                  std::to_string(p.n_samples));
  }
  p.options = read_match_options(fn, info[4], p.model, p.n_samples);
  return p;
}

// [sync] matchBatch(samples, nSamples, nChannels, model, options) → RawMatchResult (as the CPU binding).
Napi::Value MatchBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const Positional p = read_positional(info, "matchBatch", 5);
    const MatchResult r = cuda::match_batch(p.samples, p.n_samples, p.n_channels, p.model, p.options, true);
    return write_match_result(info.Env(), r, p.options, true);
  });
}

// [sync] benchmarkMatch(samples, nSamples, nChannels, model, options, repeats) → {repeats, spikesFound,
// iterations, stages: [{name, ms, bytes}]}: per-stage device times of matchBatch.
Napi::Value BenchmarkMatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const Positional p = read_positional(info, "benchmarkMatch", 6);
    Args a(info.Env(), "benchmarkMatch");
    const int repeats = static_cast<int>(a.integer(info[5], "repeats", 1, 1000));
    const cuda::MatchBenchmark b =
        cuda::benchmark_match(p.samples, p.n_samples, p.n_channels, p.model, p.options, repeats, nullptr, nullptr);
    Napi::Env env = info.Env();
    Napi::Array stages = Napi::Array::New(env);
    std::uint32_t k = 0;
    for (const cuda::StageTiming& s : b.stages) {
      if (s.ms == 0) continue;
      Napi::Object stage = Napi::Object::New(env);
      stage.Set("name", s.name);
      stage.Set("ms", s.ms);
      stage.Set("bytes", s.bytes);
      stages.Set(k++, stage);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("repeats", b.repeats);
    out.Set("spikesFound", static_cast<double>(b.spikes_found));
    out.Set("iterations", b.iterations);
    out.Set("stages", stages);
    return out;
  });
}

}  // namespace

TemplateSet read_match_model(const char* fn, const Napi::Value& v) {
  Args a(v.Env(), fn);
  const std::string name = "model";
  Napi::Object o = a.object(v, name);
  TemplateSet m;
  m.n_templates = static_cast<std::size_t>(a.integer(o.Get("nTemplates"), name + ".nTemplates", 0, kMaxTemplates));
  m.n_channels = static_cast<std::size_t>(a.integer(o.Get("nChannels"), name + ".nChannels", 1, 65536));
  m.nt0 = static_cast<int>(a.integer(o.Get("templateSamples"), name + ".templateSamples", 1, 4096));
  m.nt0min = static_cast<int>(a.integer(o.Get("troughSample"), name + ".troughSample", 0, m.nt0 - 1));
  m.rank = static_cast<int>(a.integer(o.Get("rank"), name + ".rank", 1, m.nt0));
  m.n_neighbours = static_cast<int>(
      a.integer(o.Get("nNeighbours"), name + ".nNeighbours", 1, static_cast<std::int64_t>(m.n_channels)));
  const std::size_t F = m.n_templates;
  m.W = a.typed<float>(o.Get("temporal"), name + ".temporal", F * m.nt0 * m.rank, "nTemplates × templateSamples × rank");
  m.U = a.typed<float>(o.Get("spatial"), name + ".spatial", F * m.n_channels * m.rank, "nTemplates × nChannels × rank");
  m.mu = a.typed<float>(o.Get("meanAmplitude"), name + ".meanAmplitude", F, "nTemplates");
  m.iW = a.typed<std::int32_t>(o.Get("peakChannel"), name + ".peakChannel", F, "nTemplates");
  m.iC = a.typed<std::int32_t>(o.Get("neighbours"), name + ".neighbours", m.n_channels * m.n_neighbours,
                               "nChannels × nNeighbours");
  return m;
}

MatchOptions read_match_options(const char* fn, const Napi::Value& v, const TemplateSet& m, std::size_t n_samples) {
  Args a(v.Env(), fn);
  Napi::Object o = a.object(v, "options");
  const auto n64 = static_cast<std::int64_t>(n_samples);
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
  return mo;
}

Napi::Object write_match_result(Napi::Env env, const MatchResult& r, const MatchOptions& o, bool residual) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("sample", to_typed<std::int32_t, Napi::Int32Array>(env, r.sample));
  out.Set("templateId", to_typed<std::int32_t, Napi::Int32Array>(env, r.template_id));
  out.Set("amplitude", to_typed<float, Napi::Float32Array>(env, r.amplitude));
  out.Set("score", to_typed<float, Napi::Float32Array>(env, r.score));
  out.Set("residual", residual ? Napi::Value(to_typed<float, Napi::Float32Array>(env, r.residual)) : env.Null());
  out.Set("snippetSums",
          o.snippet_sums ? Napi::Value(to_typed<double, Napi::Float64Array>(env, r.snippet_sums)) : env.Null());
  out.Set("snippetCounts",
          o.snippet_sums ? Napi::Value(to_typed<std::int32_t, Napi::Int32Array>(env, r.snippet_counts)) : env.Null());
  out.Set("templateFeatures", o.similar != nullptr
                                  ? Napi::Value(to_typed<float, Napi::Float32Array>(env, r.template_features))
                                  : env.Null());
  out.Set("pcFeatures",
          o.pcs != nullptr ? Napi::Value(to_typed<float, Napi::Float32Array>(env, r.pc_features)) : env.Null());
  out.Set("spikesFound", static_cast<double>(r.spikes_found));
  out.Set("iterations", r.iterations);
  out.Set("capped", r.capped);
  return out;
}

Napi::Object write_fused_result(Napi::Env env, cuda::FusedMatchResult&& r, const MatchOptions& o, bool residual) {
  Napi::Object out = write_match_result(env, r.match, MatchOptions{}, false);
  out.Set("residual", residual ? Napi::Value(adopt<float, Napi::Float32Array>(env, std::move(r.residual))) : env.Null());
  if (o.snippet_sums) {
    out.Set("snippetTemplates", to_typed<std::int32_t, Napi::Int32Array>(env, r.snippet_templates));
    out.Set("snippetSums", adopt<double, Napi::Float64Array>(env, std::move(r.snippet_sums)));
    out.Set("snippetCounts", to_typed<std::int32_t, Napi::Int32Array>(env, r.match.snippet_counts));
  } else {
    out.Set("snippetTemplates", env.Null());
    out.Set("snippetSums", env.Null());
    out.Set("snippetCounts", env.Null());
  }
  out.Set("templateFeatures", o.similar != nullptr ? Napi::Value(adopt<float, Napi::Float32Array>(
                                                         env, std::move(r.match.template_features)))
                                                   : env.Null());
  out.Set("pcFeatures",
          o.pcs != nullptr ? Napi::Value(adopt<float, Napi::Float32Array>(env, std::move(r.match.pc_features)))
                           : env.Null());
  return out;
}

void register_matching(Napi::Env env, Napi::Object exports) {
  exports.Set("matchBatch", Napi::Function::New(env, MatchBatch));
  exports.Set("benchmarkMatch", Napi::Function::New(env, BenchmarkMatch));
}

}  // namespace spikeshard::addon_cuda

// SPDX-License-Identifier: GPL-3.0-or-later
// matchBatch and benchmarkMatch of the CUDA addon, and the result writer of the fused entry. The
// arguments are read by the CPU binding's own parser (src/addon-common/match_args.h), so checks and
// messages are the CPU binding's.
#include "matching.h"

#include <cstdint>
#include <string>
#include <utility>

#include "args.h"
#include "cuda_backend.h"
#include "match_args.h"

namespace spikeshard::addon_cuda {

namespace {

using addon_common::Args;
using addon_common::guarded;
using addon_common::read_match_batch;
using addon_common::to_typed;
using addon_common::write_match_result;

// A typed array over memory the vector owned: no copy; the finaliser frees it with the array.
template <typename T, typename V>
Napi::TypedArrayOf<T> adopt(Napi::Env env, V&& v) {
  if (v.empty()) return Napi::TypedArrayOf<T>::New(env, 0);
  auto* owner = new V(std::move(v));
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
      env, owner->data(), owner->size() * sizeof(T), [](Napi::Env, void*, V* o) { delete o; }, owner);
  return Napi::TypedArrayOf<T>::New(env, owner->size(), buffer, 0);
}

// [sync] matchBatch(samples, nSamples, nChannels, model, options) → RawMatchResult (as the CPU binding).
Napi::Value MatchBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const addon_common::MatchBatchArgs p = read_match_batch(info, "matchBatch", 5);
    const std::uint64_t key = read_model_key(info.Env(), info[4], "matchBatch");
    const MatchResult r = cuda::match_batch(p.samples, p.n_samples, p.n_channels, p.model, p.options, true, key);
    return write_match_result(info.Env(), r, p.options, true);
  });
}

// [sync] benchmarkMatch(samples, nSamples, nChannels, model, options, repeats) → {repeats, spikesFound,
// iterations, stages: [{name, ms, bytes}]}: per-stage device times of matchBatch.
Napi::Value BenchmarkMatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const addon_common::MatchBatchArgs p = read_match_batch(info, "benchmarkMatch", 6);
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

// [sync] templateCrossCorrelations(model) → Float32Array: WtW computed on the device (the parity
// twin of the CPU's templateCorrelations(model).crossCorrelation).
Napi::Value TemplateCrossCorrelations(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() != 1) {
      throw Napi::TypeError::New(info.Env(), "templateCrossCorrelations(model): expected 1 argument, got " +
                                                 std::to_string(info.Length()));
    }
    Args a(info.Env(), "templateCrossCorrelations");
    const TemplateSet model = addon_common::read_template_set(a, info[0], "model");
    return adopt<float>(info.Env(), cuda::template_cross_correlations(model));
  });
}

}  // namespace

std::uint64_t read_model_key(Napi::Env env, const Napi::Value& options, const char* fn) {
  const Napi::Value v = options.As<Napi::Object>().Get("modelKey");
  if (v.IsUndefined() || v.IsNull()) return 0;
  // Integers a double holds exactly (JS's safe integers).
  constexpr std::int64_t kMaxKey = (std::int64_t{1} << 53) - 1;
  return static_cast<std::uint64_t>(Args(env, fn).integer(v, "options.modelKey", 1, kMaxKey));
}

Napi::Object write_fused_result(Napi::Env env, cuda::FusedMatchResult&& r, const MatchOptions& o, bool residual) {
  MatchOptions none = o;
  none.snippet_sums = false;
  none.similar = nullptr;
  none.pcs = nullptr;
  Napi::Object out = write_match_result(env, r.match, none, false);
  out.Set("residual", residual ? Napi::Value(adopt<float>(env, std::move(r.residual))) : env.Null());
  if (o.snippet_sums) {
    out.Set("snippetTemplates", to_typed<std::int32_t>(env, r.snippet_templates));
    out.Set("snippetSums", adopt<double>(env, std::move(r.snippet_sums)));
    out.Set("snippetCounts", to_typed<std::int32_t>(env, r.match.snippet_counts));
  } else {
    out.Set("snippetTemplates", env.Null());
  }
  if (o.similar != nullptr) out.Set("templateFeatures", adopt<float>(env, std::move(r.match.template_features)));
  if (o.pcs != nullptr) out.Set("pcFeatures", adopt<float>(env, std::move(r.match.pc_features)));
  if (r.has_proposals) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("sample", to_typed<std::int32_t>(env, r.proposals.sample));
    p.Set("channel", to_typed<std::int32_t>(env, r.proposals.channel));
    p.Set("score", to_typed<float>(env, r.proposals.score));
    p.Set("snippets", adopt<float>(env, std::move(r.proposals.snippets)));
    p.Set("capped", r.proposals.capped);
    out.Set("proposals", p);
  } else {
    out.Set("proposals", env.Null());
  }
  return out;
}

void register_matching(Napi::Env env, Napi::Object exports) {
  exports.Set("matchBatch", Napi::Function::New(env, MatchBatch));
  exports.Set("benchmarkMatch", Napi::Function::New(env, BenchmarkMatch));
  exports.Set("templateCrossCorrelations", Napi::Function::New(env, TemplateCrossCorrelations));
  // preprocessShiftMatchBatch takes its optional proposals argument (the engine feature-detects it).
  exports.Set("fusedProposals", Napi::Boolean::New(env, true));
}

}  // namespace spikeshard::addon_cuda

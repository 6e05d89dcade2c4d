// SPDX-License-Identifier: GPL-3.0-or-later
// The matchBatch arguments (samples, nSamples, nChannels, model, options) and result, shared by the
// CPU addon's matchBatch and the CUDA addon's matchBatch / preprocessShiftMatchBatch, so both check
// the same things in the same order with the same messages (args.h's positional style).
#ifndef SPIKESHARD_ADDON_COMMON_MATCH_ARGS_H_
#define SPIKESHARD_ADDON_COMMON_MATCH_ARGS_H_

#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "args.h"
#include "spikeshard/matching.h"
#include "spikeshard/templates.h"

namespace spikeshard::addon_common {

// Sizes above these are refused before any product of them is formed (so products cannot overflow).
constexpr std::int64_t kMaxDimension = std::int64_t{1} << 31;
constexpr std::int64_t kMaxTemplates = std::int64_t{1} << 20;

// The model object of binding-matching.ts (RawTemplateModel), viewed in place.
inline TemplateSet read_template_set(const Args& a, const Napi::Value& v, const std::string& name) {
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

// The options object (RawMatchOptions) for a batch of n_samples against `m`.
inline MatchOptions read_match_options(const Args& a, const Napi::Value& v, const TemplateSet& m,
                                       std::size_t n_samples) {
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
  const Napi::Value derive = o.Get("deriveCrossCorrelation");
  if (!derive.IsUndefined() && !derive.IsNull()) {
    mo.derive_cross_correlations = a.boolean(derive, "options.deriveCrossCorrelation");
    if (mo.derive_cross_correlations && mo.cross_correlations != nullptr) {
      a.range_error("options.deriveCrossCorrelation", "false when options.crossCorrelation is given", "true");
    }
  }
  return mo;
}

// Checks that a model fits a batch of n_samples × n_channels ("nChannels" / "nSamples" name the
// batch's sizes in the messages).
inline void check_model_fits(const Args& a, const TemplateSet& m, std::size_t n_samples, std::size_t n_channels,
                             const std::string& channels_name = "nChannels",
                             const std::string& samples_name = "nSamples") {
  if (m.n_channels != n_channels) {
    a.range_error("model.nChannels", std::to_string(n_channels) + " (" + channels_name + ")",
                  std::to_string(m.n_channels));
  }
  if (n_samples < static_cast<std::size_t>(m.nt0)) {
    a.range_error(samples_name, "at least model.templateSamples = " + std::to_string(m.nt0), std::to_string(n_samples));
  }
}

struct MatchBatchArgs {
  const float* samples = nullptr;
  std::size_t n_samples = 0;
  std::size_t n_channels = 0;
  TemplateSet model;
  MatchOptions options;
};

// (samples, nSamples, nChannels, model, options, ...): the first five of `count` arguments.
inline MatchBatchArgs read_match_batch(const Napi::CallbackInfo& info, const char* fn, std::size_t count) {
  Args a(info, fn, count);
  MatchBatchArgs p;
  p.n_samples =
      static_cast<std::size_t>(a.integer(info[1], "nSamples", 1, std::numeric_limits<std::int32_t>::max()));
  p.n_channels = static_cast<std::size_t>(a.integer(info[2], "nChannels", 1, 65536));
  p.samples = a.typed<float>(info[0], "samples", p.n_samples * p.n_channels, "nSamples × nChannels");
  p.model = read_template_set(a, info[3], "model");
  check_model_fits(a, p.model, p.n_samples, p.n_channels);
  p.options = read_match_options(a, info[4], p.model, p.n_samples);
  return p;
}

// RawMatchResult of binding-matching.ts; residual is null when `residual` is false.
inline Napi::Object write_match_result(Napi::Env env, const MatchResult& r, const MatchOptions& o, bool residual) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("sample", to_typed<std::int32_t>(env, r.sample));
  out.Set("templateId", to_typed<std::int32_t>(env, r.template_id));
  out.Set("amplitude", to_typed<float>(env, r.amplitude));
  out.Set("score", to_typed<float>(env, r.score));
  out.Set("residual", residual ? Napi::Value(to_typed<float>(env, r.residual)) : env.Null());
  out.Set("snippetSums", o.snippet_sums ? Napi::Value(to_typed<double>(env, r.snippet_sums)) : env.Null());
  out.Set("snippetCounts", o.snippet_sums ? Napi::Value(to_typed<std::int32_t>(env, r.snippet_counts)) : env.Null());
  out.Set("templateFeatures", o.similar != nullptr ? Napi::Value(to_typed<float>(env, r.template_features)) : env.Null());
  out.Set("pcFeatures", o.pcs != nullptr ? Napi::Value(to_typed<float>(env, r.pc_features)) : env.Null());
  out.Set("spikesFound", static_cast<double>(r.spikes_found));
  out.Set("iterations", r.iterations);
  out.Set("capped", r.capped);
  return out;
}

}  // namespace spikeshard::addon_common

#endif  // SPIKESHARD_ADDON_COMMON_MATCH_ARGS_H_

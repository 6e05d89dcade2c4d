// SPDX-License-Identifier: GPL-3.0-or-later
// Bindings of the matching area: channel neighbourhoods, template factorisation, template
// correlations, pooling and births of learning, new-template proposals and matching pursuit.
// Raw TS types: native/lib/binding-matching.ts.
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
#include <utility>
#include <vector>

#include "addon.h"
#include "match_args.h"
#include "spikeshard/matching.h"
#include "spikeshard/templates.h"

namespace spikeshard::addon {

namespace {

using addon_common::Args;
using addon_common::guarded;
using addon_common::kMaxDimension;
using addon_common::kMaxTemplates;
using addon_common::read_match_batch;
using addon_common::read_template_set;
using addon_common::write_match_result;

Napi::Float32Array f32(Napi::Env env, const std::vector<float>& v) { return addon_common::to_typed<float>(env, v); }
Napi::Int32Array i32(Napi::Env env, const std::vector<std::int32_t>& v) {
  return addon_common::to_typed<std::int32_t>(env, v);
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
    // One Float64Array of all templates, or an Array of one Float64Array per template (read in
    // place: no copy of the ~0.2 GB of running means at 1 200 templates × 384 channels).
    std::vector<const double*> rows(F);
    const std::size_t per_template = static_cast<std::size_t>(fo.nt0) * nC;
    if (info[0].IsArray()) {
      Napi::Array list = info[0].As<Napi::Array>();
      if (list.Length() != F) {
        a.range_error("meanWaveforms", std::to_string(F) + " rows (nTemplates)", std::to_string(list.Length()));
      }
      for (std::size_t j = 0; j < F; ++j) {
        rows[j] = a.typed<double>(list.Get(static_cast<std::uint32_t>(j)), "meanWaveforms[" + std::to_string(j) + "]",
                                  per_template, "templateSamples × nChannels");
      }
    } else {
      const double* d =
          a.typed<double>(info[0], "meanWaveforms", F * per_template, "nTemplates × templateSamples × nChannels");
      for (std::size_t j = 0; j < F; ++j) rows[j] = d + j * per_template;
    }
    const std::int32_t* iC = a.typed<std::int32_t>(info[3], "neighbours", nC * near, "nChannels × nNeighbours");
    const std::int32_t* iW = a.typed<std::int32_t>(info[5], "peakChannel", F, "nTemplates");
    const float* prev =
        a.typed<float>(info[6], "previousTemporal", F * fo.nt0 * fo.rank, "nTemplates × templateSamples × rank", true);
    return write_model(info.Env(), factorize_templates(rows.data(), F, nC, iC, near, iW, prev, fo));
  });
}

// [sync] templateCorrelations(model, nSimilarMax, threads) → {nTemplates, nLags, nSimilar, crossCorrelation,
//                                                           similarity, similar}
Napi::Value TemplateCorrelationsBinding(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Args a(info, "templateCorrelations", 3);
    TemplateSet m = read_template_set(a, info[0], "model");
    int n_similar = static_cast<int>(a.integer(info[1], "nSimilarMax", 1, 1 << 20));
    int threads = static_cast<int>(a.integer(info[2], "threads", 0, 4096));
    m.validate();
    // A new ArrayBuffer is zero-filled (ECMAScript), as the in-place variant requires.
    Napi::Float32Array WtW =
        Napi::Float32Array::New(info.Env(), m.n_templates * m.n_templates * (2 * static_cast<std::size_t>(m.nt0) - 1));
    TemplateCorrelations r = template_correlations(m, n_similar, threads, WtW.Data());
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("nTemplates", static_cast<double>(r.n_templates));
    out.Set("nLags", r.n_lags);
    out.Set("nSimilar", r.n_similar);
    out.Set("crossCorrelation", WtW);
    out.Set("similarity", f32(info.Env(), r.similarity));
    out.Set("similar", i32(info.Env(), r.similar));
    return out;
  });
}

// [sync] templateSimilarity(model, nSimilarMax, threads) → {nTemplates, nLags, nSimilar, similarity, similar}:
// templateCorrelations' similarity and most-similar lists (the same bits) without the WtW table.
Napi::Value TemplateSimilarityBinding(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Args a(info, "templateSimilarity", 3);
    TemplateSet m = read_template_set(a, info[0], "model");
    int n_similar = static_cast<int>(a.integer(info[1], "nSimilarMax", 1, 1 << 20));
    int threads = static_cast<int>(a.integer(info[2], "threads", 0, 4096));
    TemplateCorrelations r = template_correlations(m, n_similar, threads, nullptr);
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("nTemplates", static_cast<double>(r.n_templates));
    out.Set("nLags", r.n_lags);
    out.Set("nSimilar", r.n_similar);
    out.Set("similarity", f32(info.Env(), r.similarity));
    out.Set("similar", i32(info.Env(), r.similar));
    return out;
  });
}

// [sync] zeroLagSimilarity(model, threads) → Float32Array (nTemplates × nTemplates)
Napi::Value ZeroLagSimilarity(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Args a(info, "zeroLagSimilarity", 2);
    TemplateSet m = read_template_set(a, info[0], "model");
    int threads = static_cast<int>(a.integer(info[1], "threads", 0, 4096));
    return f32(info.Env(), zero_lag_similarity(m, threads));
  });
}

// [sync] triageTemplates(model, nsp: Float64Array, options) → Int32Array (kept templates, ascending)
Napi::Value TriageTemplates(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Args a(info, "triageTemplates", 3);
    TemplateSet m = read_template_set(a, info[0], "model");
    m.validate();
    const double* nsp = a.typed<double>(info[1], "nsp", m.n_templates, "one per template");
    Napi::Object o = a.object(info[2], "options");
    TriageOptions to;
    const double big = std::numeric_limits<double>::max();
    to.min_nsp = a.number(o.Get("minNsp"), "options.minNsp", -big, big);
    to.max_similarity = a.number(o.Get("maxSimilarity"), "options.maxSimilarity", -big, big);
    to.amplitude_gap = a.number(o.Get("amplitudeGap"), "options.amplitudeGap", -big, big);
    to.threads = static_cast<int>(a.integer(o.Get("threads"), "options.threads", 0, 4096));
    return i32(info.Env(), triage_templates(m, nsp, to));
  });
}

// [sync] poolRunningMeans(means: Float64Array[], active, sums, factors, counts, threads) → undefined
// means[active[k]] ← f·mean + ((1 − f)·sums row k) / counts[active[k]], f = factors[k], in place.
Napi::Value PoolRunningMeans(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Args a(info, "poolRunningMeans", 6);
    if (!info[0].IsArray()) a.type_error("means", "an Array of Float64Array", info[0]);
    Napi::Array means = info[0].As<Napi::Array>();
    const std::size_t F = means.Length();
    std::size_t n_active = 0;
    const std::int32_t* active = a.typed_any<std::int32_t>(info[1], "active", n_active);
    std::size_t n_sums = 0;
    const double* sums = a.typed_any<double>(info[2], "sums", n_sums);
    const double* factors = a.typed<double>(info[3], "factors", n_active, "one per active row");
    const std::int32_t* counts = a.typed<std::int32_t>(info[4], "counts", F, "one per mean");
    int threads = static_cast<int>(a.integer(info[5], "threads", 0, 4096));
    if (n_active == 0) return info.Env().Undefined();
    if (n_sums % n_active != 0) {
      a.range_error("sums", "a multiple of active.length (" + std::to_string(n_active) + ") elements",
                    std::to_string(n_sums));
    }
    const std::size_t size = n_sums / n_active;
    std::vector<double*> rows(n_active);
    std::vector<double> spikes(n_active);
    for (std::size_t k = 0; k < n_active; ++k) {
      const std::int32_t j = active[k];
      if (j < 0 || static_cast<std::size_t>(j) >= F || (k > 0 && j <= active[k - 1])) {
        a.range_error("active", "ascending distinct indices in [0, " + std::to_string(F) + ")",
                      std::to_string(j) + " at " + std::to_string(k));
      }
      if (counts[j] <= 0) a.range_error("counts", "> 0 for every active row", std::to_string(counts[j]));
      if (!std::isfinite(factors[k])) a.range_error("factors", "finite values", "a non-finite value");
      rows[k] = a.typed<double>(means.Get(static_cast<std::uint32_t>(j)), "means[" + std::to_string(j) + "]", size,
                                "sums.length / active.length");
      spikes[k] = counts[j];
    }
    // Distinct rows could still share memory (subarrays of one buffer): each row must have one writer.
    std::vector<std::pair<const double*, std::size_t>> spans(n_active);
    for (std::size_t k = 0; k < n_active; ++k) spans[k] = {rows[k], k};
    std::sort(spans.begin(), spans.end());
    for (std::size_t k = 1; k < n_active; ++k) {
      if (spans[k].first < spans[k - 1].first + size) {
        a.range_error("means", "rows that do not share memory", "rows " + std::to_string(active[spans[k - 1].second]) +
                                                                     " and " + std::to_string(active[spans[k].second]) +
                                                                     " overlapping");
      }
    }
    pool_running_means(rows.data(), n_active, size, sums, factors, spikes.data(), threads);
    return info.Env().Undefined();
  });
}

// [sync] selectBirths(means: Float64Array[], nChannels, proposals: Float32Array[], proposalChannels: Int32Array[],
//                     pcs, nPcs, neighbours, nNeighbours, options) → {born: Int32Array, waves: Float64Array[]}
// proposals[b] holds batch b's snippets (proposalChannels[b].length × templateSamples × nChannels);
// born indexes the proposals of all batches in order; waves[k] is the smoothed waveform of born[k].
Napi::Value SelectBirths(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Args a(info, "selectBirths", 9);
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) a.type_error("means", "an Array of Float64Array", info[0]);
    if (!info[2].IsArray()) a.type_error("proposals", "an Array of Float32Array", info[2]);
    if (!info[3].IsArray()) a.type_error("proposalChannels", "an Array of Int32Array", info[3]);
    auto nC = static_cast<std::size_t>(a.integer(info[1], "nChannels", 1, 65536));
    int n_pcs = static_cast<int>(a.integer(info[5], "nPcs", 1, 1024));
    int near = static_cast<int>(a.integer(info[7], "nNeighbours", 1, static_cast<std::int64_t>(nC)));
    const std::int32_t* iC = a.typed<std::int32_t>(info[6], "neighbours", nC * near, "nChannels × nNeighbours");
    Napi::Object o = a.object(info[8], "options");
    BirthOptions bo;
    bo.nt0 = static_cast<int>(a.integer(o.Get("templateSamples"), "options.templateSamples", 1, 4096));
    bo.nt0min = static_cast<int>(a.integer(o.Get("troughSample"), "options.troughSample", 0, bo.nt0 - 1));
    bo.n_pcs = n_pcs;
    bo.n_neighbours = near;
    bo.max_correlation = a.number(o.Get("maxCorrelation"), "options.maxCorrelation", -2.0, 2.0);
    bo.min_ratio = a.number(o.Get("minAmplitudeRatio"), "options.minAmplitudeRatio", -2.0, 2.0);
    bo.max_births = static_cast<std::size_t>(a.integer(o.Get("maxBirths"), "options.maxBirths", 0, kMaxTemplates));
    bo.threads = static_cast<int>(a.integer(o.Get("threads"), "options.threads", 0, 4096));
    const float* pcs = a.typed<float>(info[4], "pcs", static_cast<std::size_t>(bo.nt0) * n_pcs, "templateSamples × nPcs");
    const std::size_t size = static_cast<std::size_t>(bo.nt0) * nC;

    Napi::Array means = info[0].As<Napi::Array>();
    std::vector<const double*> rows(means.Length());
    for (std::uint32_t j = 0; j < means.Length(); ++j) {
      rows[j] = a.typed<double>(means.Get(j), "means[" + std::to_string(j) + "]", size, "templateSamples × nChannels");
    }
    Napi::Array batches = info[2].As<Napi::Array>();
    Napi::Array channel_lists = info[3].As<Napi::Array>();
    if (channel_lists.Length() != batches.Length()) {
      a.range_error("proposalChannels", std::to_string(batches.Length()) + " arrays (one per proposals array)",
                    std::to_string(channel_lists.Length()));
    }
    std::vector<const float*> snippets;
    std::vector<std::int32_t> peaks;
    for (std::uint32_t b = 0; b < batches.Length(); ++b) {
      std::size_t n = 0;
      const std::int32_t* ch =
          a.typed_any<std::int32_t>(channel_lists.Get(b), "proposalChannels[" + std::to_string(b) + "]", n);
      const float* x = a.typed<float>(batches.Get(b), "proposals[" + std::to_string(b) + "]", n * size,
                                      "proposalChannels[" + std::to_string(b) + "].length × templateSamples × nChannels");
      for (std::size_t i = 0; i < n; ++i) {
        if (ch[i] < 0 || static_cast<std::size_t>(ch[i]) >= nC) {
          a.range_error("proposalChannels[" + std::to_string(b) + "]", "channels in [0, " + std::to_string(nC) + ")",
                        std::to_string(ch[i]) + " at " + std::to_string(i));
        }
        snippets.push_back(x + i * size);
        peaks.push_back(ch[i]);
      }
    }
    for (std::size_t k = 0; k < nC * near; ++k) {
      if (iC[k] < 0 || static_cast<std::size_t>(iC[k]) >= nC) {
        a.range_error("neighbours", "channels in [0, " + std::to_string(nC) + ")", std::to_string(iC[k]));
      }
    }
    // Every proposal is smoothed into its own new array; those of the born are handed back.
    std::vector<Napi::Float64Array> waves;
    std::vector<double*> smoothed;
    waves.reserve(snippets.size());
    for (std::size_t i = 0; i < snippets.size(); ++i) {
      waves.push_back(Napi::Float64Array::New(env, size));
      smoothed.push_back(waves.back().Data());
    }
    const std::vector<std::size_t> born = select_births(rows.data(), rows.size(), nC, snippets.data(), peaks.data(),
                                                        snippets.size(), pcs, iC, bo, smoothed.data());
    Napi::Int32Array born_out = Napi::Int32Array::New(env, born.size());
    Napi::Array waves_out = Napi::Array::New(env, born.size());
    for (std::size_t k = 0; k < born.size(); ++k) {
      born_out[k] = static_cast<std::int32_t>(born[k]);
      waves_out.Set(static_cast<std::uint32_t>(k), waves[born[k]]);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("born", born_out);
    out.Set("waves", waves_out);
    return out;
  });
}

// [sync] matchBatch(samples, nSamples, nChannels, model, options) → RawMatchResult
Napi::Value MatchBatch(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const addon_common::MatchBatchArgs p = read_match_batch(info, "matchBatch", 5);
    const MatchResult r = match_batch(p.samples, p.n_samples, p.n_channels, p.model, p.options);
    return write_match_result(info.Env(), r, p.options, true);
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
  exports.Set("templateSimilarity", Napi::Function::New(env, TemplateSimilarityBinding));
  exports.Set("zeroLagSimilarity", Napi::Function::New(env, ZeroLagSimilarity));
  exports.Set("poolRunningMeans", Napi::Function::New(env, PoolRunningMeans));
  exports.Set("selectBirths", Napi::Function::New(env, SelectBirths));
  exports.Set("triageTemplates", Napi::Function::New(env, TriageTemplates));
  exports.Set("matchBatch", Napi::Function::New(env, MatchBatch));
  exports.Set("proposeTemplates", Napi::Function::New(env, ProposeTemplates));
}

}  // namespace spikeshard::addon

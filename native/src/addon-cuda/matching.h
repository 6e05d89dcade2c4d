// SPDX-License-Identifier: GPL-3.0-or-later
// Matching-pursuit glue of the CUDA addon: the CPU binding's matchBatch argument shapes (positional
// samples, nSamples, nChannels, model, options), reused by the fused preprocessShiftMatchBatch.
#ifndef SPIKESHARD_ADDON_CUDA_MATCHING_H_
#define SPIKESHARD_ADDON_CUDA_MATCHING_H_

#include <napi.h>

#include <cstddef>

#include "cuda_backend.h"
#include "spikeshard/matching.h"
#include "spikeshard/templates.h"

namespace spikeshard::addon_cuda {

// The model object (RawTemplateModel of binding-matching.ts), viewed in place; `fn` names the caller.
TemplateSet read_match_model(const char* fn, const Napi::Value& v);
// The options object (RawMatchOptions) for a batch of n_samples against `model`.
MatchOptions read_match_options(const char* fn, const Napi::Value& v, const TemplateSet& model,
                                std::size_t n_samples);
// RawMatchResult; residual is null when `residual` is false.
Napi::Object write_match_result(Napi::Env env, const MatchResult& r, const MatchOptions& o, bool residual);
// The fused entry's result: RawMatchResult with compact snippet sums (rows of `snippetTemplates`
// only) and the residual when asked; the large arrays are handed to JS without a copy.
Napi::Object write_fused_result(Napi::Env env, cuda::FusedMatchResult&& r, const MatchOptions& o, bool residual);

void register_matching(Napi::Env env, Napi::Object exports);

}  // namespace spikeshard::addon_cuda

#endif  // SPIKESHARD_ADDON_CUDA_MATCHING_H_

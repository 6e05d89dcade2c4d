// SPDX-License-Identifier: GPL-3.0-or-later
// Matching-pursuit glue of the CUDA addon: matchBatch / benchmarkMatch with the CPU binding's
// argument parser (src/addon-common/match_args.h), and the fused entry's result writer.
#ifndef SPIKESHARD_ADDON_CUDA_MATCHING_H_
#define SPIKESHARD_ADDON_CUDA_MATCHING_H_

#include <napi.h>

#include <cstdint>

#include "cuda_backend.h"
#include "spikeshard/matching.h"

namespace spikeshard::addon_cuda {

// The fused entry's result: RawMatchResult with compact snippet sums (rows of `snippetTemplates`
// only) and the residual when asked; the large arrays are handed to JS without a copy.
Napi::Object write_fused_result(Napi::Env env, cuda::FusedMatchResult&& r, const MatchOptions& o, bool residual);

// options.modelKey of matchBatch / preprocessShiftMatchBatch (CUDA only; the CPU binding ignores
// it): a positive integer naming an unchanging model whose tables may stay on the device, or 0 when
// absent (undefined or null).
std::uint64_t read_model_key(Napi::Env env, const Napi::Value& options, const char* fn);

void register_matching(Napi::Env env, Napi::Object exports);

}  // namespace spikeshard::addon_cuda

#endif  // SPIKESHARD_ADDON_CUDA_MATCHING_H_

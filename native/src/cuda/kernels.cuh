// SPDX-License-Identifier: GPL-3.0-or-later
// Launchers shared between the .cu files of the CUDA backend; device pointers, the context's
// stream, no synchronisation.
#ifndef SPIKESHARD_CUDA_KERNELS_CUH_
#define SPIKESHARD_CUDA_KERNELS_CUH_

#include <cstddef>
#include <cstdint>

#include <memory>

#include "context.cuh"
#include "cuda_backend.h"

namespace spikeshard::cuda::detail {

// d_out = d_x · d_mᵀ; d_out must not overlap d_x.
void launch_kriging(Context& ctx, const float* d_x, std::size_t n, std::size_t n_channels, const float* d_m,
                    float* d_out);

void launch_median_reference(Context& ctx, float* d_x, std::size_t n, std::size_t n_channels,
                             const std::int32_t* d_good, int n_good);

void launch_whitening(Context& ctx, const float* d_in, std::size_t n, std::size_t n_channels,
                      const std::int32_t* d_indices, const float* d_weights, std::size_t n_nearest, double scale,
                      float* d_out);

// The fused preprocessing chain (preprocess.cu); returns the device block holding the result.
// `raw_on_device`: the caller already uploaded the raw block to kSlotRaw (to time the upload apart).
// `staged`: the raw block already copied into pinned memory (stage_raw), uploaded from there.
float* run_preprocess(Context& ctx, const PreprocessBatchInput& input, const KrigingPieces& kriging,
                      BenchmarkResult* timing, int repeats, bool raw_on_device = false,
                      const StagedInput* staged = nullptr);

// The raw block of `input` checked and copied into a pinned buffer, before the caller takes a context.
std::unique_ptr<StagedInput> stage_raw(const PreprocessBatchInput& input, const char* caller);

// Checks that pieces are sorted, disjoint, non-empty, inside n rows and have a matrix.
void check_pieces(const KrigingPieces& kriging, std::size_t n);

}  // namespace spikeshard::cuda::detail

#endif  // SPIKESHARD_CUDA_KERNELS_CUH_

// SPDX-License-Identifier: GPL-3.0-or-later
// Launchers shared between the .cu files of the CUDA backend; device pointers, the context's
// stream, no synchronisation.
#ifndef SPIKESHARD_CUDA_KERNELS_CUH_
#define SPIKESHARD_CUDA_KERNELS_CUH_

#include <cstddef>
#include <cstdint>

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
float* run_preprocess(Context& ctx, const PreprocessBatchInput& input, const float* kriging_matrix,
                      BenchmarkResult* timing, int repeats);

}  // namespace spikeshard::cuda::detail

#endif  // SPIKESHARD_CUDA_KERNELS_CUH_

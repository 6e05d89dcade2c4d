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

// Per-channel mean removal and the zero-phase high-pass of an (n × in_stride) block of In (int16 or
// float) into float (n × nc), the CPU's highpass_block bit for bit (highpass.cu). d_scratch holds
// highpass_scratch_rows() × nc doubles; the segment states use the context's kSlotHighpassSegments.
// `caller` names the entry in errors (a filter of too many sections, a block not longer than the
// padding).
template <typename In>
void launch_zero_phase_highpass(Context& ctx, const In* d_in, std::size_t in_stride, const double* d_gains,
                                std::size_t n, std::size_t nc, const HighpassOptions& options, const char* caller,
                                double* d_scratch, float* d_out);
std::size_t highpass_scratch_rows(const HighpassOptions& options, std::size_t n_samples, const char* caller);

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

// SPDX-License-Identifier: GPL-3.0-or-later
// Kriging drift shift on the device: out = x · Mᵀ, a (samples × channels) by (channels × channels)
// product, as a tiled shared-memory GEMM. Each output is accumulated over j = 0, 1, … in order with
// separate multiply and add (no FMA), the arithmetic of the CPU's apply_kriging, so the two agree
// bit for bit.
#include <stdexcept>
#include <string>

#include "context.cuh"
#include "cuda_backend.h"
#include "kernels.cuh"

namespace spikeshard::cuda {

namespace detail {

namespace {

constexpr int kTileT = 64;   // samples per block
constexpr int kTileI = 64;   // output channels per block
constexpr int kTileJ = 16;   // input channels per shared-memory step
constexpr int kPerThread = 4;  // each thread: 4 samples × 4 output channels
constexpr int kThreads = (kTileT / kPerThread) * (kTileI / kPerThread);  // 256

__global__ void __launch_bounds__(kThreads) kriging_kernel(const float* __restrict__ x, int n, int nc,
                                                           const float* __restrict__ m, float* __restrict__ out) {
  __shared__ float xs[kTileJ][kTileT + 1];  // xs[j][t] = x[t0 + t, j0 + j]
  __shared__ float ms[kTileJ][kTileI + 1];  // ms[j][i] = M[i0 + i, j0 + j]
  const int t0 = blockIdx.x * kTileT, i0 = blockIdx.y * kTileI;
  const int tid = threadIdx.x;
  const int ti = tid % (kTileI / kPerThread), tt = tid / (kTileI / kPerThread);
  float acc[kPerThread][kPerThread] = {};
  for (int j0 = 0; j0 < nc; j0 += kTileJ) {
    const int width = min(kTileJ, nc - j0);
    // 64 rows × 16 columns of each operand, 4 values per thread, j fastest (contiguous in memory).
    for (int e = tid; e < kTileT * kTileJ; e += kThreads) {
      const int r = e / kTileJ, j = e % kTileJ;
      const int t = t0 + r, i = i0 + r;
      xs[j][r] = (t < n && j < width) ? x[static_cast<std::size_t>(t) * nc + j0 + j] : 0.0f;
      ms[j][r] = (i < nc && j < width) ? m[static_cast<std::size_t>(i) * nc + j0 + j] : 0.0f;
    }
    __syncthreads();
    for (int j = 0; j < width; ++j) {
      float a[kPerThread], b[kPerThread];
#pragma unroll
      for (int q = 0; q < kPerThread; ++q) {
        a[q] = xs[j][tt * kPerThread + q];
        b[q] = ms[j][ti * kPerThread + q];
      }
#pragma unroll
      for (int r = 0; r < kPerThread; ++r) {
#pragma unroll
        for (int q = 0; q < kPerThread; ++q) acc[r][q] = __fadd_rn(acc[r][q], __fmul_rn(b[q], a[r]));
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int r = 0; r < kPerThread; ++r) {
    const int t = t0 + tt * kPerThread + r;
    if (t >= n) continue;
#pragma unroll
    for (int q = 0; q < kPerThread; ++q) {
      const int i = i0 + ti * kPerThread + q;
      if (i < nc) out[static_cast<std::size_t>(t) * nc + i] = acc[r][q];
    }
  }
}

}  // namespace

void launch_kriging(Context& ctx, const float* d_x, std::size_t n, std::size_t n_channels, const float* d_m,
                    float* d_out) {
  if (n > 0x7fffffffu / (n_channels == 0 ? 1 : n_channels) || n_channels > 65535u * kTileI) {
    throw std::invalid_argument("apply_kriging (CUDA): block of " + std::to_string(n) + " × " +
                                std::to_string(n_channels) + " is too large for 32-bit indexing");
  }
  const dim3 grid(static_cast<unsigned int>((n + kTileT - 1) / kTileT),
                  static_cast<unsigned int>((n_channels + kTileI - 1) / kTileI));
  kriging_kernel<<<grid, kThreads, 0, ctx.stream()>>>(d_x, static_cast<int>(n), static_cast<int>(n_channels), d_m,
                                                      d_out);
  SPIKESHARD_CUDA_LAUNCHED();
}

}  // namespace detail

void apply_kriging(const float* x, std::size_t n_samples, std::size_t n_channels, const float* m, float* out) {
  if (n_channels == 0) throw std::invalid_argument("apply_kriging: n_channels must be > 0");
  if (x == nullptr || m == nullptr || out == nullptr) throw std::invalid_argument("apply_kriging: null pointer");
  detail::ContextLease lease;
  detail::Context& ctx = *lease;
  const std::size_t block = n_samples * n_channels;
  float* d_x = ctx.buffer_of<float>(detail::kSlotA, block);
  float* d_out = ctx.buffer_of<float>(detail::kSlotB, block);
  float* d_m = ctx.buffer_of<float>(detail::kSlotMatrix, n_channels * n_channels);
  ctx.upload(d_x, x, block * sizeof(float));
  ctx.upload(d_m, m, n_channels * n_channels * sizeof(float));
  if (n_samples > 0) detail::launch_kriging(ctx, d_x, n_samples, n_channels, d_m, d_out);
  // The device keeps input and output apart, so out may be x on the host.
  ctx.download(out, d_out, block * sizeof(float));
  ctx.synchronize();
}

}  // namespace spikeshard::cuda

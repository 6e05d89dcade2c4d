// SPDX-License-Identifier: GPL-3.0-or-later
// Preprocessing kernels of the CUDA backend: common median reference, local whitening, and the
// fused per-batch chain (with the high-pass of highpass.cu and the kriging shift of kriging.cu).
// Each kernel repeats the CPU reference's double/float operations in the same order with explicit
// round-to-nearest intrinsics, so nvcc cannot contract them into FMAs and the results equal the
// CPU's bit for bit.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "context.cuh"
#include "cuda_backend.h"
#include "kernels.cuh"
#include "preprocess_internal.h"
#include "spikeshard/preprocess.h"

namespace spikeshard::cuda {

namespace detail {

namespace {

// One block per sample. Each good channel's value gets a unique rank (value, then channel order),
// so the order statistics are found without sorting and without atomics; the median of an even
// count is the mean of the two middle values in double, as on the CPU.
constexpr int kMedianThreads = 128;

__global__ void median_reference_kernel(float* __restrict__ x, std::size_t n_channels,
                                        const std::int32_t* __restrict__ good, int n_good) {
  extern __shared__ float values[];
  __shared__ float middle[2];
  float* row = x + static_cast<std::size_t>(blockIdx.x) * n_channels;
  for (int i = threadIdx.x; i < n_good; i += blockDim.x) values[i] = row[good[i]];
  __syncthreads();
  const int k = n_good / 2;
  for (int i = threadIdx.x; i < n_good; i += blockDim.x) {
    const float v = values[i];
    int rank = 0;
    for (int j = 0; j < n_good; ++j) {
      const float u = values[j];
      rank += (u < v || (u == v && j < i)) ? 1 : 0;
    }
    if (rank == k) middle[1] = v;
    if (rank == k - 1) middle[0] = v;
  }
  __syncthreads();
  const double median = (n_good % 2 == 1)
                            ? static_cast<double>(middle[1])
                            : __ddiv_rn(__dadd_rn(static_cast<double>(middle[0]), static_cast<double>(middle[1])), 2.0);
  for (std::size_t c = threadIdx.x; c < n_channels; c += blockDim.x) {
    row[c] = __double2float_rn(__dsub_rn(static_cast<double>(row[c]), median));
  }
}

// The same order statistics by a bitonic sort of (value, good-list position) pairs in shared
// memory: the pairs are all distinct and ordered exactly as the ranks above (value, then position;
// −0 == +0 ties by position), so position k of the sorted list is the element of rank k, the value
// the rank kernel picks. O(p·log²p) comparisons per sample instead of O(n_good²) (p = n_good
// rounded up to a power of two, padded with +∞ after every real value): at 346 good channels
// ≈ 11 500 compare-exchanges instead of ≈ 120 000 comparisons.
constexpr int kMedianSortThreads = 256;
constexpr std::size_t kMedianSortMaxBytes = 96 * 1024;  // p ≤ 8192; larger lists use the rank kernel

__device__ __forceinline__ bool sorts_after(float a, int ia, float b, int ib) {
  return a > b || (a == b && ia > ib);
}

__global__ void __launch_bounds__(kMedianSortThreads)
    median_reference_sort_kernel(float* __restrict__ x, std::size_t n_channels, const std::int32_t* __restrict__ good,
                                 int n_good, int p) {
  extern __shared__ float sorted[];
  int* position = reinterpret_cast<int*>(sorted + p);
  float* row = x + static_cast<std::size_t>(blockIdx.x) * n_channels;
  for (int i = threadIdx.x; i < p; i += blockDim.x) {
    sorted[i] = i < n_good ? row[good[i]] : INFINITY;
    position[i] = i;
  }
  __syncthreads();
  for (int size = 2; size <= p; size <<= 1) {
    for (int stride = size / 2; stride > 0; stride /= 2) {
      for (int t = threadIdx.x; t < p / 2; t += blockDim.x) {
        const int a = 2 * stride * (t / stride) + t % stride, b = a + stride;
        const bool ascending = (a & size) == 0;
        const float va = sorted[a], vb = sorted[b];
        const int ia = position[a], ib = position[b];
        if (ascending ? sorts_after(va, ia, vb, ib) : sorts_after(vb, ib, va, ia)) {
          sorted[a] = vb;
          sorted[b] = va;
          position[a] = ib;
          position[b] = ia;
        }
      }
      __syncthreads();
    }
  }
  const int k = n_good / 2;
  const double median = (n_good % 2 == 1)
                            ? static_cast<double>(sorted[k])
                            : __ddiv_rn(__dadd_rn(static_cast<double>(sorted[k - 1]), static_cast<double>(sorted[k])), 2.0);
  for (std::size_t c = threadIdx.x; c < n_channels; c += blockDim.x) {
    row[c] = __double2float_rn(__dsub_rn(static_cast<double>(row[c]), median));
  }
}

// A tile of kWhitenSamples samples in shared memory; each thread produces channel j for all of
// them: out[t, j] = scale · Σ_k w[j, k]·x[t, idx[j, k]] in double, k ascending.
constexpr int kWhitenSamples = 16;
constexpr int kWhitenThreads = 128;

__global__ void whitening_kernel(const float* __restrict__ in, std::size_t n, std::size_t n_channels,
                                 const std::int32_t* __restrict__ indices, const float* __restrict__ weights,
                                 int n_nearest, double scale, float* __restrict__ out) {
  extern __shared__ float tile[];  // kWhitenSamples × n_channels
  const std::size_t t0 = static_cast<std::size_t>(blockIdx.x) * kWhitenSamples;
  const int count = static_cast<int>(min(static_cast<std::size_t>(kWhitenSamples), n - t0));
  const std::size_t tile_values = static_cast<std::size_t>(count) * n_channels;
  for (std::size_t i = threadIdx.x; i < tile_values; i += blockDim.x) tile[i] = in[t0 * n_channels + i];
  __syncthreads();
  for (std::size_t j = threadIdx.x; j < n_channels; j += blockDim.x) {
    double sum[kWhitenSamples];
#pragma unroll
    for (int s = 0; s < kWhitenSamples; ++s) sum[s] = 0.0;
    for (int m = 0; m < n_nearest; ++m) {
      const double w = static_cast<double>(weights[j * n_nearest + m]);
      const float* src = tile + indices[j * n_nearest + m];
#pragma unroll
      for (int s = 0; s < kWhitenSamples; ++s) {
        if (s < count) sum[s] = __dadd_rn(sum[s], __dmul_rn(w, static_cast<double>(src[s * n_channels])));
      }
    }
#pragma unroll
    for (int s = 0; s < kWhitenSamples; ++s) {
      if (s < count) out[(t0 + s) * n_channels + j] = __double2float_rn(__dmul_rn(scale, sum[s]));
    }
  }
}

unsigned int blocks_for(std::size_t items, unsigned int per_block) {
  return static_cast<unsigned int>((items + per_block - 1) / per_block);
}

}  // namespace

void launch_median_reference(Context& ctx, float* d_x, std::size_t n, std::size_t n_channels,
                             const std::int32_t* d_good, int n_good) {
  int p = 1;
  while (p < n_good) p *= 2;
  const std::size_t sort_bytes = static_cast<std::size_t>(p) * (sizeof(float) + sizeof(int));
  if (p >= 2 && sort_bytes <= kMedianSortMaxBytes) {
    allow_dynamic_shared_for(median_reference_sort_kernel, sort_bytes);
    const int threads = std::min(kMedianSortThreads, std::max(32, p / 2));
    median_reference_sort_kernel<<<static_cast<unsigned int>(n), threads, sort_bytes, ctx.stream()>>>(
        d_x, n_channels, d_good, n_good, p);
    SPIKESHARD_CUDA_LAUNCHED();
    return;
  }
  median_reference_kernel<<<static_cast<unsigned int>(n), kMedianThreads, static_cast<std::size_t>(n_good) * sizeof(float),
                            ctx.stream()>>>(d_x, n_channels, d_good, n_good);
  SPIKESHARD_CUDA_LAUNCHED();
}

void launch_whitening(Context& ctx, const float* d_in, std::size_t n, std::size_t n_channels,
                      const std::int32_t* d_indices, const float* d_weights, std::size_t n_nearest, double scale,
                      float* d_out) {
  const std::size_t shared = kWhitenSamples * n_channels * sizeof(float);
  allow_dynamic_shared_for(whitening_kernel, shared);
  whitening_kernel<<<blocks_for(n, kWhitenSamples), kWhitenThreads, shared, ctx.stream()>>>(
      d_in, n, n_channels, d_indices, d_weights, static_cast<int>(n_nearest), scale, d_out);
  SPIKESHARD_CUDA_LAUNCHED();
}

// Good channels as an index list (what the median kernel reads); throws like the CPU if none.
std::vector<std::int32_t> good_list(const std::uint8_t* good, std::size_t n_channels, const char* what) {
  if (good == nullptr) throw std::invalid_argument(std::string(what) + ": good-channel mask is null");
  std::vector<std::int32_t> list;
  for (std::size_t c = 0; c < n_channels; ++c) {
    if (good[c] != 0) list.push_back(static_cast<std::int32_t>(c));
  }
  if (list.empty()) {
    throw std::invalid_argument(std::string(what) + ": no channel is marked good (of " + std::to_string(n_channels) +
                                ")");
  }
  return list;
}

void check_whitening(const std::int32_t* indices, const float* weights, std::size_t n_channels, std::size_t k) {
  if (indices == nullptr || weights == nullptr) throw std::invalid_argument("apply_whitening: indices or weights null");
  if (k == 0 || k > n_channels) {
    throw std::invalid_argument("apply_whitening: neighbourhood size must be in 1.." + std::to_string(n_channels) +
                                ", got " + std::to_string(k));
  }
  for (std::size_t i = 0; i < n_channels * k; ++i) {
    if (indices[i] < 0 || static_cast<std::size_t>(indices[i]) >= n_channels) {
      throw std::invalid_argument("apply_whitening: index " + std::to_string(indices[i]) + " at entry " +
                                  std::to_string(i) + " is not a channel (0.." + std::to_string(n_channels - 1) + ")");
    }
  }
}

void check_pieces(const KrigingPieces& kriging, std::size_t n) {
  std::size_t previous_end = 0;
  for (std::size_t p = 0; p < kriging.size(); ++p) {
    const KrigingPiece& k = kriging[p];
    const std::string which = "kriging piece " + std::to_string(p);
    if (k.matrix == nullptr) throw std::invalid_argument("preprocess_batch: " + which + " has no matrix");
    if (!(k.row_begin < k.row_end && k.row_end <= n)) {
      throw std::invalid_argument("preprocess_batch: " + which + " covers rows [" + std::to_string(k.row_begin) + ", " +
                                  std::to_string(k.row_end) + "), expected a non-empty range inside [0, " +
                                  std::to_string(n) + ")");
    }
    if (k.row_begin < previous_end) {
      throw std::invalid_argument("preprocess_batch: " + which + " starts at row " + std::to_string(k.row_begin) +
                                  ", before the end of the previous piece (" + std::to_string(previous_end) +
                                  "): pieces must be sorted and disjoint");
    }
    previous_end = k.row_end;
  }
}

std::unique_ptr<StagedInput> stage_raw(const PreprocessBatchInput& input, const char* caller) {
  spikeshard::detail::require_block(caller, input.raw, input.raw_stride, input.n_samples, input.n_channels);
  return std::make_unique<StagedInput>(input.raw, input.n_samples * input.raw_stride * sizeof(std::int16_t));
}

// The fused chain on the device. Returns the device block holding the result.
float* run_preprocess(Context& ctx, const PreprocessBatchInput& input, const KrigingPieces& kriging,
                      BenchmarkResult* timing, int repeats, bool raw_on_device, const StagedInput* staged) {
  spikeshard::detail::require_block("preprocess_batch", input.raw, input.raw_stride, input.n_samples,
                                    input.n_channels);
  if (input.good == nullptr) throw std::invalid_argument("preprocess_batch: good-channel mask is null");
  check_whitening(input.whitening_indices, input.whitening_weights, input.n_channels, input.n_nearest);
  const std::size_t n = input.n_samples, nc = input.n_channels, k = input.n_nearest;
  check_pieces(kriging, n);
  const std::size_t scratch_rows = highpass_scratch_rows(input.highpass, n, "preprocess_batch");
  const std::vector<std::int32_t> good =
      input.common_reference ? good_list(input.good, nc, "preprocess_batch") : std::vector<std::int32_t>{};

  auto* d_raw = ctx.buffer_of<std::int16_t>(kSlotRaw, n * input.raw_stride);
  double* d_gains = input.gains != nullptr ? ctx.buffer_of<double>(kSlotGains, nc) : nullptr;
  auto* d_good = ctx.buffer_of<std::int32_t>(kSlotGood, std::max<std::size_t>(good.size(), 1));
  auto* d_indices = ctx.buffer_of<std::int32_t>(kSlotIndices, nc * k);
  float* d_weights = ctx.buffer_of<float>(kSlotWeights, nc * k);
  float* d_a = ctx.buffer_of<float>(kSlotA, n * nc);
  float* d_b = ctx.buffer_of<float>(kSlotB, n * nc);
  float* d_m = !kriging.empty() ? ctx.buffer_of<float>(kSlotMatrix, kriging.size() * nc * nc) : nullptr;
  // Reserve the filter scratch before any timing so no allocation lands inside a timed stage.
  double* d_scratch = ctx.buffer_of<double>(kSlotScratch, scratch_rows * nc);

  if (d_gains != nullptr) ctx.upload(d_gains, input.gains, nc * sizeof(double));
  if (!good.empty()) ctx.upload(d_good, good.data(), good.size() * sizeof(std::int32_t));
  ctx.upload(d_indices, input.whitening_indices, nc * k * sizeof(std::int32_t));
  ctx.upload(d_weights, input.whitening_weights, nc * k * sizeof(float));
  for (std::size_t p = 0; p < kriging.size(); ++p) {
    ctx.upload(d_m + p * nc * nc, kriging[p].matrix, nc * nc * sizeof(float));
  }

  const std::size_t raw_bytes = n * input.raw_stride * sizeof(std::int16_t);
  const std::size_t block_bytes = n * nc * sizeof(float);
  // The shift: each piece's rows d_b → d_a with its matrix, rows between pieces copied unshifted.
  auto shift = [&]() {
    std::size_t row = 0;
    auto copy_rows = [&](std::size_t from, std::size_t to) {
      if (to <= from) return;
      SPIKESHARD_CUDA_CHECK(cudaMemcpyAsync(d_a + from * nc, d_b + from * nc, (to - from) * nc * sizeof(float),
                                            cudaMemcpyDeviceToDevice, ctx.stream()));
    };
    for (std::size_t p = 0; p < kriging.size(); ++p) {
      const KrigingPiece& piece = kriging[p];
      copy_rows(row, piece.row_begin);
      launch_kriging(ctx, d_b + piece.row_begin * nc, piece.row_end - piece.row_begin, nc, d_m + p * nc * nc,
                     d_a + piece.row_begin * nc);
      row = piece.row_end;
    }
    copy_rows(row, n);
  };
  auto highpass = [&](float* d_out) {
    launch_zero_phase_highpass(ctx, d_raw, input.raw_stride, d_gains, n, nc, input.highpass, "preprocess_batch",
                               d_scratch, d_out);
  };
  auto chain = [&]() {
    highpass(d_a);
    if (!good.empty()) launch_median_reference(ctx, d_a, n, nc, d_good, static_cast<int>(good.size()));
    launch_whitening(ctx, d_a, n, nc, d_indices, d_weights, k, input.scale, d_b);
    if (d_m != nullptr) shift();
  };
  float* const result = d_m != nullptr ? d_a : d_b;

  if (timing == nullptr) {
    if (staged != nullptr) {
      ctx.upload(d_raw, staged->data(), raw_bytes);
    } else if (!raw_on_device) {
      ctx.upload_staged(d_raw, input.raw, raw_bytes);
    }
    chain();
    return result;
  }

  // Benchmark: one warm-up, then each stage timed `repeats` times with events.
  ctx.upload_staged(d_raw, input.raw, raw_bytes);
  chain();
  ctx.synchronize();
  cudaEvent_t start, stop;
  SPIKESHARD_CUDA_CHECK(cudaEventCreate(&start));
  SPIKESHARD_CUDA_CHECK(cudaEventCreate(&stop));
  HostVector<float> host(n * nc);
  auto time = [&](auto&& body) {
    SPIKESHARD_CUDA_CHECK(cudaEventRecord(start, ctx.stream()));
    for (int r = 0; r < repeats; ++r) body();
    SPIKESHARD_CUDA_CHECK(cudaEventRecord(stop, ctx.stream()));
    SPIKESHARD_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    SPIKESHARD_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    return static_cast<double>(ms) / repeats;
  };
  auto download = [&](const float* d_src) {
    StagedDownloads out(ctx);
    out.add(host.data(), d_src, block_bytes);
    out.run();
  };
  const double scratch_bytes = static_cast<double>(scratch_rows) * static_cast<double>(nc) * sizeof(double);
  StageTiming* st = timing->stages;
  // Staged: the host copy into pinned memory and the DMA (the event brackets both).
  st[0].ms = time([&] { ctx.upload_staged(d_raw, input.raw, raw_bytes); });
  st[0].bytes = static_cast<double>(raw_bytes);
  st[1].ms = time([&] { highpass(d_a); });
  // Input read twice (sums, forward pass), scratch written and read twice (both passes), output
  // written once.
  st[1].bytes = 2.0 * static_cast<double>(n * nc * sizeof(std::int16_t)) + 4.0 * scratch_bytes +
                static_cast<double>(block_bytes);
  if (!good.empty()) {
    // In place: repeated application is fine for timing (same work every time).
    st[2].ms = time([&] { launch_median_reference(ctx, d_a, n, nc, d_good, static_cast<int>(good.size())); });
    st[2].bytes = 2.0 * static_cast<double>(block_bytes);
  }
  st[3].ms = time([&] { launch_whitening(ctx, d_a, n, nc, d_indices, d_weights, k, input.scale, d_b); });
  st[3].bytes = 2.0 * static_cast<double>(block_bytes);
  if (d_m != nullptr) {
    st[4].ms = time([&] { shift(); });
    st[4].bytes = 2.0 * static_cast<double>(block_bytes);
  }
  st[5].ms = time([&] { download(d_b); });
  st[5].bytes = static_cast<double>(block_bytes);
  st[6].ms = time([&] {
    ctx.upload_staged(d_raw, input.raw, raw_bytes);
    chain();
    download(result);
  });
  st[6].bytes = static_cast<double>(raw_bytes + block_bytes);
  timing->repeats = repeats;
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return result;
}

}  // namespace detail

using detail::Context;

namespace {

template <typename In>
void highpass_impl(const In* in, std::size_t in_stride, const double* gains, std::size_t n_samples,
                   std::size_t n_channels, const HighpassOptions& options, float* out) {
  spikeshard::detail::require_block("highpass_block", in, in_stride, n_samples, n_channels);
  if (out == nullptr) throw std::invalid_argument("highpass_block: output pointer is null");
  const std::size_t scratch_rows = detail::highpass_scratch_rows(options, n_samples, "highpass_block (CUDA)");
  detail::ContextLease lease;
  Context& ctx = *lease;
  In* d_in = ctx.buffer_of<In>(detail::kSlotRaw, n_samples * in_stride);
  double* d_gains = gains != nullptr ? ctx.buffer_of<double>(detail::kSlotGains, n_channels) : nullptr;
  double* d_scratch = ctx.buffer_of<double>(detail::kSlotScratch, scratch_rows * n_channels);
  float* d_out = ctx.buffer_of<float>(detail::kSlotA, n_samples * n_channels);
  ctx.upload(d_in, in, n_samples * in_stride * sizeof(In));
  if (d_gains != nullptr) ctx.upload(d_gains, gains, n_channels * sizeof(double));
  detail::launch_zero_phase_highpass(ctx, d_in, in_stride, d_gains, n_samples, n_channels, options,
                                     "highpass_block (CUDA)", d_scratch, d_out);
  ctx.download(out, d_out, n_samples * n_channels * sizeof(float));
  ctx.synchronize();
}

}  // namespace

void highpass_block(const std::int16_t* in, std::size_t in_stride, const double* gains, std::size_t n_samples,
                    std::size_t n_channels, const HighpassOptions& options, float* out) {
  highpass_impl(in, in_stride, gains, n_samples, n_channels, options, out);
}

void highpass_block(const float* in, std::size_t in_stride, const double* gains, std::size_t n_samples,
                    std::size_t n_channels, const HighpassOptions& options, float* out) {
  highpass_impl(in, in_stride, gains, n_samples, n_channels, options, out);
}

void common_median_reference(float* x, std::size_t n_samples, std::size_t n_channels, const std::uint8_t* good) {
  spikeshard::detail::require_block("common_median_reference", x, n_channels, n_samples, n_channels);
  const std::vector<std::int32_t> list = detail::good_list(good, n_channels, "common_median_reference");
  detail::ContextLease lease;
  Context& ctx = *lease;
  float* d_x = ctx.buffer_of<float>(detail::kSlotA, n_samples * n_channels);
  auto* d_good = ctx.buffer_of<std::int32_t>(detail::kSlotGood, list.size());
  ctx.upload(d_x, x, n_samples * n_channels * sizeof(float));
  ctx.upload(d_good, list.data(), list.size() * sizeof(std::int32_t));
  detail::launch_median_reference(ctx, d_x, n_samples, n_channels, d_good, static_cast<int>(list.size()));
  ctx.download(x, d_x, n_samples * n_channels * sizeof(float));
  ctx.synchronize();
}

void apply_whitening(const float* in, std::size_t n_samples, std::size_t n_channels, const std::int32_t* indices,
                     const float* weights, std::size_t n_nearest, double scale, float* out) {
  spikeshard::detail::require_block("apply_whitening", in, n_channels, n_samples, n_channels);
  if (out == nullptr) throw std::invalid_argument("apply_whitening: output pointer is null");
  detail::check_whitening(indices, weights, n_channels, n_nearest);
  detail::ContextLease lease;
  Context& ctx = *lease;
  const std::size_t block = n_samples * n_channels, nk = n_channels * n_nearest;
  float* d_in = ctx.buffer_of<float>(detail::kSlotA, block);
  float* d_out = ctx.buffer_of<float>(detail::kSlotB, block);
  auto* d_indices = ctx.buffer_of<std::int32_t>(detail::kSlotIndices, nk);
  float* d_weights = ctx.buffer_of<float>(detail::kSlotWeights, nk);
  ctx.upload(d_in, in, block * sizeof(float));
  ctx.upload(d_indices, indices, nk * sizeof(std::int32_t));
  ctx.upload(d_weights, weights, nk * sizeof(float));
  detail::launch_whitening(ctx, d_in, n_samples, n_channels, d_indices, d_weights, n_nearest, scale, d_out);
  ctx.download(out, d_out, block * sizeof(float));
  ctx.synchronize();
}

KrigingPieces whole_block(const float* kriging_matrix, std::size_t n_samples) {
  if (kriging_matrix == nullptr) return {};
  return {KrigingPiece{0, n_samples, kriging_matrix}};
}

void preprocess_shift_batch(const PreprocessBatchInput& input, const KrigingPieces& kriging, float* out) {
  if (out == nullptr) throw std::invalid_argument("preprocess_batch: output pointer is null");
  const std::unique_ptr<detail::StagedInput> staged = detail::stage_raw(input, "preprocess_batch");
  detail::ContextLease lease;
  Context& ctx = *lease;
  const float* d_result = detail::run_preprocess(ctx, input, kriging, nullptr, 0, false, staged.get());
  detail::StagedDownloads downloads(ctx);
  downloads.add(out, d_result, input.n_samples * input.n_channels * sizeof(float));
  downloads.run();
}

void preprocess_shift_batch(const PreprocessBatchInput& input, const float* kriging_matrix, float* out) {
  preprocess_shift_batch(input, whole_block(kriging_matrix, input.n_samples), out);
}

void preprocess_batch(const PreprocessBatchInput& input, float* out) { preprocess_shift_batch(input, nullptr, out); }

BenchmarkResult benchmark_preprocess(const PreprocessBatchInput& input, const float* kriging_matrix, int repeats) {
  if (repeats < 1) throw std::invalid_argument("benchmark_preprocess: repeats must be ≥ 1, got " + std::to_string(repeats));
  detail::ContextLease lease;
  Context& ctx = *lease;
  BenchmarkResult result;
  detail::run_preprocess(ctx, input, whole_block(kriging_matrix, input.n_samples), &result, repeats);
  return result;
}

}  // namespace spikeshard::cuda

// SPDX-License-Identifier: GPL-3.0-or-later
// The zero-phase Butterworth high-pass on the device, for the ks25 chain (preprocess.cu) and IBL's
// destripe (destripe.cu): per-channel mean removal, scipy's odd extension, a forward and a backward
// pass of the cascade of second-order sections, the central rows rounded to float.
//
// The recursion is sequential in time within a channel, and 384 channels alone would fill 12 of an
// H100's 132 SMs (the one-thread-per-channel kernel that this replaces took 12.5 ms per 384 × 67 648
// batch, ~4× its own dependent chain). So each pass is cut into segments of kHighpassSegment rows,
// which are filtered side by side from zero state; a short sequential scan per channel then carries
// the state from segment to segment (the zero-state run's final state plus the free evolution of the
// state carried in), and each row adds the free response of the state carried into its segment. The
// CPU reference (preprocess_filter.cc) computes the same values in the same operation order, one
// segment after the other, and both take their free-response tables from segment_response(), so the
// results agree bit for bit; the explicit round-to-nearest intrinsics keep nvcc from contracting
// them into FMAs.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "context.cuh"
#include "kernels.cuh"
#include "preprocess_internal.h"

namespace spikeshard::cuda::detail {

namespace {

constexpr std::size_t kSegment = spikeshard::detail::kHighpassSegment;
constexpr int kMaxSections = static_cast<int>(spikeshard::detail::kMaxHighpassSections);

// The sections as the kernels take them (by value): the coefficients and scipy's sosfilt_zi
// steady state, both from the CPU core (the same values as its filter uses).
struct SectionPlan {
  double b0[kMaxSections], b1[kMaxSections], b2[kMaxSections], a1[kMaxSections], a2[kMaxSections];
  double z0[kMaxSections], z1[kMaxSections];
  int n_sections;
  int pad;  // samples of scipy's odd extension on each side
};

// `caller` names the entry in errors (a filter of more than kMaxSections sections, a signal not
// longer than the padding).
SectionPlan section_plan(const std::vector<SosSection>& sos, std::size_t n_samples, const char* caller) {
  if (sos.size() > static_cast<std::size_t>(kMaxSections)) {
    throw std::invalid_argument(std::string(caller) + ": at most " + std::to_string(kMaxSections) +
                                " sections (order 16), got " + std::to_string(sos.size()));
  }
  const std::size_t pad = filtfilt_pad_samples(sos);
  if (n_samples <= pad) {
    throw std::invalid_argument("sosfiltfilt: the signal must be longer than the edge padding (" +
                                std::to_string(pad) + " samples), got " + std::to_string(n_samples) + " samples");
  }
  const spikeshard::detail::SteadyState zi = spikeshard::detail::steady_state(sos);
  SectionPlan plan{};
  plan.n_sections = static_cast<int>(sos.size());
  plan.pad = static_cast<int>(pad);
  for (std::size_t s = 0; s < sos.size(); ++s) {
    plan.b0[s] = sos[s].b0;
    plan.b1[s] = sos[s].b1;
    plan.b2[s] = sos[s].b2;
    plan.a1[s] = sos[s].a1;
    plan.a2[s] = sos[s].a2;
    plan.z0[s] = zi.z0[s];
    plan.z1[s] = zi.z1[s];
  }
  return plan;
}

std::vector<SosSection> design(const HighpassOptions& options) {
  return butterworth_highpass_sos(options.order, options.cutoff_hz, options.sample_rate_hz);
}


constexpr int kLanes = 32;            // channels per block, one per lane
constexpr int kSegmentsPerBlock = 4;  // warps per block, each on its own segment
constexpr int kRun = 16;              // rows whose loads are issued before the recursion uses them
constexpr int kOutRows = 16;          // rows per thread of the output step
static_assert(kSegment % kOutRows == 0, "an output run stays inside one segment");

// kSections > 0 fixes the section count at compile time; 0 takes it from the plan (up to
// kMaxSections). Either way the loops are unrolled to a fixed bound so that the states stay in
// registers.
template <int kSections>
constexpr int kCap = kSections > 0 ? kSections : kMaxSections;

struct Shape {
  std::size_t n, nc, pad, total;
  std::size_t mean_segments;  // segments of the channel sums, over the n samples
  std::size_t pass_segments;  // segments of each pass, over the total = n + 2·pad extended rows
};

// Device arrays of one call (kSlotHighpassSegments), doubles.
struct Arrays {
  const double* free_output;  // kSegment × width (segment_response)
  const double* free_state;   // width × width
  double* partial;            // mean_segments × nc: the channel sums per segment
  double* edge;               // 3 × nc: mean, x[0] − mean, x[n − 1] − mean
  double* first;              // 2 × nc: the forward pass's first input, the backward pass's
  double* finals;             // pass_segments × width × nc: a zero-state run's final state
  double* carried;            // pass_segments × width × nc: the state carried into each segment
};

__device__ __forceinline__ double centred(double value, double gain, double mean) {
  return __dsub_rn(__dmul_rn(value, gain), mean);
}

// The cascade on one value from the states s0, s1 (direct form II transposed, the CPU's order).
template <int kSections>
__device__ __forceinline__ double cascade_step(const SectionPlan& plan, double* s0, double* s1, double v) {
#pragma unroll
  for (int s = 0; s < kCap<kSections>; ++s) {
    if (kSections > 0 || s < plan.n_sections) {
      const double y = __dadd_rn(__dmul_rn(plan.b0[s], v), s0[s]);
      s0[s] = __dadd_rn(__dsub_rn(__dmul_rn(plan.b1[s], v), __dmul_rn(plan.a1[s], y)), s1[s]);
      s1[s] = __dsub_rn(__dmul_rn(plan.b2[s], v), __dmul_rn(plan.a2[s], y));
      v = y;
    }
  }
  return v;
}

// Σ_j g[j]·state[j], term by term from the first, as the CPU sums.
template <int kSections>
__device__ __forceinline__ double dot_state(const double* g, const double* state, int width) {
  double sum = __dmul_rn(g[0], state[0]);
#pragma unroll
  for (int j = 1; j < 2 * kCap<kSections>; ++j) {
    if (j < width) sum = __dadd_rn(sum, __dmul_rn(g[j], state[j]));
  }
  return sum;
}

template <int kSections>
__device__ __forceinline__ void load_state(const double* table, std::size_t segment, int width, std::size_t nc,
                                           std::size_t c, double* state) {
#pragma unroll
  for (int j = 0; j < 2 * kCap<kSections>; ++j) {
    if (j < width) state[j] = table[(segment * width + j) * nc + c];
  }
}

template <int kSections>
__device__ __forceinline__ void store_finals(const double* s0, const double* s1, int width, std::size_t segment,
                                             std::size_t nc, std::size_t c, double* finals) {
#pragma unroll
  for (int s = 0; s < kCap<kSections>; ++s) {
    if (2 * s < width) {
      finals[(segment * width + 2 * s) * nc + c] = s0[s];
      finals[(segment * width + 2 * s + 1) * nc + c] = s1[s];
    }
  }
}

// Step 1: the sum of value·gain over each segment of each channel, from 0.0 in sample order.
template <typename In>
__global__ void __launch_bounds__(kLanes* kSegmentsPerBlock)
    segment_sums_kernel(const In* __restrict__ in, std::size_t stride, const double* __restrict__ gains, Shape sh,
                        double* __restrict__ partial) {
  const std::size_t c = static_cast<std::size_t>(blockIdx.x) * kLanes + threadIdx.x;
  const std::size_t k = static_cast<std::size_t>(blockIdx.y) * kSegmentsPerBlock + threadIdx.y;
  if (c >= sh.nc || k >= sh.mean_segments) return;
  const double gain = gains != nullptr ? gains[c] : 1.0;
  const std::size_t t1 = min(sh.n, (k + 1) * kSegment);
  double sum = 0.0;
  for (std::size_t t0 = k * kSegment; t0 < t1; t0 += kRun) {
    In v[kRun];
#pragma unroll
    for (int i = 0; i < kRun; ++i) v[i] = t0 + i < t1 ? in[(t0 + i) * stride + c] : In(0);
#pragma unroll
    for (int i = 0; i < kRun; ++i) {
      if (t0 + i < t1) sum = __dadd_rn(sum, __dmul_rn(static_cast<double>(v[i]), gain));
    }
  }
  partial[k * sh.nc + c] = sum;
}

// Extended row r of a channel (scipy's odd extension of the centred signal).
__device__ __forceinline__ std::size_t extended_source(std::size_t r, const Shape& sh) {
  if (r < sh.pad) return sh.pad - r;
  if (r >= sh.pad + sh.n) return sh.n - 1 - (r - (sh.pad + sh.n - 1));
  return r - sh.pad;
}

__device__ __forceinline__ double extended_value(double centred_value, std::size_t r, const Shape& sh, double first,
                                                 double last) {
  if (r < sh.pad) return __dsub_rn(__dmul_rn(2.0, first), centred_value);
  if (r >= sh.pad + sh.n) return __dsub_rn(__dmul_rn(2.0, last), centred_value);
  return centred_value;
}

// Step 2, one thread per channel: the mean (the segments' sums in order), the centred end samples,
// and the forward pass's first input (extended row 0).
template <typename In>
__global__ void channel_edges_kernel(const In* __restrict__ in, std::size_t stride, const double* __restrict__ gains,
                                     Shape sh, Arrays a) {
  const std::size_t c = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= sh.nc) return;
  const double gain = gains != nullptr ? gains[c] : 1.0;
  double sum = 0.0;
  for (std::size_t k0 = 0; k0 < sh.mean_segments; k0 += kRun) {
    double part[kRun];
#pragma unroll
    for (int i = 0; i < kRun; ++i) part[i] = k0 + i < sh.mean_segments ? a.partial[(k0 + i) * sh.nc + c] : 0.0;
#pragma unroll
    for (int i = 0; i < kRun; ++i) {
      if (k0 + i < sh.mean_segments) sum = __dadd_rn(sum, part[i]);
    }
  }
  const double mean = __ddiv_rn(sum, static_cast<double>(sh.n));
  const double first = centred(static_cast<double>(in[c]), gain, mean);
  const double last = centred(static_cast<double>(in[(sh.n - 1) * stride + c]), gain, mean);
  a.edge[c] = mean;
  a.edge[sh.nc + c] = first;
  a.edge[2 * sh.nc + c] = last;
  const double x = centred(static_cast<double>(in[extended_source(0, sh) * stride + c]), gain, mean);
  a.first[c] = extended_value(x, 0, sh, first, last);
}

// Step 3: the forward pass of each segment from zero state over the extended rows; outputs to the
// scratch rows, final states to a.finals.
template <typename In, int kSections>
__global__ void __launch_bounds__(kLanes* kSegmentsPerBlock)
    forward_segments_kernel(const In* __restrict__ in, std::size_t stride, const double* __restrict__ gains,
                            SectionPlan plan, Shape sh, Arrays a, double* __restrict__ scratch) {
  const std::size_t c = static_cast<std::size_t>(blockIdx.x) * kLanes + threadIdx.x;
  const std::size_t k = static_cast<std::size_t>(blockIdx.y) * kSegmentsPerBlock + threadIdx.y;
  if (c >= sh.nc || k >= sh.pass_segments) return;
  const double gain = gains != nullptr ? gains[c] : 1.0;
  const double mean = a.edge[c], first = a.edge[sh.nc + c], last = a.edge[2 * sh.nc + c];
  double s0[kCap<kSections>] = {}, s1[kCap<kSections>] = {};
  const std::size_t r1 = min(sh.total, (k + 1) * kSegment);
  for (std::size_t r0 = k * kSegment; r0 < r1; r0 += kRun) {
    In v[kRun];
#pragma unroll
    for (int i = 0; i < kRun; ++i) v[i] = r0 + i < r1 ? in[extended_source(r0 + i, sh) * stride + c] : In(0);
#pragma unroll
    for (int i = 0; i < kRun; ++i) {
      if (r0 + i < r1) {
        const double x = extended_value(centred(static_cast<double>(v[i]), gain, mean), r0 + i, sh, first, last);
        scratch[(r0 + i) * sh.nc + c] = cascade_step<kSections>(plan, s0, s1, x);
      }
    }
  }
  store_finals<kSections>(s0, s1, 2 * plan.n_sections, k, sh.nc, c, a.finals);
}

// Segments whose final states a carry thread loads before it uses them: the scan itself is a short
// dependent chain per segment, so with one load at a time it would wait on memory latency at every
// step (305 µs per pass for 265 segments on the H100, against ~10 µs of arithmetic).
// (Fewer for the generic count, whose 16-wide states already take most registers.)
template <int kSections>
constexpr int kCarryRun = kSections > 0 ? 64 / (2 * kSections) : 2;

// Steps 4 and 6, one thread per channel: the state carried into each segment of a pass, from the
// steady state scaled by the pass's first input; into a.carried.
template <int kSections>
__global__ void carry_kernel(SectionPlan plan, Shape sh, Arrays a, const double* __restrict__ first_input) {
  constexpr int kWidth = 2 * kCap<kSections>;
  constexpr int kRunSegments = kCarryRun<kSections>;
  __shared__ double free_state[kWidth * kWidth];
  const int width = 2 * plan.n_sections;
  for (int i = threadIdx.x; i < width * width; i += blockDim.x) free_state[i] = a.free_state[i];
  __syncthreads();
  const std::size_t c = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= sh.nc) return;
  const double* __restrict__ finals = a.finals;
  double* __restrict__ carried = a.carried;
  const double u0 = first_input[c];
  double state[kWidth], next[kWidth];
#pragma unroll
  for (int s = 0; s < kCap<kSections>; ++s) {
    if (2 * s < width) {
      state[2 * s] = __dmul_rn(plan.z0[s], u0);
      state[2 * s + 1] = __dmul_rn(plan.z1[s], u0);
    }
  }
  const std::size_t last = sh.pass_segments - 1;  // its final state is never needed
  for (std::size_t k0 = 0; k0 <= last; k0 += kRunSegments) {
    double f[kRunSegments][kWidth];
#pragma unroll
    for (int u = 0; u < kRunSegments; ++u) {
#pragma unroll
      for (int j = 0; j < kWidth; ++j) {
        if (j < width && k0 + u < last) f[u][j] = finals[((k0 + u) * width + j) * sh.nc + c];
      }
    }
#pragma unroll
    for (int u = 0; u < kRunSegments; ++u) {
      const std::size_t k = k0 + u;
      if (k <= last) {
#pragma unroll
        for (int j = 0; j < kWidth; ++j) {
          if (j < width) carried[(k * width + j) * sh.nc + c] = state[j];
        }
      }
      if (k < last) {
#pragma unroll
        for (int r = 0; r < kWidth; ++r) {
          if (r < width) next[r] = __dadd_rn(dot_state<kSections>(free_state + r * width, state, width), f[u][r]);
        }
#pragma unroll
        for (int j = 0; j < kWidth; ++j) state[j] = next[j];
      }
    }
  }
}

// Step 5: the backward pass of each segment (rows in reverse order) from zero state; its input is
// the forward pass's output, the zero-state value plus the free response of the state carried into
// the forward segment. The backward segment k covers the pass's rows [k·kSegment, …), row
// total − 1 − p for pass row p; in place in the scratch rows.
template <int kSections>
__global__ void __launch_bounds__(kLanes* kSegmentsPerBlock)
    backward_segments_kernel(SectionPlan plan, Shape sh, Arrays a, double* __restrict__ scratch) {
  const std::size_t c = static_cast<std::size_t>(blockIdx.x) * kLanes + threadIdx.x;
  const std::size_t k = static_cast<std::size_t>(blockIdx.y) * kSegmentsPerBlock + threadIdx.y;
  if (c >= sh.nc || k >= sh.pass_segments) return;
  const int width = 2 * plan.n_sections;
  const double* __restrict__ free_output = a.free_output;
  const double* __restrict__ forward_carried = a.carried;
  double s0[kCap<kSections>] = {}, s1[kCap<kSections>] = {};
  double carried[2 * kCap<kSections>];
  std::size_t forward_segment = ~std::size_t{0};
  const std::size_t p1 = min(sh.total, (k + 1) * kSegment);
  for (std::size_t p0 = k * kSegment; p0 < p1; p0 += kRun) {
    double v[kRun];
#pragma unroll
    for (int i = 0; i < kRun; ++i) v[i] = p0 + i < p1 ? scratch[(sh.total - 1 - (p0 + i)) * sh.nc + c] : 0.0;
#pragma unroll
    for (int i = 0; i < kRun; ++i) {
      if (p0 + i < p1) {
        const std::size_t r = sh.total - 1 - (p0 + i);
        if (r / kSegment != forward_segment) {
          forward_segment = r / kSegment;
          load_state<kSections>(forward_carried, forward_segment, width, sh.nc, c, carried);
        }
        const double u = __dadd_rn(v[i], dot_state<kSections>(free_output + (r % kSegment) * width, carried, width));
        if (p0 + i == 0) a.first[sh.nc + c] = u;
        scratch[r * sh.nc + c] = cascade_step<kSections>(plan, s0, s1, u);
      }
    }
  }
  store_finals<kSections>(s0, s1, width, k, sh.nc, c, a.finals);
}

// Step 7: the backward pass's output, the zero-state value plus the free response of the state
// carried into its segment, for the central rows, rounded to float: out[t · nc + c], row t + pad.
template <int kSections>
__global__ void __launch_bounds__(kLanes* kSegmentsPerBlock)
    output_kernel(SectionPlan plan, Shape sh, Arrays a, const double* __restrict__ scratch, float* __restrict__ out) {
  const std::size_t c = static_cast<std::size_t>(blockIdx.x) * kLanes + threadIdx.x;
  const std::size_t p0 = (static_cast<std::size_t>(blockIdx.y) * kSegmentsPerBlock + threadIdx.y) * kOutRows;
  if (c >= sh.nc || p0 >= sh.total) return;
  const int width = 2 * plan.n_sections;
  double carried[2 * kCap<kSections>];
  load_state<kSections>(a.carried, p0 / kSegment, width, sh.nc, c, carried);
#pragma unroll
  for (int i = 0; i < kOutRows; ++i) {
    const std::size_t p = p0 + i;
    if (p >= sh.total) break;
    const std::size_t r = sh.total - 1 - p;
    if (r < sh.pad || r >= sh.pad + sh.n) continue;
    const double y = __dadd_rn(scratch[r * sh.nc + c],
                               dot_state<kSections>(a.free_output + (p % kSegment) * width, carried, width));
    out[(r - sh.pad) * sh.nc + c] = __double2float_rn(y);
  }
}

unsigned int blocks(std::size_t items, std::size_t per_block) {
  return static_cast<unsigned int>((items + per_block - 1) / per_block);
}

template <typename In, int kSections>
void launch_steps(Context& ctx, const In* d_in, std::size_t in_stride, const double* d_gains, const SectionPlan& plan,
                  const Shape& sh, const Arrays& a, double* d_scratch, float* d_out) {
  const dim3 tile(kLanes, kSegmentsPerBlock);
  const unsigned channel_blocks = blocks(sh.nc, kLanes);
  const unsigned per_channel = blocks(sh.nc, 128);
  cudaStream_t stream = ctx.stream();
  segment_sums_kernel<In><<<dim3(channel_blocks, blocks(sh.mean_segments, kSegmentsPerBlock)), tile, 0, stream>>>(
      d_in, in_stride, d_gains, sh, a.partial);
  SPIKESHARD_CUDA_LAUNCHED();
  channel_edges_kernel<In><<<per_channel, 128, 0, stream>>>(d_in, in_stride, d_gains, sh, a);
  SPIKESHARD_CUDA_LAUNCHED();
  const dim3 segment_grid(channel_blocks, blocks(sh.pass_segments, kSegmentsPerBlock));
  forward_segments_kernel<In, kSections><<<segment_grid, tile, 0, stream>>>(d_in, in_stride, d_gains, plan, sh, a,
                                                                             d_scratch);
  SPIKESHARD_CUDA_LAUNCHED();
  carry_kernel<kSections><<<per_channel, 128, 0, stream>>>(plan, sh, a, a.first);
  SPIKESHARD_CUDA_LAUNCHED();
  backward_segments_kernel<kSections><<<segment_grid, tile, 0, stream>>>(plan, sh, a, d_scratch);
  SPIKESHARD_CUDA_LAUNCHED();
  carry_kernel<kSections><<<per_channel, 128, 0, stream>>>(plan, sh, a, a.first + sh.nc);
  SPIKESHARD_CUDA_LAUNCHED();
  const dim3 out_grid(channel_blocks, blocks(blocks(sh.total, kOutRows), kSegmentsPerBlock));  // ≤ 65 535: checked
  output_kernel<kSections><<<out_grid, tile, 0, stream>>>(plan, sh, a, d_scratch, d_out);
  SPIKESHARD_CUDA_LAUNCHED();
}

}  // namespace

std::size_t highpass_scratch_rows(const HighpassOptions& options, std::size_t n_samples, const char* caller) {
  return n_samples + 2 * static_cast<std::size_t>(section_plan(design(options), n_samples, caller).pad);
}

template <typename In>
void launch_zero_phase_highpass(Context& ctx, const In* d_in, std::size_t in_stride, const double* d_gains,
                                std::size_t n, std::size_t nc, const HighpassOptions& options, const char* caller,
                                double* d_scratch, float* d_out) {
  const std::vector<SosSection> sos = design(options);
  const SectionPlan plan = section_plan(sos, n, caller);
  // The output step's grid rows (kOutRows · kSegmentsPerBlock rows each) are the longest dimension.
  const std::size_t max_rows = 65535u * static_cast<std::size_t>(kOutRows * kSegmentsPerBlock) - 2 * plan.pad;
  if (n > max_rows) {
    throw std::invalid_argument(std::string(caller) + ": at most " + std::to_string(max_rows) +
                                " samples per block on the device, got " + std::to_string(n));
  }
  const spikeshard::detail::SegmentResponse response = spikeshard::detail::segment_response(sos);
  Shape sh{};
  sh.n = n;
  sh.nc = nc;
  sh.pad = static_cast<std::size_t>(plan.pad);
  sh.total = n + 2 * sh.pad;
  sh.mean_segments = (n + kSegment - 1) / kSegment;
  sh.pass_segments = (sh.total + kSegment - 1) / kSegment;
  const std::size_t width = response.width;
  const std::size_t table = response.free_output.size() + response.free_state.size();
  const std::size_t states = sh.pass_segments * width * nc;
  double* base = ctx.buffer_of<double>(kSlotHighpassSegments,
                                       table + sh.mean_segments * nc + 3 * nc + 2 * nc + 2 * states);
  std::vector<double> tables(response.free_output);
  tables.insert(tables.end(), response.free_state.begin(), response.free_state.end());
  ctx.upload(base, tables.data(), tables.size() * sizeof(double));
  Arrays a{};
  a.free_output = base;
  a.free_state = base + response.free_output.size();
  a.partial = base + table;
  a.edge = a.partial + sh.mean_segments * nc;
  a.first = a.edge + 3 * nc;
  a.finals = a.first + 2 * nc;
  a.carried = a.finals + states;
  if (plan.n_sections == 2) {  // orders 3 and 4, the ones in use
    launch_steps<In, 2>(ctx, d_in, in_stride, d_gains, plan, sh, a, d_scratch, d_out);
  } else {
    launch_steps<In, 0>(ctx, d_in, in_stride, d_gains, plan, sh, a, d_scratch, d_out);
  }
}

template void launch_zero_phase_highpass<std::int16_t>(Context&, const std::int16_t*, std::size_t, const double*,
                                                       std::size_t, std::size_t, const HighpassOptions&, const char*,
                                                       double*, float*);
template void launch_zero_phase_highpass<float>(Context&, const float*, std::size_t, const double*, std::size_t,
                                                std::size_t, const HighpassOptions&, const char*, double*, float*);

}  // namespace spikeshard::cuda::detail

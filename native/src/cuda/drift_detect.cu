// SPDX-License-Identifier: GPL-3.0-or-later
// The generic-template drift detector (CPU reference: src/core/drift_detect.cc) on the device.
//
// The CPU works in tiles of window starts and keeps only the scores above threshold²; every value
// it computes is a pure function of one window start s (and centre g), so the device computes the
// same values over the whole scored range [s0, s0 + len) at once:
//   1. conv[r, c, s] = Σ_τ w[τ, r]·x[s + τ, c] (τ ascending from 0.0f, multiply then add) and the
//      bound term pm[c, s] = max(0, max_r conv)², one thread per s, channels staged in shared memory;
//   2. score[g, s]: bound Σ_j pm[ch_gj, s] (j ascending); below the CPU's cut the score is 0, else the
//      CPU's loop over prototypes and sizes (strict >, first maximum wins); scores ≤ threshold² are 0;
//   3. peak flags for the own starts: score > 0, no score of g in the window [s − wl, s + wr) above
//      it (⇔ it equals the windowed max) and no neighbour centre with a score above it in the window
//      (⇔ the neighbour's windowed max is not larger);
//   4. per-start counts, one exclusive scan (single block), and the spikes written in (start,
//      centre) order, the CPU's order; the best prototype is recomputed for the few spikes and the
//      depth summed in double as on the CPU. The host applies the capacity (earliest kept).
// No atomics; every output is written by one thread in a fixed order, so results repeat bitwise.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "context.cuh"
#include "drift_backend.h"
#include "kernels.cuh"

namespace spikeshard::cuda {

namespace detail {

namespace {

constexpr int kThreads = 256;
constexpr int kConvThreads = 128;   // threads per block of the filter
constexpr int kConvPerThread = 4;   // window starts per thread of the filter
constexpr int kConvStarts = kConvThreads * kConvPerThread;  // window starts per block of the filter
constexpr int kConvChannels = 16;   // channels staged per block of the filter
constexpr std::size_t kMaxNear = 64;
constexpr std::size_t kMaxPrototypes = 255;
constexpr int kScanThreads = 1024;

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

// Device pointers of the per-call tables (one upload).
struct Tables {
  const float* w = nullptr;                // np × nt0 (prototype r contiguous)
  const std::uint32_t* near = nullptr;     // ng × nn
  const float* weights = nullptr;          // ng × nk × nn
  const float* sq_norms = nullptr;         // ng × nk
  const std::uint32_t* nb_offsets = nullptr;  // ng + 1
  const std::uint32_t* nb = nullptr;
  const double* channel_y = nullptr;       // nc
  const double* centre_y = nullptr;        // ng
};

// Host side of the tables: pieces laid out at 256-byte offsets of one buffer.
class Packer {
 public:
  template <typename T>
  std::size_t add(const T* data, std::size_t count) {
    const std::size_t offset = (bytes_.size() + 255) / 256 * 256;
    bytes_.resize(offset + std::max<std::size_t>(count, 1) * sizeof(T), 0);
    if (count > 0) std::memcpy(bytes_.data() + offset, data, count * sizeof(T));
    return offset;
  }
  const std::vector<unsigned char>& bytes() const { return bytes_; }

 private:
  std::vector<unsigned char> bytes_;
};

// Register blocking: each thread filters kConvPerThread consecutive window starts, sliding a
// window of as many samples along τ, so one shared load and one (broadcast) prototype load feed
// kConvPerThread multiply-adds instead of one; each output's sum is still Σ_τ x·w, τ ascending
// from 0.0f, one multiply then one add (the CPU's `fir`).
__global__ void __launch_bounds__(kConvThreads) filter_kernel(const float* __restrict__ x, std::size_t nc,
                                                            std::size_t s0, std::size_t len,
                                                            const float* __restrict__ w, int np, int nt0,
                                                            float* __restrict__ conv, float* __restrict__ pm) {
  extern __shared__ float xs[];  // kConvChannels rows of (kConvStarts + nt0) samples (one spare)
  const int stride = kConvStarts + nt0;
  const std::size_t u0 = static_cast<std::size_t>(blockIdx.x) * kConvStarts;
  const std::size_t c0 = static_cast<std::size_t>(blockIdx.y) * kConvChannels;
  const int nch = static_cast<int>(min(static_cast<std::size_t>(kConvChannels), nc - c0));
  const int rows = static_cast<int>(min(static_cast<std::size_t>(stride - 1), len - u0 + nt0 - 1));
  for (int i = threadIdx.x; i < rows * kConvChannels; i += blockDim.x) {
    const int row = i / kConvChannels, cc = i % kConvChannels;
    xs[cc * stride + row] = cc < nch ? x[(s0 + u0 + row) * nc + c0 + cc] : 0.0f;
  }
  // Rows past the block's last window are read (the window's last slide) but feed no output.
  for (int row = rows + static_cast<int>(threadIdx.x); row < stride; row += blockDim.x) {
    for (int cc = 0; cc < kConvChannels; ++cc) xs[cc * stride + row] = 0.0f;
  }
  __syncthreads();
  const int lu = static_cast<int>(threadIdx.x) * kConvPerThread;
  const std::size_t u = u0 + lu;
  if (u >= len) return;
  const int valid = static_cast<int>(min(static_cast<std::size_t>(kConvPerThread), len - u));
  for (int cc = 0; cc < nch; ++cc) {
    const float* xr = xs + cc * stride + lu;
    float v[kConvPerThread];
#pragma unroll
    for (int k = 0; k < kConvPerThread; ++k) v[k] = 0.0f;
    for (int r = 0; r < np; ++r) {
      const float* wr = w + static_cast<std::size_t>(r) * nt0;
      float acc[kConvPerThread], win[kConvPerThread];
#pragma unroll
      for (int k = 0; k < kConvPerThread; ++k) {
        acc[k] = 0.0f;
        win[k] = xr[k];
      }
#pragma unroll 4
      for (int t = 0; t < nt0; ++t) {
        const float wt = __ldg(wr + t);
#pragma unroll
        for (int k = 0; k < kConvPerThread; ++k) acc[k] = __fadd_rn(acc[k], __fmul_rn(win[k], wt));
#pragma unroll
        for (int k = 0; k + 1 < kConvPerThread; ++k) win[k] = win[k + 1];
        win[kConvPerThread - 1] = xr[t + kConvPerThread];
      }
      float* out = conv + (static_cast<std::size_t>(r) * nc + c0 + cc) * len + u;
#pragma unroll
      for (int k = 0; k < kConvPerThread; ++k) {
        if (k < valid) out[k] = acc[k];
        v[k] = v[k] < acc[k] ? acc[k] : v[k];  // std::max(v, acc)
      }
    }
    float* out = pm + (c0 + cc) * len + u;
#pragma unroll
    for (int k = 0; k < kConvPerThread; ++k) {
      if (k < valid) out[k] = __fmul_rn(v[k], v[k]);
    }
  }
}

// The CPU's score loop at (g, u): prototypes outer, sizes inner, strict > (first maximum wins).
__device__ float best_score(const float* __restrict__ conv, std::size_t nc, std::size_t len, const Tables& tb,
                            std::size_t g, int nn, int nk, int np, std::size_t u, int* best_r) {
  const std::uint32_t* ch = tb.near + g * nn;
  float best = 0.0f;
  int br = 0;
  for (int r = 0; r < np; ++r) {
    const float* cr = conv + static_cast<std::size_t>(r) * nc * len + u;
    for (int k = 0; k < nk; ++k) {
      const float* wk = tb.weights + (g * nk + k) * nn;
      float acc = 0.0f;
      for (int j = 0; j < nn; ++j) acc = __fadd_rn(acc, __fmul_rn(wk[j], cr[static_cast<std::size_t>(ch[j]) * len]));
      if (!(acc > 0.0f)) continue;
      const float sc = __fdiv_rn(__fmul_rn(acc, acc), tb.sq_norms[g * nk + k]);
      if (sc > best) {
        best = sc;
        br = r;
      }
    }
  }
  *best_r = br;
  return best;
}

__global__ void score_kernel(const float* __restrict__ conv, const float* __restrict__ pm, std::size_t nc,
                             std::size_t len, Tables tb, int nn, int nk, int np, float thr2, float bound_cut,
                             float* __restrict__ score) {
  const std::size_t g = blockIdx.x;
  const std::size_t u = static_cast<std::size_t>(blockIdx.y) * blockDim.x + threadIdx.x;
  if (u >= len) return;
  const std::uint32_t* ch = tb.near + g * nn;
  float bound = 0.0f;
  for (int j = 0; j < nn; ++j) bound = __fadd_rn(bound, pm[static_cast<std::size_t>(ch[j]) * len + u]);
  float best = 0.0f;
  if (!(bound < bound_cut)) {
    int r = 0;
    best = best_score(conv, nc, len, tb, g, nn, nk, np, u, &r);
  }
  score[g * len + u] = best > thr2 ? best : 0.0f;
}

// Whether any score of row h in [lo, hi) exceeds sc.
__device__ bool any_above(const float* __restrict__ row, std::size_t lo, std::size_t hi, float sc) {
  for (std::size_t v = lo; v < hi; ++v) {
    if (row[v] > sc) return true;
  }
  return false;
}

__global__ void peak_kernel(const float* __restrict__ score, std::size_t len, std::size_t s0, std::size_t s_lo,
                            std::size_t own_len, std::size_t n_starts, std::size_t wl, std::size_t wr, Tables tb,
                            std::uint8_t* __restrict__ flags) {
  const std::size_t g = blockIdx.x;
  const std::size_t i = static_cast<std::size_t>(blockIdx.y) * blockDim.x + threadIdx.x;
  if (i >= own_len) return;
  const std::size_t s = s_lo + i;
  const float sc = score[g * len + (s - s0)];
  bool peak = sc > 0.0f;
  if (peak) {
    // The window [s − wl, s + wr) ∩ [0, n_starts) lies inside the scored range by construction.
    const std::size_t lo = (s > wl ? s - wl : 0) - s0, hi = min(n_starts, s + wr) - s0;
    peak = !any_above(score + g * len, lo, hi, sc);
    for (std::uint32_t e = tb.nb_offsets[g]; peak && e < tb.nb_offsets[g + 1]; ++e) {
      peak = !any_above(score + static_cast<std::size_t>(tb.nb[e]) * len, lo, hi, sc);
    }
  }
  flags[g * own_len + i] = peak ? 1 : 0;
}

__global__ void count_kernel(const std::uint8_t* __restrict__ flags, std::size_t ng, std::size_t own_len,
                             unsigned* __restrict__ counts) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= own_len) return;
  unsigned n = 0;
  for (std::size_t g = 0; g < ng; ++g) n += flags[g * own_len + i];
  counts[i] = n;
}

// Exclusive scan of counts in one block: each thread a contiguous chunk, block scan of the sums.
__global__ void scan_kernel(const unsigned* __restrict__ counts, std::size_t n,
                            unsigned long long* __restrict__ offsets, unsigned long long* __restrict__ total) {
  __shared__ unsigned long long part[kScanThreads];
  const std::size_t chunk = (n + blockDim.x - 1) / blockDim.x;
  const std::size_t b = min(n, threadIdx.x * chunk), e = min(n, b + chunk);
  unsigned long long sum = 0;
  for (std::size_t i = b; i < e; ++i) sum += counts[i];
  part[threadIdx.x] = sum;
  __syncthreads();
  for (unsigned off = 1; off < blockDim.x; off <<= 1) {
    const unsigned long long add = threadIdx.x >= off ? part[threadIdx.x - off] : 0;
    __syncthreads();
    part[threadIdx.x] += add;
    __syncthreads();
  }
  unsigned long long run = part[threadIdx.x] - sum;
  for (std::size_t i = b; i < e; ++i) {
    offsets[i] = run;
    run += counts[i];
  }
  if (threadIdx.x == blockDim.x - 1) *total = part[threadIdx.x];
}

struct SpikeOut {
  long long* sample;
  int* centre;
  float* depth;
  float* amplitude;
};

__global__ void write_kernel(const std::uint8_t* __restrict__ flags, const unsigned long long* __restrict__ offsets,
                             const float* __restrict__ conv, std::size_t nc, std::size_t len,
                             std::size_t s0, std::size_t s_lo, std::size_t own_len, std::size_t ng,
                             Tables tb, int nn, int nk, int np, std::size_t trough, unsigned long long cap,
                             SpikeOut out) {
  const std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= own_len) return;
  unsigned long long k = offsets[i];
  const std::size_t s = s_lo + i, u = s - s0;
  for (std::size_t g = 0; g < ng && k < cap; ++g) {
    if (!flags[g * own_len + i]) continue;
    // The flag implies the bound passed, so this is the stored score (the same operations).
    int r = 0;
    const float sc = best_score(conv, nc, len, tb, g, nn, nk, np, u, &r);
    const std::uint32_t* ch = tb.near + g * nn;
    const float* cr = conv + static_cast<std::size_t>(r) * nc * len + u;
    double wsum = 0, ysum = 0;
    for (int j = 0; j < nn; ++j) {
      const float c = cr[static_cast<std::size_t>(ch[j]) * len];
      const double v = static_cast<double>(0.0f < c ? c : 0.0f);  // std::max(0.0f, c)
      wsum = __dadd_rn(wsum, v);
      ysum = __dadd_rn(ysum, __dmul_rn(v, tb.channel_y[ch[j]]));
    }
    const double depth = wsum > 0 ? __ddiv_rn(ysum, wsum) : tb.centre_y[g];
    out.sample[k] = static_cast<long long>(s + trough);
    out.centre[k] = static_cast<int>(g);
    out.depth[k] = __double2float_rn(depth);
    out.amplitude[k] = __fsqrt_rn(sc);
    ++k;
  }
}

// The tables left on the device by the last detection: a drift round detects every batch with
// one geometry and one set of prototypes, so a call whose packed tables are byte for byte the
// resident ones (an exact key, no hash to collide) and whose slot kept its allocation skips the
// upload. One per context (each has its own kSlotDriftTables), guarded by the context's lease.
struct ResidentTables {
  std::vector<unsigned char> bytes;  // what kSlotDriftTables holds
  std::uint64_t generation = 0;
  bool valid = false;
  DriftTableStats stats;
  std::uint64_t upload_sequence = 0;  // next_sequence() at the last upload: the newest one reports its bytes
};

ResidentTables& resident_tables(Context& ctx) { return ctx.state<ResidentTables>(kStateDriftTables); }

// Events between the stages of one detection (benchmark only).
struct StageEvents {
  cudaEvent_t e[6] = {};
  double tables_host_ms = 0;
};

unsigned blocks_for(std::size_t n, const char* what) {
  const std::size_t b = (n + kThreads - 1) / kThreads;
  require(b <= 65535, std::string("detect_drift_spikes (CUDA): ") + what + " of " + std::to_string(n) +
                          " window starts exceeds the device limit of 65535 · 256");
  return static_cast<unsigned>(b);
}

void check_args(std::size_t n_samples, std::size_t n_channels, const DriftDetectArgs& a) {
  require(a.geometry != nullptr && a.w_temp != nullptr, "detect_drift_spikes: geometry and w_temp must not be null");
  const DetectorGeometry& geo = *a.geometry;
  const DriftDetectorParams& p = a.params;
  require(n_channels == geo.n_channels, "detect_drift_spikes: the block has " + std::to_string(n_channels) +
                                            " channels but the geometry " + std::to_string(geo.n_channels));
  require(a.n_prototypes > 0 && a.n_prototypes <= kMaxPrototypes,
          "detect_drift_spikes: n_prototypes must lie in [1, 255], got " + std::to_string(a.n_prototypes));
  require(geo.n_near <= kMaxNear, "detect_drift_spikes: the geometry has more than 64 channels per centre");
  require(p.nt0 > 0 && p.nt0min >= 1 && p.nt0min <= p.nt0, "detect_drift_spikes: need nt0 > 0 and 1 <= nt0min <= nt0");
  require(static_cast<std::size_t>(p.nt0) <= kMaxDriftTemplateSamples,
          "detect_drift_spikes (CUDA): nt0 must be ≤ 256, got " + std::to_string(p.nt0));
  require(p.window_samples >= 1, "detect_drift_spikes: window_samples must be >= 1");
  require(a.own_begin <= a.own_end && a.own_end <= n_samples,
          "detect_drift_spikes: own range [" + std::to_string(a.own_begin) + ", " + std::to_string(a.own_end) +
              ") must lie within the block of " + std::to_string(n_samples) + " samples");
}

// The detection on a device block d_x (n × nc, sample-major); the caller holds the context's lock
// and has checked the arguments.
DriftDetection run_detect(Context& ctx, const float* d_x, std::size_t n, std::size_t nc, const DriftDetectArgs& a,
                          StageEvents* events = nullptr) {
  auto mark = [&](int i) {
    if (events != nullptr) SPIKESHARD_CUDA_CHECK(cudaEventRecord(events->e[i], ctx.stream()));
  };
  const DetectorGeometry& geo = *a.geometry;
  const DriftDetectorParams& p = a.params;
  DriftDetection result;
  const auto nt0 = static_cast<std::size_t>(p.nt0);
  const auto trough = static_cast<std::size_t>(p.nt0min - 1);
  if (n < nt0) return result;
  const std::size_t n_starts = n - nt0 + 1;
  const std::size_t s_lo = a.own_begin > trough ? a.own_begin - trough : 0;
  const std::size_t s_hi = std::min(n_starts, a.own_end > trough ? a.own_end - trough : 0);
  if (s_lo >= s_hi) return result;
  const auto wl = static_cast<std::size_t>(p.window_samples / 2);
  const auto wr = static_cast<std::size_t>(p.window_samples) - wl;
  // The CPU's constants, computed the same way (host float arithmetic).
  const float thr2 = static_cast<float>(p.threshold * p.threshold);
  const float bound_cut = thr2 * (1.0f - 1e-3f);
  const std::size_t ng = geo.n_centres, nn = geo.n_near, nk = geo.n_sizes, np = a.n_prototypes;
  const std::size_t s0 = s_lo > wl ? s_lo - wl : 0;
  const std::size_t len = std::min(n_starts, s_hi + wr - 1) - s0;
  const std::size_t own_len = s_hi - s_lo;
  const unsigned score_blocks = blocks_for(len, "the scored range");
  const unsigned own_blocks = blocks_for(own_len, "the own range");

  // Tables (uploaded only when they differ from the resident ones).
  const auto host_start = std::chrono::steady_clock::now();
  mark(0);
  std::vector<float> w(np * nt0);
  for (std::size_t r = 0; r < np; ++r) {
    for (std::size_t t = 0; t < nt0; ++t) w[r * nt0 + t] = a.w_temp[t * np + r];
  }
  Packer pk;
  const std::size_t o_w = pk.add(w.data(), w.size());
  const std::size_t o_near = pk.add(geo.near_channels.data(), geo.near_channels.size());
  const std::size_t o_weights = pk.add(geo.weights.data(), geo.weights.size());
  const std::size_t o_sq = pk.add(geo.sq_norms.data(), geo.sq_norms.size());
  const std::size_t o_nbo = pk.add(geo.neighbour_offsets.data(), geo.neighbour_offsets.size());
  const std::size_t o_nb = pk.add(geo.neighbours.data(), geo.neighbours.size());
  const std::size_t o_cy = pk.add(geo.channel_y_um.data(), geo.channel_y_um.size());
  const std::size_t o_gy = pk.add(geo.centre_y_um.data(), geo.centre_y_um.size());
  auto* d_tables = static_cast<unsigned char*>(ctx.buffer(kSlotDriftTables, pk.bytes().size()));
  ResidentTables& resident = resident_tables(ctx);
  if (resident.valid && resident.generation == ctx.generation(kSlotDriftTables) && resident.bytes == pk.bytes()) {
    ++resident.stats.reuses;
  } else {
    resident.bytes = pk.bytes();
    ctx.upload(d_tables, resident.bytes.data(), resident.bytes.size());
    resident.generation = ctx.generation(kSlotDriftTables);
    resident.valid = true;
    ++resident.stats.uploads;
    resident.stats.last_upload_bytes = resident.bytes.size();
    resident.upload_sequence = next_sequence();
  }
  if (events != nullptr) {
    events->tables_host_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - host_start).count();
  }
  mark(1);
  Tables tb;
  tb.w = reinterpret_cast<const float*>(d_tables + o_w);
  tb.near = reinterpret_cast<const std::uint32_t*>(d_tables + o_near);
  tb.weights = reinterpret_cast<const float*>(d_tables + o_weights);
  tb.sq_norms = reinterpret_cast<const float*>(d_tables + o_sq);
  tb.nb_offsets = reinterpret_cast<const std::uint32_t*>(d_tables + o_nbo);
  tb.nb = reinterpret_cast<const std::uint32_t*>(d_tables + o_nb);
  tb.channel_y = reinterpret_cast<const double*>(d_tables + o_cy);
  tb.centre_y = reinterpret_cast<const double*>(d_tables + o_gy);

  // 1. Prototype filtering and the bound term.
  float* d_conv = ctx.buffer_of<float>(kSlotDriftConv, (np + 1) * nc * len);
  float* d_pm = d_conv + np * nc * len;
  const dim3 conv_grid(static_cast<unsigned>((len + kConvStarts - 1) / kConvStarts),
                       static_cast<unsigned>((nc + kConvChannels - 1) / kConvChannels));
  const std::size_t conv_shared = kConvChannels * (kConvStarts + nt0) * sizeof(float);
  allow_dynamic_shared_for(filter_kernel, conv_shared);
  filter_kernel<<<conv_grid, kConvThreads, conv_shared, ctx.stream()>>>(d_x, nc, s0, len, tb.w, static_cast<int>(np),
                                                                       static_cast<int>(nt0), d_conv, d_pm);
  SPIKESHARD_CUDA_LAUNCHED();
  mark(2);

  // 2. Scores (0 where pruned or ≤ threshold²).
  float* d_score = ctx.buffer_of<float>(kSlotDriftScores, ng * len);
  score_kernel<<<dim3(static_cast<unsigned>(ng), score_blocks), kThreads, 0, ctx.stream()>>>(
      d_conv, d_pm, nc, len, tb, static_cast<int>(nn), static_cast<int>(nk), static_cast<int>(np), thr2, bound_cut,
      d_score);
  SPIKESHARD_CUDA_LAUNCHED();
  mark(3);

  // 3–4. Peak flags, counts, offsets (the spikes' count comes back: 8 bytes).
  const std::size_t flag_bytes = (ng * own_len + 255) / 256 * 256;
  const std::size_t count_bytes = (own_len * sizeof(unsigned) + 255) / 256 * 256;
  auto* d_work = static_cast<unsigned char*>(
      ctx.buffer(kSlotDriftWork, flag_bytes + count_bytes + (own_len + 1) * sizeof(unsigned long long)));
  auto* d_flags = reinterpret_cast<std::uint8_t*>(d_work);
  auto* d_counts = reinterpret_cast<unsigned*>(d_work + flag_bytes);
  auto* d_offsets = reinterpret_cast<unsigned long long*>(d_work + flag_bytes + count_bytes);
  unsigned long long* d_total = d_offsets + own_len;
  peak_kernel<<<dim3(static_cast<unsigned>(ng), own_blocks), kThreads, 0, ctx.stream()>>>(
      d_score, len, s0, s_lo, own_len, n_starts, wl, wr, tb, d_flags);
  SPIKESHARD_CUDA_LAUNCHED();
  count_kernel<<<own_blocks, kThreads, 0, ctx.stream()>>>(d_flags, ng, own_len, d_counts);
  SPIKESHARD_CUDA_LAUNCHED();
  scan_kernel<<<1, kScanThreads, 0, ctx.stream()>>>(d_counts, own_len, d_offsets, d_total);
  SPIKESHARD_CUDA_LAUNCHED();
  mark(4);
  unsigned long long total = 0;
  ctx.download(&total, d_total, sizeof total);
  ctx.synchronize();
  result.found = static_cast<std::size_t>(total);
  const std::size_t kept = std::min(result.found, a.capacity);
  if (kept == 0) {
    mark(5);
    return result;
  }

  // The spikes, in (start, centre) order; the earliest `capacity` only.
  const std::size_t rec = sizeof(long long) + sizeof(int) + 2 * sizeof(float);
  auto* d_out = static_cast<unsigned char*>(ctx.buffer(kSlotDriftSpikes, kept * rec));
  SpikeOut out{reinterpret_cast<long long*>(d_out), reinterpret_cast<int*>(d_out + kept * sizeof(long long)),
               reinterpret_cast<float*>(d_out + kept * (sizeof(long long) + sizeof(int))),
               reinterpret_cast<float*>(d_out + kept * (sizeof(long long) + sizeof(int) + sizeof(float)))};
  write_kernel<<<own_blocks, kThreads, 0, ctx.stream()>>>(d_flags, d_offsets, d_conv, nc, len, s0, s_lo,
                                                          own_len, ng, tb, static_cast<int>(nn), static_cast<int>(nk),
                                                          static_cast<int>(np), trough, kept, out);
  SPIKESHARD_CUDA_LAUNCHED();
  mark(5);
  std::vector<long long> samples(kept);
  std::vector<int> centres(kept);
  std::vector<float> depths(kept), amplitudes(kept);
  StagedDownloads downloads(ctx);
  downloads.add(samples.data(), out.sample, kept * sizeof(long long));
  downloads.add(centres.data(), out.centre, kept * sizeof(int));
  downloads.add(depths.data(), out.depth, kept * sizeof(float));
  downloads.add(amplitudes.data(), out.amplitude, kept * sizeof(float));
  downloads.run();
  result.spikes.resize(kept);
  for (std::size_t k = 0; k < kept; ++k) {
    result.spikes[k] = {static_cast<std::size_t>(samples[k]), static_cast<std::uint32_t>(centres[k]), depths[k],
                        amplitudes[k]};
  }
  return result;
}

}  // namespace

}  // namespace detail

using detail::Context;

DriftDetection detect_drift_spikes(const float* x, std::size_t n_samples, std::size_t n_channels,
                                   const DriftDetectArgs& args) {
  detail::check_args(n_samples, n_channels, args);
  if (x == nullptr && n_samples > 0) throw std::invalid_argument("detect_drift_spikes: data pointer is null");
  detail::ContextLease lease;
  Context& ctx = *lease;
  if (n_samples == 0) return {};
  float* d_x = ctx.buffer_of<float>(detail::kSlotA, n_samples * n_channels);
  ctx.upload_staged(d_x, x, n_samples * n_channels * sizeof(float));
  return detail::run_detect(ctx, d_x, n_samples, n_channels, args);
}

DriftTableStats drift_table_stats() {
  // Sums over the contexts; the last upload is the newest of any context.
  detail::ContextPool& pool = detail::ContextPool::get();
  DriftTableStats total;
  std::uint64_t newest = 0;
  for (std::size_t i = 0; i < pool.size(); ++i) {
    detail::ContextLease lease(i);
    const detail::ResidentTables& r = detail::resident_tables(*lease);
    total.uploads += r.stats.uploads;
    total.reuses += r.stats.reuses;
    if (r.upload_sequence > newest) {
      newest = r.upload_sequence;
      total.last_upload_bytes = r.stats.last_upload_bytes;
    }
  }
  return total;
}

DriftBenchmark benchmark_drift_detect(const float* x, std::size_t n_samples, std::size_t n_channels,
                                      const DriftDetectArgs& args, int repeats) {
  detail::check_args(n_samples, n_channels, args);
  if (x == nullptr || n_samples == 0) throw std::invalid_argument("benchmark_drift_detect: empty block");
  if (repeats < 1) throw std::invalid_argument("benchmark_drift_detect: repeats must be ≥ 1, got " + std::to_string(repeats));
  detail::ContextLease lease;
  Context& ctx = *lease;
  float* d_x = ctx.buffer_of<float>(detail::kSlotA, n_samples * n_channels);
  ctx.upload_staged(d_x, x, n_samples * n_channels * sizeof(float));
  detail::StageEvents ev;
  for (cudaEvent_t& e : ev.e) SPIKESHARD_CUDA_CHECK(cudaEventCreate(&e));
  DriftBenchmark bench;
  bench.spikes = detail::run_detect(ctx, d_x, n_samples, n_channels, args).found;  // warm-up: allocations, tables
  double sums[DriftBenchmark::kStages] = {};
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    detail::run_detect(ctx, d_x, n_samples, n_channels, args, &ev);
    ctx.synchronize();
    sums[DriftBenchmark::kStages - 1] +=
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    sums[0] += ev.tables_host_ms;
    for (int s = 1; s < 5; ++s) {
      float ms = 0;
      SPIKESHARD_CUDA_CHECK(cudaEventElapsedTime(&ms, ev.e[s], ev.e[s + 1]));
      sums[s] += ms;
    }
  }
  for (cudaEvent_t e : ev.e) cudaEventDestroy(e);
  for (int s = 0; s < DriftBenchmark::kStages; ++s) bench.stages[s].ms = sums[s] / repeats;
  bench.repeats = repeats;
  return bench;
}

DriftDetection preprocess_detect_drift_spikes(const PreprocessBatchInput& input, const DriftDetectArgs& args) {
  detail::check_args(input.n_samples, input.n_channels, args);
  const std::unique_ptr<detail::StagedInput> staged = detail::stage_raw(input, "preprocess_detect_drift_spikes");
  detail::ContextLease lease;
  Context& ctx = *lease;
  const float* d_x = detail::run_preprocess(ctx, input, KrigingPieces{}, nullptr, 0, false, staged.get());
  return detail::run_detect(ctx, d_x, input.n_samples, input.n_channels, args);
}

}  // namespace spikeshard::cuda

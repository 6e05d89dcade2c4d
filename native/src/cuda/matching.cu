// SPDX-License-Identifier: GPL-3.0-or-later
// Matching pursuit on the device (the algorithm: include/spikeshard/matching.h; the CPU reference:
// src/core/matching.cc). Every value is produced by the CPU's sequence of float/double operations
// (explicit __fmul_rn/__fadd_rn/__dmul_rn/__dadd_rn, so nothing is contracted into an FMA), each
// output element by one thread, so the spike lists are identical and the values bitwise equal.
//
// Layout on the device: the residual is kept channel-major (nC × nT, the filters read it with
// coalesced loads) and transposed back to sample-major once at the end; c is F × window starts.
// The iteration loop runs on the host: one 4-byte download per iteration (how many peaks) decides
// whether to go on; everything else stays on the device.
//
// Determinism without float atomics:
//  - peaks are compacted in time order by a per-block count, a sequential scan of the block counts
//    and a ballot-based in-block prefix;
//  - the new spikes of one iteration are ≥ nt0 apart, so a window start t is within reach
//    (±(nt0−1)) of at most two consecutive spikes k, k+1. The thread of spike k owns the t that
//    spike k−1 does not reach and applies spike k's then spike k+1's score change, in the CPU's
//    order (spikes in time order).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "context.cuh"
#include "cuda_backend.h"
#include "kernels.cuh"
#include "preprocess_internal.h"

namespace spikeshard::cuda {

namespace detail {

namespace {

constexpr int kTileQ = 256;     // window starts per projection block
constexpr int kMaxRank = 6;
constexpr int kMaxNt0 = 256;
constexpr int kPickBlock = 1024;  // window starts per peak-picking block

struct Spike {
  int st;
  int id;
  float y;
  float x;
};

struct ProjectItem {
  int j;
  int lo;
  int len;
};

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("match_batch: " + what); }

unsigned int blocks(std::size_t items, unsigned int per_block) {
  return static_cast<unsigned int>((items + per_block - 1) / per_block);
}

// out[c * n + t] = in[t * nc + c] (in: n × nc) via 32 × 32 shared tiles.
__global__ void transpose_kernel(const float* __restrict__ in, std::size_t rows, std::size_t cols,
                                 float* __restrict__ out) {
  __shared__ float tile[32][33];
  const std::size_t r0 = static_cast<std::size_t>(blockIdx.y) * 32, c0 = static_cast<std::size_t>(blockIdx.x) * 32;
  for (int dy = threadIdx.y; dy < 32; dy += blockDim.y) {
    const std::size_t r = r0 + dy, c = c0 + threadIdx.x;
    if (r < rows && c < cols) tile[dy][threadIdx.x] = in[r * cols + c];
  }
  __syncthreads();
  for (int dy = threadIdx.y; dy < 32; dy += blockDim.y) {
    const std::size_t c = c0 + dy, r = r0 + threadIdx.x;
    if (r < rows && c < cols) out[c * rows + r] = tile[threadIdx.x][dy];
  }
}

void launch_transpose(Context& ctx, const float* d_in, std::size_t rows, std::size_t cols, float* d_out) {
  const dim3 grid(blocks(cols, 32), blocks(rows, 32)), block(32, 8);
  transpose_kernel<<<grid, block, 0, ctx.stream()>>>(d_in, rows, cols, d_out);
  SPIKESHARD_CUDA_LAUNCHED();
}

// First non-finite value (lowest index) → *first (initialised to SIZE_MAX by the host).
__global__ void finite_kernel(const float* __restrict__ x, std::size_t n, unsigned long long* first) {
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    if (!isfinite(x[i])) atomicMin(first, static_cast<unsigned long long>(i));
  }
}

// c[j, lo + q], q < len: spatial filter (p[k][s] = Σ_i u[i,k]·x[ch_i, lo + s], i ascending, from
// 0.0f) then temporal filter (Σ_tau Σ_k w[tau,k]·p[k][q + tau], tau outer, k inner, from 0.0f):
// the CPU's spatial_filter/temporal_filter per element. Items: a list, or tiles × templates.
template <int R>
__global__ void project_kernel(const float* __restrict__ cols, std::size_t nT, std::size_t n_valid,
                               const int* __restrict__ chans, const float* __restrict__ uc,
                               const float* __restrict__ W, int nt0, int near, const ProjectItem* __restrict__ items,
                               float* __restrict__ c) {
  extern __shared__ float sh[];
  int j, lo, len;
  if (items != nullptr) {
    j = items[blockIdx.x].j;
    lo = items[blockIdx.x].lo;
    len = items[blockIdx.x].len;
  } else {
    j = blockIdx.y;
    lo = blockIdx.x * kTileQ;
    len = min(kTileQ, static_cast<int>(n_valid) - lo);
  }
  const int L = nt0 - 1, span = len + L;
  float* p = sh;                          // R × (kTileQ + L)
  float* u = p + R * (kTileQ + L);        // near × R
  float* w = u + near * R;                // nt0 × R
  int* ch = reinterpret_cast<int*>(w + nt0 * R);  // near
  for (int i = threadIdx.x; i < near * R; i += blockDim.x) u[i] = uc[static_cast<std::size_t>(j) * near * R + i];
  for (int i = threadIdx.x; i < nt0 * R; i += blockDim.x) w[i] = W[static_cast<std::size_t>(j) * nt0 * R + i];
  for (int i = threadIdx.x; i < near; i += blockDim.x) ch[i] = chans[static_cast<std::size_t>(j) * near + i];
  __syncthreads();
  const int pitch = kTileQ + L;
  for (int s = threadIdx.x; s < span; s += blockDim.x) {
    float acc[R];
#pragma unroll
    for (int k = 0; k < R; ++k) acc[k] = 0.0f;
    for (int i = 0; i < near; ++i) {
      const float g = cols[static_cast<std::size_t>(ch[i]) * nT + lo + s];
#pragma unroll
      for (int k = 0; k < R; ++k) acc[k] = __fadd_rn(acc[k], __fmul_rn(u[i * R + k], g));
    }
#pragma unroll
    for (int k = 0; k < R; ++k) p[k * pitch + s] = acc[k];
  }
  __syncthreads();
  for (int q = threadIdx.x; q < len; q += blockDim.x) {
    float o = 0.0f;
    for (int t = 0; t < nt0; ++t) {
#pragma unroll
      for (int k = 0; k < R; ++k) o = __fadd_rn(o, __fmul_rn(w[t * R + k], p[k * pitch + q + t]));
    }
    c[static_cast<std::size_t>(j) * n_valid + lo + q] = o;
  }
}

std::size_t project_shared_bytes(int rank, int nt0, int near) {
  return sizeof(float) * (static_cast<std::size_t>(rank) * (kTileQ + nt0 - 1) + static_cast<std::size_t>(near) * rank +
                          static_cast<std::size_t>(nt0) * rank) +
         sizeof(int) * static_cast<std::size_t>(near);
}

template <int R>
void launch_project_r(Context& ctx, dim3 grid, std::size_t shared, const float* cols, std::size_t nT,
                      std::size_t n_valid, const int* chans, const float* uc, const float* W, int nt0, int near,
                      const ProjectItem* items, float* c) {
  allow_dynamic_shared_for(project_kernel<R>, shared);
  project_kernel<R><<<grid, kTileQ, shared, ctx.stream()>>>(cols, nT, n_valid, chans, uc, W, nt0, near, items, c);
  SPIKESHARD_CUDA_LAUNCHED();
}

void launch_project(Context& ctx, dim3 grid, int rank, const float* cols, std::size_t nT, std::size_t n_valid,
                    const int* chans, const float* uc, const float* W, int nt0, int near, const ProjectItem* items,
                    float* c) {
  const std::size_t shared = project_shared_bytes(rank, nt0, near);
  switch (rank) {
    case 1: return launch_project_r<1>(ctx, grid, shared, cols, nT, n_valid, chans, uc, W, nt0, near, items, c);
    case 2: return launch_project_r<2>(ctx, grid, shared, cols, nT, n_valid, chans, uc, W, nt0, near, items, c);
    case 3: return launch_project_r<3>(ctx, grid, shared, cols, nT, n_valid, chans, uc, W, nt0, near, items, c);
    case 4: return launch_project_r<4>(ctx, grid, shared, cols, nT, n_valid, chans, uc, W, nt0, near, items, c);
    case 5: return launch_project_r<5>(ctx, grid, shared, cols, nT, n_valid, chans, uc, W, nt0, near, items, c);
    case 6: return launch_project_r<6>(ctx, grid, shared, cols, nT, n_valid, chans, uc, W, nt0, near, items, c);
    default: bad("rank " + std::to_string(rank) + " exceeds the CUDA kernels' limit of " + std::to_string(kMaxRank));
  }
}

// err/best at window start t over all templates, j ascending (the CPU's best_update).
__device__ void best_at(const float* __restrict__ c, std::size_t n_valid, int F, const float* __restrict__ lmu,
                        const float* __restrict__ lmu2, float inv1pl, std::size_t t, float* __restrict__ err,
                        int* __restrict__ best) {
  float e_best = -INFINITY;
  int j_best = 0;
  for (int j = 0; j < F; ++j) {
    const float cv = c[static_cast<std::size_t>(j) * n_valid + t];
    const float v = cv > 0.0f ? cv : 0.0f;
    const float q = __fadd_rn(v, lmu[j]);
    const float e = __fsub_rn(__fmul_rn(__fmul_rn(q, q), inv1pl), lmu2[j]);
    if (e > e_best) {
      e_best = e;
      j_best = j;
    }
  }
  err[t] = e_best;
  best[t] = j_best;
}

__global__ void best_all_kernel(const float* __restrict__ c, std::size_t n_valid, int F, const float* __restrict__ lmu,
                                const float* __restrict__ lmu2, float inv1pl, float* __restrict__ err,
                                int* __restrict__ best) {
  const std::size_t t = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < n_valid) best_at(c, n_valid, F, lmu, lmu2, inv1pl, t, err, best);
}

// Window starts t = st_k − L + lag of spike k that spike k−1 does not reach: each t of the union
// of the spikes' reaches exactly once.
__device__ bool owned_start(const Spike* __restrict__ s, int k, int lag, int L, std::size_t n_valid, std::size_t& t) {
  const long long tt = static_cast<long long>(s[k].st) - L + lag;
  if (tt < 0 || tt >= static_cast<long long>(n_valid)) return false;
  if (k > 0 && tt <= static_cast<long long>(s[k - 1].st) + L) return false;
  t = static_cast<std::size_t>(tt);
  return true;
}

__global__ void best_windows_kernel(const Spike* __restrict__ s, int L, const float* __restrict__ c,
                                    std::size_t n_valid, int F, const float* __restrict__ lmu,
                                    const float* __restrict__ lmu2, float inv1pl, float* __restrict__ err,
                                    int* __restrict__ best) {
  const int k = blockIdx.x;
  for (int lag = threadIdx.x; lag <= 2 * L; lag += blockDim.x) {
    std::size_t t;
    if (owned_start(s, k, lag, L, n_valid, t)) best_at(c, n_valid, F, lmu, lmu2, inv1pl, t, err, best);
  }
}

__device__ bool is_peak(const float* __restrict__ err, std::size_t n_valid, int L, float th2, std::size_t t) {
  const float e = err[t];
  if (!(e > th2)) return false;
  const std::size_t w0 = t >= static_cast<std::size_t>(L) ? t - L : 0;
  const std::size_t w1 = min(n_valid - 1, t + L);
  for (std::size_t u = w0; u < t; ++u) {
    if (!(err[u] < e)) return false;
  }
  for (std::size_t u = t + 1; u <= w1; ++u) {
    if (!(err[u] <= e)) return false;
  }
  return true;
}

__global__ void pick_count_kernel(const float* __restrict__ err, std::size_t n_valid, int L, float th2,
                                  unsigned char* __restrict__ flags, int* __restrict__ block_counts) {
  const std::size_t t = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int peak = t < n_valid && is_peak(err, n_valid, L, th2, t) ? 1 : 0;
  if (t < n_valid) flags[t] = static_cast<unsigned char>(peak);
  const int count = __syncthreads_count(peak);
  if (threadIdx.x == 0) block_counts[blockIdx.x] = count;
}

// Exclusive prefix of the block counts (sequential: a few hundred blocks at most); the total → *total.
__global__ void pick_scan_kernel(int* __restrict__ block_counts, int n_blocks, int* __restrict__ total) {
  int sum = 0;
  for (int b = 0; b < n_blocks; ++b) {
    const int v = block_counts[b];
    block_counts[b] = sum;
    sum += v;
  }
  *total = sum;
}

__global__ void pick_write_kernel(const unsigned char* __restrict__ flags, const int* __restrict__ block_offsets,
                                  const float* __restrict__ err, const int* __restrict__ best,
                                  const float* __restrict__ c, std::size_t n_valid, Spike* __restrict__ out) {
  __shared__ int warp_offsets[kPickBlock / 32];
  const std::size_t t = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const bool peak = t < n_valid && flags[t] != 0;
  const unsigned int ballot = __ballot_sync(0xffffffffu, peak);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) warp_offsets[warp] = __popc(ballot);
  __syncthreads();
  if (threadIdx.x == 0) {
    int sum = 0;
    for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) {
      const int v = warp_offsets[w];
      warp_offsets[w] = sum;
      sum += v;
    }
  }
  __syncthreads();
  if (!peak) return;
  const int pos = block_offsets[blockIdx.x] + warp_offsets[warp] + __popc(ballot & ((1u << lane) - 1u));
  const int id = best[t];
  out[pos] = Spike{static_cast<int>(t), id, c[static_cast<std::size_t>(id) * n_valid + t], __fsqrt_rn(err[t])};
}

// Residual −= y·T_id on the spike's window, one thread per sample, channels in neighbourhood order.
__global__ void subtract_kernel(const Spike* __restrict__ s, std::size_t nT, int nt0, int near,
                                const int* __restrict__ chans, const float* __restrict__ tdense,
                                float* __restrict__ cols) {
  const Spike f = s[blockIdx.x];
  for (int t = threadIdx.x; t < nt0; t += blockDim.x) {
    const float* T = tdense + (static_cast<std::size_t>(f.id) * nt0 + t) * near;
    const int* ch = chans + static_cast<std::size_t>(f.id) * near;
    for (int i = 0; i < near; ++i) {
      float* r = cols + static_cast<std::size_t>(ch[i]) * nT + f.st + t;
      *r = __fsub_rn(*r, __fmul_rn(f.y, T[i]));
    }
  }
}

// WtW of the pair (a, b ≥ a) of block (b, a), bitwise template_correlations (src/core/
// templates_correlation.cc): the same float64 sums in the same order, each product and sum rounded
// on its own (__dmul_rn/__dadd_rn: no FMA contraction). uu = Σ_i U_a·U_b over a's neighbourhood,
// v = uu·W_b, and lag ℓ of the 2·nt0 − 1 sums Σ_k Σ_tau W_a[k, tau]·v[k, tau − (nt0 − 1 − ℓ)] with
// tau ascending. Both (a, b) and its mirror (b, a) are written; on the diagonal, position p of the
// CPU's row ends up holding lag max(p, 2·nt0 − 2 − p) (its two writes per lag, the later one kept),
// so only those lags write there. Pairs whose neighbourhoods do not overlap stay zero (memset).
__global__ void wtw_derive_kernel(const float* __restrict__ W, const float* __restrict__ U,
                                  const int* __restrict__ chans, const unsigned char* __restrict__ overlap, int F,
                                  int nC, int nt0, int rank, int near, float* __restrict__ wtw) {
  const int a = blockIdx.y, b = blockIdx.x;
  if (b < a || overlap[static_cast<std::size_t>(a) * F + b] == 0) return;
  extern __shared__ double pair[];
  double* uu = pair;               // rank × rank
  double* v = uu + rank * rank;    // rank × nt0
  double* wa = v + rank * nt0;     // rank × nt0, component-major
  const int tid = threadIdx.x;
  if (tid < rank * rank) {
    const int k = tid / rank, l = tid % rank;
    double sum = 0.0;
    for (int i = 0; i < near; ++i) {
      const int c = chans[static_cast<std::size_t>(a) * near + i];
      const double ua = U[(static_cast<std::size_t>(a) * nC + c) * rank + k];
      const double ub = U[(static_cast<std::size_t>(b) * nC + c) * rank + l];
      sum = __dadd_rn(sum, __dmul_rn(ua, ub));
    }
    uu[tid] = sum;
  }
  for (int x = tid; x < rank * nt0; x += blockDim.x) {
    const int k = x / nt0, t = x % nt0;
    wa[x] = W[(static_cast<std::size_t>(a) * nt0 + t) * rank + k];
  }
  __syncthreads();
  for (int x = tid; x < rank * nt0; x += blockDim.x) {
    const int k = x / nt0, t = x % nt0;
    double sum = 0.0;
    for (int l = 0; l < rank; ++l) {
      sum = __dadd_rn(sum, __dmul_rn(uu[k * rank + l], static_cast<double>(W[(static_cast<std::size_t>(b) * nt0 + t) * rank + l])));
    }
    v[x] = sum;
  }
  __syncthreads();
  const int n_lags = 2 * nt0 - 1;
  float* ab = wtw + (static_cast<std::size_t>(a) * F + b) * n_lags;
  float* ba = wtw + (static_cast<std::size_t>(b) * F + a) * n_lags;
  for (int lag = tid; lag < n_lags; lag += blockDim.x) {
    double sum = 0.0;
    for (int k = 0; k < rank; ++k) {
      // tau meets v[tau + lag − (nt0 − 1)].
      const int t0 = max(0, nt0 - 1 - lag), t1 = min(nt0, 2 * nt0 - 1 - lag);
      for (int t = t0; t < t1; ++t) sum = __dadd_rn(sum, __dmul_rn(wa[k * nt0 + t], v[k * nt0 + t + lag - (nt0 - 1)]));
    }
    const float x = static_cast<float>(sum);
    if (a != b || lag >= n_lags - 1 - lag) {
      ab[lag] = x;
      ba[n_lags - 1 - lag] = x;
    }
  }
}

// overlap[a·F + b] = 1 when the neighbourhoods of templates a and b share a channel.
std::vector<unsigned char> neighbourhood_overlap(const TemplateSet& m) {
  const std::size_t F = m.n_templates, nC = m.n_channels;
  std::vector<std::vector<std::uint64_t>> support(F, std::vector<std::uint64_t>((nC + 63) / 64, 0));
  for (std::size_t j = 0; j < F; ++j) {
    const std::int32_t* ch = m.channels_of(j);
    for (int i = 0; i < m.n_neighbours; ++i) support[j][ch[i] / 64] |= std::uint64_t{1} << (ch[i] % 64);
  }
  std::vector<unsigned char> overlap(F * F, 0);
  for (std::size_t a = 0; a < F; ++a) {
    for (std::size_t b = 0; b < F; ++b) {
      bool any = false;
      for (std::size_t w = 0; w < support[a].size() && !any; ++w) any = (support[a][w] & support[b][w]) != 0;
      overlap[a * F + b] = any ? 1 : 0;
    }
  }
  return overlap;
}

// Fills d_wtw (F × F × (2·nt0 − 1)) from the model tables already on the device.
void derive_wtw_on_device(Context& ctx, const float* d_W, const float* d_U, const int* d_chans, const unsigned char* d_overlap,
                const TemplateSet& m, float* d_wtw) {
  const std::size_t F = m.n_templates;
  const std::size_t n_lags = 2 * static_cast<std::size_t>(m.nt0) - 1;
  SPIKESHARD_CUDA_CHECK(cudaMemsetAsync(d_wtw, 0, F * F * n_lags * sizeof(float), ctx.stream()));
  if (F == 0) return;
  const std::size_t shared = (static_cast<std::size_t>(m.rank) * m.rank + 2 * static_cast<std::size_t>(m.rank) * m.nt0) * sizeof(double);
  allow_dynamic_shared_for(wtw_derive_kernel, shared);
  const int threads = 128;
  wtw_derive_kernel<<<dim3(static_cast<unsigned int>(F), static_cast<unsigned int>(F)), threads, shared, ctx.stream()>>>(
      d_W, d_U, d_chans, d_overlap, static_cast<int>(F), static_cast<int>(m.n_channels), m.nt0, m.rank,
      m.n_neighbours, d_wtw);
  SPIKESHARD_CUDA_LAUNCHED();
}

// Exact score updates c_b(t) −= y·WtW[id, b, st − t], spikes in time order (see the top).
__global__ void wtw_update_kernel(const Spike* __restrict__ s, int n, int L, int F, const float* __restrict__ wtw,
                                  const unsigned char* __restrict__ overlap, std::size_t n_valid,
                                  float* __restrict__ c) {
  const int k = blockIdx.x, b = blockIdx.y;
  const std::size_t n_lags = 2 * static_cast<std::size_t>(L) + 1;
  const Spike f = s[k];
  const bool use_k = overlap[static_cast<std::size_t>(b) * F + f.id] != 0;
  const bool has_next = k + 1 < n;
  const Spike g = has_next ? s[k + 1] : f;
  const bool use_next = has_next && overlap[static_cast<std::size_t>(b) * F + g.id] != 0;
  if (!use_k && !use_next) return;
  const float* xf = wtw + (static_cast<std::size_t>(f.id) * F + b) * n_lags;
  const float* xg = wtw + (static_cast<std::size_t>(g.id) * F + b) * n_lags;
  float* cb = c + static_cast<std::size_t>(b) * n_valid;
  for (int lag = threadIdx.x; lag <= 2 * L; lag += blockDim.x) {
    std::size_t t;
    if (!owned_start(s, k, lag, L, n_valid, t)) continue;
    float v = cb[t];
    bool changed = false;
    if (use_k) {
      v = __fsub_rn(v, __fmul_rn(f.y, xf[static_cast<std::size_t>(f.st) + L - t]));
      changed = true;
    }
    if (use_next && static_cast<long long>(t) >= static_cast<long long>(g.st) - L) {
      v = __fsub_rn(v, __fmul_rn(g.y, xg[static_cast<std::size_t>(g.st) + L - t]));
      changed = true;
    }
    if (changed) cb[t] = v;
  }
}

// sums[k, tau, c] = Σ over the listed spikes of j = touched[k] (in order) of residual + y·T_j, in
// double: only the templates with listed spikes get a row (every element of it written here).
__global__ void snippet_kernel(const Spike* __restrict__ own, const int* __restrict__ touched,
                               const int* __restrict__ offsets, const int* __restrict__ list,
                               const float* __restrict__ residual, std::size_t nC, int nt0, int near,
                               const int* __restrict__ pos, const float* __restrict__ tdense,
                               double* __restrict__ sums) {
  const int k = blockIdx.x, tau = blockIdx.y;
  const int j = touched[k];
  const int first = offsets[j], last = offsets[j + 1];
  const float* T = tdense + (static_cast<std::size_t>(j) * nt0 + tau) * near;
  for (std::size_t ch = threadIdx.x; ch < nC; ch += blockDim.x) {
    const int i = pos[static_cast<std::size_t>(j) * nC + ch];
    double sum = 0.0;
    for (int m = first; m < last; ++m) {
      const Spike f = own[list[m]];
      double row = static_cast<double>(residual[(static_cast<std::size_t>(f.st) + tau) * nC + ch]);
      if (i >= 0) row = __dadd_rn(row, __dmul_rn(static_cast<double>(f.y), static_cast<double>(T[i])));
      sum = __dadd_rn(sum, row);
    }
    sums[(static_cast<std::size_t>(k) * nt0 + tau) * nC + ch] = sum;
  }
}

// cross[j, m] = ⟨T_j, T_n⟩ at zero lag on j's neighbourhood, n = similar[j, m] (the CPU's double sums).
__global__ void cross_kernel(int F, int ns, const int* __restrict__ similar, const int* __restrict__ chans,
                             const float* __restrict__ tdense, const float* __restrict__ W,
                             const float* __restrict__ U, std::size_t nC, int nt0, int near, int rank,
                             double* __restrict__ cross) {
  const std::size_t item = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (item >= static_cast<std::size_t>(F) * ns) return;
  const std::size_t j = item / ns;
  const std::size_t nb = static_cast<std::size_t>(similar[item]);
  const int* ch = chans + j * near;
  double acc = 0.0;
  for (int t = 0; t < nt0; ++t) {
    for (int i = 0; i < near; ++i) {
      double tn = 0.0;
      for (int k = 0; k < rank; ++k) {
        tn = __dadd_rn(tn, __dmul_rn(static_cast<double>(W[(nb * nt0 + t) * rank + k]),
                                     static_cast<double>(U[(nb * nC + ch[i]) * rank + k])));
      }
      acc = __dadd_rn(acc, __dmul_rn(static_cast<double>(tdense[(j * nt0 + t) * near + i]), tn));
    }
  }
  cross[item] = acc;
}

__global__ void template_features_kernel(const Spike* __restrict__ own, int n, int ns, const int* __restrict__ similar,
                                         const int* __restrict__ chans, const float* __restrict__ tdense,
                                         const double* __restrict__ cross, const float* __restrict__ residual,
                                         std::size_t nC, int nt0, int near, float* __restrict__ out) {
  const std::size_t item = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (item >= static_cast<std::size_t>(n) * ns) return;
  const std::size_t s = item / ns, m = item % ns;
  const Spike f = own[s];
  const std::size_t nb = static_cast<std::size_t>(similar[static_cast<std::size_t>(f.id) * ns + m]);
  const int* ch = chans + nb * near;
  const float* T = tdense + nb * nt0 * near;
  double acc = 0.0;
  for (int t = 0; t < nt0; ++t) {
    const float* res = residual + (static_cast<std::size_t>(f.st) + t) * nC;
    for (int i = 0; i < near; ++i) {
      acc = __dadd_rn(acc, __dmul_rn(static_cast<double>(res[ch[i]]), static_cast<double>(T[t * near + i])));
    }
  }
  acc = __dadd_rn(acc, __dmul_rn(static_cast<double>(f.y), cross[static_cast<std::size_t>(f.id) * ns + m]));
  out[item] = __double2float_rn(acc);
}

__global__ void pc_features_kernel(const Spike* __restrict__ own, int n, int np, const int* __restrict__ chans,
                                   const float* __restrict__ tdense, const float* __restrict__ pcs,
                                   const float* __restrict__ residual, std::size_t nC, int nt0, int near,
                                   float* __restrict__ out) {
  const std::size_t item = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::size_t per = static_cast<std::size_t>(np) * near;
  if (item >= static_cast<std::size_t>(n) * per) return;
  const std::size_t s = item / per, qi = item % per;
  const int q = static_cast<int>(qi / near), i = static_cast<int>(qi % near);
  const Spike f = own[s];
  const int ch = chans[static_cast<std::size_t>(f.id) * near + i];
  const float* T = tdense + static_cast<std::size_t>(f.id) * nt0 * near;
  double acc = 0.0;
  for (int t = 0; t < nt0; ++t) {
    const double v = __dadd_rn(static_cast<double>(residual[(static_cast<std::size_t>(f.st) + t) * nC + ch]),
                               __dmul_rn(static_cast<double>(f.y), static_cast<double>(T[t * near + i])));
    acc = __dadd_rn(acc, __dmul_rn(v, static_cast<double>(pcs[t * np + q])));
  }
  out[item] = __double2float_rn(acc);
}

// conv[(r·nC + c)·n + q] = Σ_tau w[tau, r]·x[c, q + tau] (tau ascending, from 0.0f): the CPU
// proposals' fir per element. One block per (tile of window starts, channel).
__global__ void proposal_filter_kernel(const float* __restrict__ cols, std::size_t nT, std::size_t n,
                                       std::size_t nC, const float* __restrict__ w, int n_proto, int nt0,
                                       float* __restrict__ conv) {
  extern __shared__ float sh[];
  const std::size_t c = blockIdx.y;
  const std::size_t lo = static_cast<std::size_t>(blockIdx.x) * kTileQ;
  const int len = static_cast<int>(min(static_cast<std::size_t>(kTileQ), n - lo));
  float* x = sh;                 // kTileQ + nt0 − 1
  float* ws = x + kTileQ + nt0 - 1;  // nt0 × n_proto
  for (int i = threadIdx.x; i < len + nt0 - 1; i += blockDim.x) x[i] = cols[c * nT + lo + i];
  for (int i = threadIdx.x; i < nt0 * n_proto; i += blockDim.x) ws[i] = w[i];
  __syncthreads();
  for (int q = threadIdx.x; q < len; q += blockDim.x) {
    for (int r = 0; r < n_proto; ++r) {
      float acc = 0.0f;
      for (int t = 0; t < nt0; ++t) acc = __fadd_rn(acc, __fmul_rn(ws[t * n_proto + r], x[q + t]));
      conv[(static_cast<std::size_t>(r) * nC + c) * n + lo + q] = acc;
    }
  }
}

// err[t], chan[t]: the best over channels c (ascending, strict >) of the best over prototypes and
// neighbour counts of (Σ_{jn' ≤ jn} conv[r, iC[c, jn']])² / (jn + 1), as the CPU's loops.
__global__ void proposal_score_kernel(const float* __restrict__ conv, std::size_t n, std::size_t nC,
                                      const int* __restrict__ iC, int near, int n_sum, int n_proto,
                                      float* __restrict__ err, int* __restrict__ chan) {
  const std::size_t t = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= n) return;
  float score = -INFINITY;
  int best_ch = 0;
  for (std::size_t c = 0; c < nC; ++c) {
    const int* nb = iC + c * near;
    float best = -INFINITY;
    for (int r = 0; r < n_proto; ++r) {
      float s = 0.0f;
      for (int jn = 0; jn < n_sum; ++jn) {
        s = __fadd_rn(s, conv[(static_cast<std::size_t>(r) * nC + nb[jn]) * n + t]);
        const float v = __fmul_rn(__fmul_rn(s, s), __fdiv_rn(1.0f, static_cast<float>(jn + 1)));
        best = best < v ? v : best;
      }
    }
    if (best > score) {
      score = best;
      best_ch = static_cast<int>(c);
    }
  }
  err[t] = score;
  chan[t] = best_ch;
}

// Carves one slot's allocation into aligned arrays: a sizing pass (base null), then the real one.
class Carver {
 public:
  explicit Carver(char* base) : base_(base) {}
  template <typename T>
  T* take(std::size_t count) {
    offset_ = (offset_ + 255) / 256 * 256;
    T* p = base_ != nullptr ? reinterpret_cast<T*>(base_ + offset_) : nullptr;
    offset_ += std::max<std::size_t>(count, 1) * sizeof(T);
    return p;
  }
  std::size_t bytes() const { return offset_; }

 private:
  char* base_;
  std::size_t offset_ = 0;
};

template <typename Layout>
void carve(Context& ctx, Slot slot, Layout&& layout) {
  Carver sizing(nullptr);
  layout(sizing);
  Carver real(static_cast<char*>(ctx.buffer(slot, sizing.bytes())));
  layout(real);
}

void validate(std::size_t n_samples, std::size_t n_channels, const TemplateSet& model, const MatchOptions& o) {
  model.validate();
  if (n_channels != model.n_channels) {
    bad("the batch has " + std::to_string(n_channels) + " channels, the templates " + std::to_string(model.n_channels));
  }
  if (n_samples < static_cast<std::size_t>(model.nt0)) {
    bad("the batch has " + std::to_string(n_samples) + " samples, fewer than one template window (" +
        std::to_string(model.nt0) + ")");
  }
  if (o.halo_samples + o.own_samples > n_samples) {
    bad("halo_samples + own_samples = " + std::to_string(o.halo_samples + o.own_samples) + " exceeds the " +
        std::to_string(n_samples) + " samples of the batch");
  }
  if (n_samples > static_cast<std::size_t>(INT32_MAX)) bad("batch too long for int32 sample indices");
  if (!(o.threshold >= 0.0f)) bad("threshold must be ≥ 0");
  if (!(o.lambda >= 0.0f) || !std::isfinite(o.lambda)) bad("lambda must be finite and ≥ 0");
  if (std::isnan(o.learn_threshold)) bad("learn_threshold is NaN");
  if (o.inner_iterations < 0) bad("inner_iterations must be ≥ 0");
  for (std::size_t j = 0; j < model.n_templates; ++j) {
    if (!(model.mu[j] >= 0.0f)) bad("mu[" + std::to_string(j) + "] must be ≥ 0");
  }
  if (o.similar != nullptr) {
    if (o.n_similar < 1) bad("n_similar must be ≥ 1 when template features are requested");
    for (std::size_t i = 0; i < model.n_templates * o.n_similar; ++i) {
      if (o.similar[i] < 0 || static_cast<std::size_t>(o.similar[i]) >= model.n_templates) {
        bad("similar-template index " + std::to_string(o.similar[i]) + " is not a template");
      }
    }
  }
  if (o.pcs != nullptr && o.n_pcs < 1) bad("n_pcs must be ≥ 1 when PC features are requested");
  if (model.rank > kMaxRank) bad("rank " + std::to_string(model.rank) + " exceeds the CUDA limit of 6");
  if (n_samples > std::size_t{65535} * 32) bad("more than 2 097 120 samples (the CUDA transpose grid limit)");
  if (model.n_templates > 65535) bad("more than 65535 templates (the CUDA grid limit)");
  if (model.nt0 > kMaxNt0) bad("templateSamples " + std::to_string(model.nt0) + " exceeds the CUDA limit of 256");
}

struct Timer {
  std::vector<cudaEvent_t> events;
  void mark(Context& ctx) {
    cudaEvent_t e;
    SPIKESHARD_CUDA_CHECK(cudaEventCreate(&e));
    SPIKESHARD_CUDA_CHECK(cudaEventRecord(e, ctx.stream()));
    events.push_back(e);
  }
  ~Timer() {
    for (cudaEvent_t e : events) cudaEventDestroy(e);
  }
};

}  // namespace

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point& mark) {
  const Clock::time_point now = Clock::now();
  const double ms = std::chrono::duration<double, std::milli>(now - mark).count();
  mark = now;
  return ms;
}

namespace {

// 64-bit content hash of the model's host arrays (multiply-xor per 8-byte word): a resident model
// is reused only under its key, and the hash catches a key given to a different model.
class Hasher {
 public:
  void bytes(const void* p, std::size_t n) {
    const auto* c = static_cast<const unsigned char*>(p);
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      std::uint64_t w;
      std::memcpy(&w, c + i, 8);
      mix(w);
    }
    std::uint64_t tail = 0;
    if (i < n) std::memcpy(&tail, c + i, n - i);
    mix(tail);
    mix(static_cast<std::uint64_t>(n));
  }
  template <typename T>
  void value(T v) {
    bytes(&v, sizeof v);
  }
  // `count` elements of `p` at an even stride, at most `samples` of them (a large array's fingerprint).
  template <typename T>
  void sampled(const T* p, std::size_t count, std::size_t samples) {
    const std::size_t stride = std::max<std::size_t>(1, count / samples);
    for (std::size_t i = 0; i < count; i += stride) value(p[i]);
    value(count);
  }
  std::uint64_t digest() const { return h_ ^ (h_ >> 31); }

 private:
  void mix(std::uint64_t w) {
    h_ = (h_ ^ w) * 0x100000001b3ull;
    h_ ^= h_ >> 29;
  }
  std::uint64_t h_ = 0xcbf29ce484222325ull;
};

// The template model left on the device by the last call (issue 5): its tables in kSlotMatchModel
// and its cross-correlations in kSlotMatchWtW. A call whose options carry the same non-zero key
// (chosen by the caller per unchanging model) skips building and uploading the tables when the
// amplitude prior is the same, and WtW when it was uploaded under this key, as long as neither slot
// was reallocated or freed since. The similar-template lists and PCs (kilobytes) are uploaded by
// every call. One per context (each has its own slots), guarded by the context's lease.
struct ResidentModel {
  std::uint64_t key = 0;  // 0: the slots hold no reusable model
  std::uint64_t model_hash = 0;
  float lambda = 0;
  bool has_wtw = false;  // WtW of this key is in kSlotMatchWtW
  std::uint64_t wtw_hash = 0;
  std::uint64_t model_generation = 0;
  std::uint64_t wtw_generation = 0;
  std::vector<unsigned char> overlap;  // host copy: the re-filtering path merges ranges with it
  std::size_t uploads = 0;
  std::size_t reuses = 0;
  double last_upload_bytes = 0;
  std::uint64_t sequence = 0;  // next_sequence() at the last call: the newest context reports its key
};

ResidentModel& resident_model(Context& ctx) { return ctx.state<ResidentModel>(kStateMatchModel); }

std::uint64_t model_hash_of(const TemplateSet& m) {
  Hasher h;
  h.value(m.n_templates);
  h.value(m.n_channels);
  h.value(m.nt0);
  h.value(m.rank);
  h.value(m.n_neighbours);
  const std::size_t F = m.n_templates;
  h.bytes(m.W, F * m.nt0 * m.rank * sizeof(float));
  h.bytes(m.U, F * m.n_channels * m.rank * sizeof(float));
  h.bytes(m.mu, F * sizeof(float));
  h.bytes(m.iW, F * sizeof(std::int32_t));
  h.bytes(m.iC, m.n_channels * m.n_neighbours * sizeof(std::int32_t));
  return h.digest();
}

// WtW (F² × (2·nt0 − 1) floats, 730 MB at F = 1230) is derived from W and U, so 65 536 of its
// values stand for it.
std::uint64_t wtw_hash_of(const TemplateSet& m, const float* wtw) {
  Hasher h;
  h.sampled(wtw, m.n_templates * m.n_templates * (2 * static_cast<std::size_t>(m.nt0) - 1), 65536);
  return h.digest();
}

// propose_templates (src/core/templates_proposals.cc) on the residual already on the device
// (channel-major `d_cols`): the prototype filters and the per-window-start scores on the device,
// bitwise the CPU's; then err and chan come down (2 × 4 bytes per window start) and the peaks, the
// spatial suppression and the cap run on the host with the CPU's code. Fills `out` except the
// snippets; returns the kept window starts (the snippets are rows st … st + nt0 of the residual).
std::vector<std::size_t> propose_on_device(Context& ctx, const float* d_cols, std::size_t nT, std::size_t nC,
                                           const ProposalInput& in, const MatchOptions& mo, Proposals& out) {
  const ProposalOptions& o = in.options;
  auto fail = [](const std::string& what) { throw std::invalid_argument("propose_templates: " + what); };
  const int nt0 = o.nt0, n_proto = in.n_prototypes, near = in.n_neighbours;
  if (nt0 < 1 || o.nt0min < 0 || o.nt0min >= nt0) fail("need nt0 ≥ 1 and 0 ≤ nt0min < nt0");
  if (nT < static_cast<std::size_t>(nt0)) fail("the batch is shorter than one template window");
  if (n_proto < 1) fail("need at least one prototype");
  if (n_proto > 64 || nt0 > kMaxNt0) fail("more than 64 prototypes or 256 template samples (the CUDA kernels' limits)");
  if (near < 1 || static_cast<std::size_t>(near) > nC) fail("n_neighbours out of range");
  if (o.n_sum < 1 || o.n_sum > near) {
    fail("n_sum must be in [1, n_neighbours = " + std::to_string(near) + "], got " + std::to_string(o.n_sum));
  }
  if (o.channel_radius < 0) fail("channel_radius must be ≥ 0");
  if (!(o.threshold >= 0.0f)) fail("threshold must be ≥ 0");
  for (std::size_t i = 0; i < nC * near; ++i) {
    if (in.iC[i] < 0 || static_cast<std::size_t>(in.iC[i]) >= nC) fail("iC holds a channel index out of range");
  }
  for (std::size_t i = 0; i < static_cast<std::size_t>(nt0) * n_proto; ++i) {
    if (!std::isfinite(in.prototypes[i])) fail("prototypes contain a non-finite value");
  }
  const std::size_t n = nT - nt0 + 1, L = static_cast<std::size_t>(nt0) - 1;
  float *d_conv, *d_w, *d_err;
  int *d_iC, *d_chan;
  carve(ctx, kSlotProposals, [&](Carver& c) {
    d_conv = c.take<float>(static_cast<std::size_t>(n_proto) * nC * n);
    d_w = c.take<float>(static_cast<std::size_t>(nt0) * n_proto);
    d_iC = c.take<int>(nC * near);
    d_err = c.take<float>(n);
    d_chan = c.take<int>(n);
  });
  ctx.upload(d_w, in.prototypes, static_cast<std::size_t>(nt0) * n_proto * sizeof(float));
  ctx.upload(d_iC, in.iC, nC * near * sizeof(int));
  const std::size_t shared = sizeof(float) * (kTileQ + L + static_cast<std::size_t>(nt0) * n_proto);
  allow_dynamic_shared_for(proposal_filter_kernel, shared);
  proposal_filter_kernel<<<dim3(blocks(n, kTileQ), static_cast<unsigned int>(nC)), kTileQ, shared, ctx.stream()>>>(
      d_cols, nT, n, nC, d_w, n_proto, nt0, d_conv);
  SPIKESHARD_CUDA_LAUNCHED();
  proposal_score_kernel<<<blocks(n, 128), 128, 0, ctx.stream()>>>(d_conv, n, nC, d_iC, near, o.n_sum, n_proto, d_err,
                                                                   d_chan);
  SPIKESHARD_CUDA_LAUNCHED();
  std::vector<float> err(n);
  std::vector<std::int32_t> chan(n);
  ctx.download(err.data(), d_err, n * sizeof(float));
  ctx.download(chan.data(), d_chan, n * sizeof(int));
  ctx.synchronize();

  // From here the CPU's code (the window is placed by the match options).
  ProposalOptions placed = o;
  placed.halo_samples = mo.halo_samples;
  placed.own_samples = mo.own_samples;
  return select_proposals(err.data(), chan.data(), n, nC, placed, out);
}

}  // namespace

// The pursuit on a sample-major batch already on the device (d_data, n × nC; not modified). The
// snippet sums come back compact (FusedMatchResult); `fused`, when not null, gets the host-clock
// times of the model upload (stage 7), the matching kernels, the download DMA and the copy out of
// pinned memory (stages 3–5), counted from `mark`. `model_key` ≠ 0 names the model (see
// ResidentModel); 0 uploads it as a one-off.
FusedMatchResult run_match(Context& ctx, const float* d_data, std::size_t nT, std::size_t nC, const TemplateSet& m,
                           const MatchOptions& o, bool want_residual, Timer* timer, FusedTiming* fused = nullptr,
                           Clock::time_point* mark = nullptr, std::uint64_t model_key = 0,
                           const ProposalInput* proposals = nullptr) {
  const std::size_t F = m.n_templates;
  const int nt0 = m.nt0, rank = m.rank, near = m.n_neighbours, L = nt0 - 1;
  const std::size_t n_valid = nT - L;
  const int Fi = static_cast<int>(F);
  const float inv1pl = 1.0f / (1.0f + o.lambda);
  const int ns = o.similar != nullptr ? o.n_similar : 0;
  const int np = o.pcs != nullptr ? o.n_pcs : 0;

  // Device arrays. The tables come first in the model slot, so their offsets depend only on the
  // model's sizes and a resident model's arrays are found where they were carved before.
  float *d_uc, *d_tdense, *d_W, *d_U, *d_lmu, *d_lmu2, *d_pcs;
  int *d_chans, *d_pos, *d_similar;
  unsigned char* d_overlap;
  carve(ctx, kSlotMatchModel, [&](Carver& c) {
    d_uc = c.take<float>(F * near * rank);
    d_tdense = c.take<float>(F * nt0 * near);
    d_W = c.take<float>(F * nt0 * rank);
    d_U = c.take<float>(F * nC * rank);
    d_lmu = c.take<float>(F);
    d_lmu2 = c.take<float>(F);
    d_chans = c.take<int>(F * near);
    d_pos = c.take<int>(F * nC);
    d_overlap = c.take<unsigned char>(F * F);
    d_pcs = c.take<float>(static_cast<std::size_t>(nt0) * np);
    d_similar = c.take<int>(F * ns);
  });
  const std::size_t per_iteration = n_valid / nt0 + 1;  // peaks are ≥ nt0 apart
  const std::size_t all_capacity = std::min<std::size_t>(
      o.max_spikes, static_cast<std::size_t>(std::max(o.inner_iterations, 0)) * per_iteration);
  const std::size_t pick_blocks = (n_valid + kPickBlock - 1) / kPickBlock;
  float* d_err;
  int *d_best, *d_block_counts, *d_total;
  unsigned char* d_flags;
  Spike *d_found, *d_all;
  unsigned long long* d_first_bad;
  carve(ctx, kSlotMatchWork, [&](Carver& c) {
    d_err = c.take<float>(n_valid);
    d_best = c.take<int>(n_valid);
    d_flags = c.take<unsigned char>(n_valid);
    d_block_counts = c.take<int>(pick_blocks);
    d_total = c.take<int>(1);
    d_found = c.take<Spike>(per_iteration);
    d_all = c.take<Spike>(all_capacity);
    d_first_bad = c.take<unsigned long long>(1);
  });
  float* d_cols = ctx.buffer_of<float>(kSlotMatchColumns, nC * nT);
  float* d_c = ctx.buffer_of<float>(kSlotMatchScores, F * n_valid);
  float* d_wtw = nullptr;
  const std::size_t n_lags = 2 * static_cast<std::size_t>(L) + 1;
  if (o.derive_cross_correlations && o.cross_correlations != nullptr) {
    bad("derive_cross_correlations needs cross_correlations to be null (given both)");
  }
  const bool derive_wtw = o.derive_cross_correlations && F > 0;
  if ((o.cross_correlations != nullptr || derive_wtw) && F > 0) d_wtw = ctx.buffer_of<float>(kSlotMatchWtW, F * F * n_lags);

  if (timer != nullptr) timer->mark(ctx);  // setup start
  // The model: reused when resident under this key (every buffer() call of the model slots is above,
  // so the generations compared here are final for this call), else built and uploaded.
  ResidentModel& resident = resident_model(ctx);
  const std::uint64_t model_hash = model_key != 0 ? model_hash_of(m) : 0;
  const bool same_key = model_key != 0 && resident.key == model_key &&
                        resident.model_generation == ctx.generation(kSlotMatchModel);
  if (same_key && resident.model_hash != model_hash) {
    bad("model key " + std::to_string(model_key) +
        " was uploaded with a different template model; a key must name one unchanging model");
  }
  const bool reuse_tables = same_key && resident.lambda == o.lambda && resident.overlap.size() == F * F;
  // A derived WtW is a function of the model alone: its hash is the model's, tagged.
  const std::uint64_t wtw_hash = model_key == 0 || d_wtw == nullptr ? 0
                                 : derive_wtw                        ? model_hash ^ 0x5157a7ed0dull
                                                                     : wtw_hash_of(m, o.cross_correlations);
  const bool reuse_wtw = reuse_tables && d_wtw != nullptr && resident.has_wtw && resident.wtw_hash == wtw_hash &&
                         resident.wtw_generation == ctx.generation(kSlotMatchWtW);
  double uploaded_bytes = 0;
  auto put = [&](void* device, const void* host, std::size_t bytes) {
    if (bytes == 0) return;
    ctx.upload(device, host, bytes);
    uploaded_bytes += static_cast<double>(bytes);
  };
  if (!reuse_tables) {
    resident.key = 0;  // the slots are overwritten below: nothing resident until they hold this model
    resident.has_wtw = false;

    // Host-side model tables, computed exactly as the CPU's prepare().
    std::vector<float> uc(F * near * rank), tdense(F * nt0 * near), lmu(F), lmu2(F);
    std::vector<int> chans(F * near), pos(F * nC, -1);
    std::vector<unsigned char> overlap = neighbourhood_overlap(m);
    for (std::size_t j = 0; j < F; ++j) {
      const std::int32_t* ch = m.channels_of(j);
      for (int i = 0; i < near; ++i) {
        chans[j * near + i] = ch[i];
        if (pos[j * nC + ch[i]] >= 0) {
          bad("template " + std::to_string(j) + "'s neighbourhood repeats channel " + std::to_string(ch[i]) +
              " (not supported by the CUDA kernels)");
        }
        pos[j * nC + ch[i]] = i;
        for (int k = 0; k < rank; ++k) uc[(j * near + i) * rank + k] = m.U[(j * nC + ch[i]) * rank + k];
      }
      for (int t = 0; t < nt0; ++t) {
        for (int i = 0; i < near; ++i) {
          float v = 0.0f;
          for (int k = 0; k < rank; ++k) v += m.W[(j * nt0 + t) * rank + k] * uc[(j * near + i) * rank + k];
          tdense[(j * nt0 + t) * near + i] = v;
        }
      }
      lmu[j] = o.lambda * m.mu[j];
      lmu2[j] = o.lambda * m.mu[j] * m.mu[j];
    }

    if (F > 0) {
      put(d_uc, uc.data(), uc.size() * sizeof(float));
      put(d_tdense, tdense.data(), tdense.size() * sizeof(float));
      put(d_W, m.W, F * nt0 * rank * sizeof(float));
      put(d_U, m.U, F * nC * rank * sizeof(float));
      put(d_lmu, lmu.data(), F * sizeof(float));
      put(d_lmu2, lmu2.data(), F * sizeof(float));
      put(d_chans, chans.data(), chans.size() * sizeof(int));
      put(d_pos, pos.data(), pos.size() * sizeof(int));
      put(d_overlap, overlap.data(), overlap.size());
    }
    // The uploads read host vectors that go out of scope here.
    ctx.synchronize();
    resident.overlap = std::move(overlap);
    resident.model_hash = model_hash;
    resident.lambda = o.lambda;
    resident.model_generation = ctx.generation(kSlotMatchModel);
    resident.key = model_key;
  }
  if (d_wtw != nullptr && !reuse_wtw) {
    resident.has_wtw = false;
    if (derive_wtw) {
      derive_wtw_on_device(ctx, d_W, d_U, d_chans, d_overlap, m, d_wtw);
    } else {
      put(d_wtw, o.cross_correlations, F * F * n_lags * sizeof(float));
    }
    resident.wtw_hash = wtw_hash;
    resident.wtw_generation = ctx.generation(kSlotMatchWtW);
    resident.has_wtw = model_key != 0;
  }
  const bool reused = reuse_tables && (d_wtw == nullptr || reuse_wtw);
  ++(reused ? resident.reuses : resident.uploads);
  // Kilobytes, from the options of this call.
  if (np > 0) put(d_pcs, o.pcs, static_cast<std::size_t>(nt0) * np * sizeof(float));
  if (ns > 0) put(d_similar, o.similar, F * ns * sizeof(int));
  resident.last_upload_bytes = uploaded_bytes;
  resident.sequence = next_sequence();
  const std::vector<unsigned char>& overlap = resident.overlap;
  if (fused != nullptr) {
    ctx.synchronize();
    fused->stages[7].ms = ms_since(*mark);
    fused->stages[7].bytes = uploaded_bytes;
  }

  // Non-finite input: the CPU refuses it, so does this (lowest index reported).
  const unsigned long long none = ~0ull;
  ctx.upload(d_first_bad, &none, sizeof none);
  finite_kernel<<<std::min(blocks(nT * nC, 256), 4096u), 256, 0, ctx.stream()>>>(d_data, nT * nC, d_first_bad);
  SPIKESHARD_CUDA_LAUNCHED();
  unsigned long long first_bad = none;
  ctx.download(&first_bad, d_first_bad, sizeof first_bad);
  launch_transpose(ctx, d_data, nT, nC, d_cols);
  ctx.synchronize();
  if (first_bad != none) {
    bad("the batch holds a non-finite value at sample " + std::to_string(first_bad / nC) + ", channel " +
        std::to_string(first_bad % nC));
  }

  FusedMatchResult result;
  MatchResult& r = result.match;
  std::size_t all_count = 0;
  if (timer != nullptr) timer->mark(ctx);  // projections start
  if (F > 0) {
    const dim3 grid(blocks(n_valid, kTileQ), static_cast<unsigned int>(F));
    launch_project(ctx, grid, rank, d_cols, nT, n_valid, d_chans, d_uc, d_W, nt0, near, nullptr, d_c);
  }
  if (timer != nullptr) timer->mark(ctx);  // initial best start
  if (F > 0) {
    best_all_kernel<<<blocks(n_valid, 128), 128, 0, ctx.stream()>>>(d_c, n_valid, Fi, d_lmu, d_lmu2, inv1pl, d_err,
                                                                      d_best);
    SPIKESHARD_CUDA_LAUNCHED();
  }
  if (timer != nullptr) timer->mark(ctx);  // pursuit start
  const float th2 = o.threshold * o.threshold;
  std::vector<Spike> found_host;
  std::vector<ProjectItem> items;
  ProjectItem* d_items = nullptr;
  for (int iter = 0; F > 0 && iter < o.inner_iterations; ++iter) {
    pick_count_kernel<<<static_cast<unsigned int>(pick_blocks), kPickBlock, 0, ctx.stream()>>>(d_err, n_valid, L, th2,
                                                                                               d_flags, d_block_counts);
    SPIKESHARD_CUDA_LAUNCHED();
    pick_scan_kernel<<<1, 1, 0, ctx.stream()>>>(d_block_counts, static_cast<int>(pick_blocks), d_total);
    SPIKESHARD_CUDA_LAUNCHED();
    pick_write_kernel<<<static_cast<unsigned int>(pick_blocks), kPickBlock, 0, ctx.stream()>>>(
        d_flags, d_block_counts, d_err, d_best, d_c, n_valid, d_found);
    SPIKESHARD_CUDA_LAUNCHED();
    int total = 0;
    ctx.download(&total, d_total, sizeof total);
    ctx.synchronize();
    std::size_t n = static_cast<std::size_t>(total);
    if (n == 0) break;
    if (all_count + n > o.max_spikes) {
      n = o.max_spikes - all_count;
      r.capped = true;
    }
    if (n == 0) break;
    const unsigned int nb = static_cast<unsigned int>(n);
    subtract_kernel<<<nb, 64, 0, ctx.stream()>>>(d_found, nT, nt0, near, d_chans, d_tdense, d_cols);
    SPIKESHARD_CUDA_LAUNCHED();
    if (d_wtw != nullptr) {
      wtw_update_kernel<<<dim3(nb, static_cast<unsigned int>(F)), 128, 0, ctx.stream()>>>(
          d_found, static_cast<int>(n), L, Fi, d_wtw, d_overlap, n_valid, d_c);
      SPIKESHARD_CUDA_LAUNCHED();
    } else {
      // Recompute c on the merged reaches of the spikes that share a channel with each template
      // (a projection does not depend on the range it is computed over, so this equals the CPU).
      found_host.resize(n);
      ctx.download(found_host.data(), d_found, n * sizeof(Spike));
      ctx.synchronize();
      items.clear();
      for (std::size_t b = 0; b < F; ++b) {
        std::size_t lo = 0, hi = 0;
        bool open = false;
        auto flush = [&]() {
          for (std::size_t a = lo; a <= hi; a += kTileQ) {
            items.push_back({static_cast<int>(b), static_cast<int>(a),
                             static_cast<int>(std::min<std::size_t>(kTileQ, hi - a + 1))});
          }
        };
        for (const Spike& f : found_host) {
          if (overlap[b * F + f.id] == 0) continue;
          const std::size_t st = static_cast<std::size_t>(f.st);
          const std::size_t a = st >= static_cast<std::size_t>(L) ? st - L : 0, z = std::min(n_valid - 1, st + L);
          if (open && a <= hi + 1) {
            hi = std::max(hi, z);
          } else {
            if (open) flush();
            lo = a;
            hi = z;
            open = true;
          }
        }
        if (open) flush();
      }
      if (!items.empty()) {
        d_items = ctx.buffer_of<ProjectItem>(kSlotMatchOut, items.size());
        ctx.upload(d_items, items.data(), items.size() * sizeof(ProjectItem));
        launch_project(ctx, dim3(static_cast<unsigned int>(items.size())), rank, d_cols, nT, n_valid, d_chans, d_uc,
                       d_W, nt0, near, d_items, d_c);
      }
    }
    best_windows_kernel<<<nb, 128, 0, ctx.stream()>>>(d_found, L, d_c, n_valid, Fi, d_lmu, d_lmu2, inv1pl, d_err,
                                                      d_best);
    SPIKESHARD_CUDA_LAUNCHED();
    SPIKESHARD_CUDA_CHECK(cudaMemcpyAsync(d_all + all_count, d_found, n * sizeof(Spike), cudaMemcpyDeviceToDevice,
                                          ctx.stream()));
    all_count += n;
    r.iterations = iter + 1;
    if (r.capped) break;
  }
  if (timer != nullptr) timer->mark(ctx);  // outputs start
  r.spikes_found = all_count;

  // Sort as the CPU does (stable, by time, template, amplitude) and keep the owned spikes.
  std::vector<Spike> all(all_count);
  if (all_count > 0) ctx.download(all.data(), d_all, all_count * sizeof(Spike));
  ctx.synchronize();
  std::stable_sort(all.begin(), all.end(), [](const Spike& a, const Spike& b) {
    if (a.st != b.st) return a.st < b.st;
    if (a.id != b.id) return a.id < b.id;
    return a.y < b.y;
  });
  std::vector<Spike> own;
  const std::size_t first = o.halo_samples, last = o.halo_samples + o.own_samples;
  for (const Spike& f : all) {
    const std::size_t trough = static_cast<std::size_t>(f.st) + static_cast<std::size_t>(m.nt0min);
    if (trough >= first && trough < last) own.push_back(f);
  }
  const std::size_t n = own.size();
  r.sample.resize(n);
  r.template_id.resize(n);
  r.amplitude.resize(n);
  r.score.resize(n);
  for (std::size_t s = 0; s < n; ++s) {
    r.sample[s] = static_cast<std::int32_t>(static_cast<std::size_t>(own[s].st) + m.nt0min - first);
    r.template_id[s] = own[s].id;
    r.amplitude[s] = own[s].y;
    r.score[s] = own[s].x;
  }

  // Output arrays: residual (sample-major), owned spikes, snippet lists, sums, features.
  std::vector<int> offsets, list;
  std::vector<std::int32_t>& touched = result.snippet_templates;
  if (o.snippet_sums) {
    offsets.assign(F + 1, 0);
    std::vector<std::vector<int>> by_template(F);
    for (std::size_t s = 0; s < n; ++s) {
      if (own[s].x > o.learn_threshold) by_template[own[s].id].push_back(static_cast<int>(s));
    }
    for (std::size_t j = 0; j < F; ++j) {
      offsets[j + 1] = offsets[j] + static_cast<int>(by_template[j].size());
      list.insert(list.end(), by_template[j].begin(), by_template[j].end());
      if (!by_template[j].empty()) touched.push_back(static_cast<std::int32_t>(j));
    }
  }
  const std::size_t n_touched = touched.size();
  float *d_residual, *d_tfeat, *d_pcfeat;
  Spike* d_own;
  int *d_offsets, *d_list, *d_touched;
  double *d_sums, *d_cross;
  carve(ctx, kSlotMatchOut, [&](Carver& c) {
    d_residual = c.take<float>(nT * nC);
    d_own = c.take<Spike>(n);
    d_offsets = c.take<int>(offsets.size());
    d_list = c.take<int>(list.size());
    d_touched = c.take<int>(n_touched);
    d_sums = c.take<double>(n_touched * nt0 * nC);
    d_cross = c.take<double>(F * ns);
    d_tfeat = c.take<float>(n * ns);
    d_pcfeat = c.take<float>(n * np * near);
  });
  launch_transpose(ctx, d_cols, nC, nT, d_residual);
  if (n > 0) ctx.upload(d_own, own.data(), n * sizeof(Spike));
  if (n_touched > 0) {
    ctx.upload(d_offsets, offsets.data(), offsets.size() * sizeof(int));
    ctx.upload(d_list, list.data(), list.size() * sizeof(int));
    ctx.upload(d_touched, touched.data(), n_touched * sizeof(int));
    snippet_kernel<<<dim3(static_cast<unsigned int>(n_touched), static_cast<unsigned int>(nt0)), 128, 0,
                     ctx.stream()>>>(d_own, d_touched, d_offsets, d_list, d_residual, nC, nt0, near, d_pos, d_tdense,
                                     d_sums);
    SPIKESHARD_CUDA_LAUNCHED();
  }
  if (ns > 0 && F > 0) {
    cross_kernel<<<blocks(F * ns, 128), 128, 0, ctx.stream()>>>(Fi, ns, d_similar, d_chans, d_tdense, d_W, d_U, nC,
                                                                  nt0, near, rank, d_cross);
    SPIKESHARD_CUDA_LAUNCHED();
    if (n > 0) {
      template_features_kernel<<<blocks(n * ns, 128), 128, 0, ctx.stream()>>>(
          d_own, static_cast<int>(n), ns, d_similar, d_chans, d_tdense, d_cross, d_residual, nC, nt0, near, d_tfeat);
      SPIKESHARD_CUDA_LAUNCHED();
    }
  }
  if (np > 0 && n > 0) {
    pc_features_kernel<<<blocks(n * np * near, 128), 128, 0, ctx.stream()>>>(
        d_own, static_cast<int>(n), np, d_chans, d_tdense, d_pcs, d_residual, nC, nt0, near, d_pcfeat);
    SPIKESHARD_CUDA_LAUNCHED();
  }
  std::vector<std::size_t> proposal_starts;
  if (proposals != nullptr) {
    proposal_starts = propose_on_device(ctx, d_cols, nT, nC, *proposals, o, result.proposals);
    result.has_proposals = true;
  }
  if (fused != nullptr) {
    ctx.synchronize();
    fused->stages[3].ms = ms_since(*mark);
  }
  if (timer != nullptr) timer->mark(ctx);  // download start
  // Everything the caller uses, gathered into pinned memory with one synchronisation.
  StagedDownloads downloads(ctx);
  if (o.snippet_sums) {
    r.snippet_counts.assign(F, 0);
    for (std::size_t j = 0; j < F; ++j) r.snippet_counts[j] = offsets[j + 1] - offsets[j];
    result.snippet_sums.resize(n_touched * nt0 * nC);
    downloads.add(result.snippet_sums.data(), d_sums, result.snippet_sums.size() * sizeof(double));
  }
  if (o.similar != nullptr) {
    r.template_features.assign(n * ns, 0.0f);
    if (n > 0 && F > 0) downloads.add(r.template_features.data(), d_tfeat, n * ns * sizeof(float));
  }
  if (o.pcs != nullptr) {
    r.pc_features.assign(n * np * near, 0.0f);
    if (n > 0) downloads.add(r.pc_features.data(), d_pcfeat, n * np * near * sizeof(float));
  }
  const std::size_t snippet_floats = proposals != nullptr ? static_cast<std::size_t>(proposals->options.nt0) * nC : 0;
  for (std::size_t i = 0; i < proposal_starts.size(); ++i) {
    downloads.add(result.proposals.snippets.data() + i * snippet_floats, d_residual + proposal_starts[i] * nC,
                  snippet_floats * sizeof(float));
  }
  if (want_residual) {
    result.residual.resize(nT * nC);
    downloads.add(result.residual.data(), d_residual, nT * nC * sizeof(float));
  }
  downloads.queue();
  if (timer != nullptr) timer->mark(ctx);  // end
  if (fused != nullptr) {
    ctx.synchronize();
    fused->stages[4].ms = ms_since(*mark);
  }
  downloads.finish();
  if (fused != nullptr) fused->stages[5].ms = ms_since(*mark);
  return result;
}

// The CPU's result layout: every template's snippet sums (zero rows for the untouched ones).
MatchResult full_layout(FusedMatchResult&& f, std::size_t n_templates, std::size_t row) {
  MatchResult r = std::move(f.match);
  if (!f.snippet_templates.empty() || !r.snippet_counts.empty()) {
    r.snippet_sums.assign(n_templates * row, 0.0);
    for (std::size_t k = 0; k < f.snippet_templates.size(); ++k) {
      std::copy_n(f.snippet_sums.data() + k * row, row,
                  r.snippet_sums.data() + static_cast<std::size_t>(f.snippet_templates[k]) * row);
    }
  }
  r.residual.assign(f.residual.begin(), f.residual.end());
  return r;
}

}  // namespace detail

using detail::Context;

MatchResult match_batch(const float* data, std::size_t n_samples, std::size_t n_channels, const TemplateSet& model,
                        const MatchOptions& options, bool want_residual, std::uint64_t model_key) {
  detail::validate(n_samples, n_channels, model, options);
  if (data == nullptr) detail::bad("data pointer is null");
  detail::ContextLease lease;
  Context& ctx = *lease;
  float* d_data = ctx.buffer_of<float>(detail::kSlotMatchInput, n_samples * n_channels);
  ctx.upload_staged(d_data, data, n_samples * n_channels * sizeof(float));
  return detail::full_layout(
      detail::run_match(ctx, d_data, n_samples, n_channels, model, options, want_residual, nullptr, nullptr, nullptr,
                        model_key),
      model.n_templates, static_cast<std::size_t>(model.nt0) * n_channels);
}

std::vector<float> template_cross_correlations(const TemplateSet& model) {
  model.validate();
  const std::size_t F = model.n_templates, nC = model.n_channels;
  const std::size_t n_lags = 2 * static_cast<std::size_t>(model.nt0) - 1;
  std::vector<float> wtw(F * F * n_lags, 0.0f);
  if (F == 0) return wtw;
  detail::ContextLease lease;
  Context& ctx = *lease;
  // The per-call work slots: a resident model's slots are left as they are.
  float *d_W, *d_U;
  int* d_chans;
  unsigned char* d_overlap;
  detail::carve(ctx, detail::kSlotMatchWork, [&](detail::Carver& c) {
    d_W = c.take<float>(F * model.nt0 * model.rank);
    d_U = c.take<float>(F * nC * model.rank);
    d_chans = c.take<int>(F * model.n_neighbours);
    d_overlap = c.take<unsigned char>(F * F);
  });
  float* d_wtw = ctx.buffer_of<float>(detail::kSlotMatchOut, wtw.size());
  std::vector<int> chans(F * model.n_neighbours);
  for (std::size_t j = 0; j < F; ++j) {
    std::copy(model.channels_of(j), model.channels_of(j) + model.n_neighbours, chans.begin() + j * model.n_neighbours);
  }
  const std::vector<unsigned char> overlap = detail::neighbourhood_overlap(model);
  ctx.upload(d_W, model.W, F * model.nt0 * model.rank * sizeof(float));
  ctx.upload(d_U, model.U, F * nC * model.rank * sizeof(float));
  ctx.upload(d_chans, chans.data(), chans.size() * sizeof(int));
  ctx.upload(d_overlap, overlap.data(), overlap.size());
  detail::derive_wtw_on_device(ctx, d_W, d_U, d_chans, d_overlap, model, d_wtw);
  ctx.download(wtw.data(), d_wtw, wtw.size() * sizeof(float));
  ctx.synchronize();
  return wtw;
}

MatchResult preprocess_shift_match_batch(const PreprocessBatchInput& input, const float* kriging_matrix,
                                         const TemplateSet& model, const MatchOptions& options, bool want_residual) {
  return detail::full_layout(
      preprocess_shift_match(input, whole_block(kriging_matrix, input.n_samples), model, options, want_residual),
      model.n_templates, static_cast<std::size_t>(model.nt0) * input.n_channels);
}

FusedMatchResult preprocess_shift_match(const PreprocessBatchInput& input, const KrigingPieces& kriging,
                                        const TemplateSet& model, const MatchOptions& options, bool want_residual,
                                        FusedTiming* timing, std::uint64_t model_key,
                                        const ProposalInput* proposals) {
  detail::validate(input.n_samples, input.n_channels, model, options);
  const std::unique_ptr<detail::StagedInput> staged =
      timing == nullptr ? detail::stage_raw(input, "preprocess_shift_match") : nullptr;
  detail::ContextLease lease;
  Context& ctx = *lease;
  if (timing == nullptr) {
    const float* d_data = detail::run_preprocess(ctx, input, kriging, nullptr, 0, false, staged.get());
    return detail::run_match(ctx, d_data, input.n_samples, input.n_channels, model, options, want_residual, nullptr,
                             nullptr, nullptr, model_key, proposals);
  }
  // Timed: the stream synchronised at each stage boundary, host clock.
  spikeshard::detail::require_block("preprocess_batch", input.raw, input.raw_stride, input.n_samples,
                                    input.n_channels);
  const std::size_t raw_bytes = input.n_samples * input.raw_stride * sizeof(std::int16_t);
  auto* d_raw = ctx.buffer_of<std::int16_t>(detail::kSlotRaw, input.n_samples * input.raw_stride);
  void* pinned = ctx.staging(detail::kStageIn, raw_bytes);
  ctx.synchronize();
  const detail::Clock::time_point start = detail::Clock::now();
  detail::Clock::time_point mark = start;
  detail::copy_parallel(pinned, input.raw, raw_bytes);
  timing->stages[0].ms = detail::ms_since(mark);
  ctx.upload(d_raw, pinned, raw_bytes);
  ctx.synchronize();
  timing->stages[1].ms = detail::ms_since(mark);
  timing->stages[1].bytes = static_cast<double>(raw_bytes);
  const float* d_data = detail::run_preprocess(ctx, input, kriging, nullptr, 0, true);
  ctx.synchronize();
  timing->stages[2].ms = detail::ms_since(mark);
  FusedMatchResult r = detail::run_match(ctx, d_data, input.n_samples, input.n_channels, model, options,
                                         want_residual, nullptr, timing, &mark, model_key, proposals);
  timing->stages[6].ms = std::chrono::duration<double, std::milli>(detail::Clock::now() - start).count();
  double down = static_cast<double>(r.residual.size() * sizeof(float) + r.snippet_sums.size() * sizeof(double) +
                                    r.match.template_features.size() * sizeof(float) +
                                    r.match.pc_features.size() * sizeof(float) +
                                    r.proposals.snippets.size() * sizeof(float));
  timing->stages[4].bytes = down;
  timing->stages[5].bytes = down;
  timing->stages[0].bytes = static_cast<double>(raw_bytes);
  return r;
}

ResidentModelStats resident_model_stats() {
  // Uploads and reuses summed over the contexts; the key and bytes of the context used last.
  detail::ContextPool& pool = detail::ContextPool::get();
  ResidentModelStats total;
  std::uint64_t newest = 0;
  for (std::size_t i = 0; i < pool.size(); ++i) {
    detail::ContextLease lease(i);
    const detail::ResidentModel& r = detail::resident_model(*lease);
    total.uploads += r.uploads;
    total.reuses += r.reuses;
    if (r.sequence > newest) {
      newest = r.sequence;
      total.key = r.key;
      total.last_upload_bytes = r.last_upload_bytes;
    }
  }
  return total;
}

MatchBenchmark benchmark_match(const float* data, std::size_t n_samples, std::size_t n_channels,
                               const TemplateSet& model, const MatchOptions& options, int repeats,
                               const PreprocessBatchInput* input, const float* kriging_matrix) {
  if (repeats < 1) throw std::invalid_argument("benchmark_match: repeats must be ≥ 1, got " + std::to_string(repeats));
  detail::validate(n_samples, n_channels, model, options);
  detail::ContextLease lease;
  Context& ctx = *lease;
  MatchBenchmark out;
  const std::size_t bytes = n_samples * n_channels * sizeof(float);
  float* d_data = ctx.buffer_of<float>(detail::kSlotMatchInput, n_samples * n_channels);
  // Warm-up (allocations), then the timed repeats.
  ctx.upload_staged(d_data, data, bytes);
  const FusedMatchResult warm = detail::run_match(ctx, d_data, n_samples, n_channels, model, options, true, nullptr);
  out.spikes_found = warm.match.spikes_found;
  out.iterations = warm.match.iterations;
  for (int rep = 0; rep < repeats; ++rep) {
    detail::Timer timer;
    timer.mark(ctx);
    ctx.upload_staged(d_data, data, bytes);
    detail::run_match(ctx, d_data, n_samples, n_channels, model, options, true, &timer);
    ctx.synchronize();
    // Marks: 0 upload, 1 setup, 2 projections, 3 best, 4 pursuit, 5 outputs, 6 download, 7 end.
    for (int s = 0; s < 7; ++s) {
      float ms = 0;
      SPIKESHARD_CUDA_CHECK(cudaEventElapsedTime(&ms, timer.events[s], timer.events[s + 1]));
      out.stages[s].ms += ms / repeats;
    }
    float total = 0;
    SPIKESHARD_CUDA_CHECK(cudaEventElapsedTime(&total, timer.events[0], timer.events[7]));
    out.stages[7].ms += total / repeats;
  }
  out.stages[0].bytes = static_cast<double>(bytes);
  out.stages[6].bytes = static_cast<double>(bytes);
  if (input != nullptr) {
    const KrigingPieces pieces = whole_block(kriging_matrix, input->n_samples);
    detail::run_preprocess(ctx, *input, pieces, nullptr, 0);
    detail::Timer timer;
    timer.mark(ctx);
    for (int rep = 0; rep < repeats; ++rep) {
      const float* d = detail::run_preprocess(ctx, *input, pieces, nullptr, 0);
      detail::run_match(ctx, d, n_samples, n_channels, model, options, false, nullptr);
    }
    timer.mark(ctx);
    ctx.synchronize();
    float ms = 0;
    SPIKESHARD_CUDA_CHECK(cudaEventElapsedTime(&ms, timer.events[0], timer.events[1]));
    out.stages[8].ms = ms / repeats;
  }
  out.repeats = repeats;
  return out;
}

}  // namespace spikeshard::cuda

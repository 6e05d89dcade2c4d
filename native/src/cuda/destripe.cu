// SPDX-License-Identifier: GPL-3.0-or-later
// IBL's waveform path on the device (cuda_backend.h: destripe_block, destripe_cut_waveforms): the
// CPU destripe_block with kfilter = false and mute = false, then cut_waveforms, the block never
// leaving the device. Every kernel repeats the CPU's double/float operations in its order with
// explicit round-to-nearest intrinsics (no FMA contraction) and every value is written by one
// thread (no atomics), so the results equal the CPU's bit for bit.
//
//   1. the high-pass of highpass.cu (the CPU's highpass_block): raw·gain less the chunk's mean,
//      odd extension, both passes in segments through a double scratch, rounded to float (the
//      CPU's `narrow` block);
//   2. one block per needed row: the ADC shift's 33-tap FIR in float (taps ascending, terms outside
//      the chunk left out), the bad channels' interpolation in double, the median of the
//      reference channels (a bitonic sort in shared memory: the same order statistics as the
//      CPU's selection) subtracted in double;
//   3. the cut: one thread per output value.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <math_constants.h>

#include "context.cuh"
#include "cuda_backend.h"
#include "destripe_internal.h"
#include "preprocess_internal.h"
#include "kernels.cuh"
#include "spikeshard/destripe.h"
#include "spikeshard/preprocess.h"

namespace spikeshard::cuda {

namespace detail {

namespace {

// Device copies of the host tables of step 2.
struct RowTables {
  const float* taps = nullptr;  // (2·half + 1) × nc, tap i of channel c at [i·nc + c]; null: no shift
  int half = 0;
  const std::int32_t* bad = nullptr;  // n_bad channels, each with terms [term_begin[b], term_begin[b + 1])
  const std::int32_t* term_begin = nullptr;
  const std::int32_t* term_channel = nullptr;
  const double* term_weight = nullptr;
  int n_bad = 0;
  const std::int32_t* reference = nullptr;  // n_reference channels of the median; 0: no reference
  int n_reference = 0;
  int sort_size = 1;  // the smallest power of two ≥ n_reference
};

constexpr int kRowThreads = 256;

// Step 2. One block per row rows[blockIdx.x] (or blockIdx.x when rows is null); narrow → block.
__global__ void __launch_bounds__(kRowThreads)
    destripe_rows_kernel(const float* __restrict__ narrow, std::size_t n, std::size_t nc, RowTables tb,
                         const std::int32_t* __restrict__ rows, float* __restrict__ block) {
  extern __shared__ double sorted[];  // sort_size doubles, then the row's nc floats
  float* row = reinterpret_cast<float*>(sorted + tb.sort_size);
  const std::size_t t = rows != nullptr ? static_cast<std::size_t>(rows[blockIdx.x]) : blockIdx.x;
  // The ADC shift: y[t] = Σ_i h[i]·x[t + K − i] in float from 0, i ascending, as adc_shift sums.
  const int n_taps = 2 * tb.half + 1;
  for (std::size_t c = threadIdx.x; c < nc; c += blockDim.x) {
    if (tb.taps == nullptr) {
      row[c] = narrow[t * nc + c];
      continue;
    }
    float acc = 0.0f;
    for (int i = 0; i < n_taps; ++i) {
      const std::ptrdiff_t u = static_cast<std::ptrdiff_t>(t) + tb.half - i;
      if (u < 0 || u >= static_cast<std::ptrdiff_t>(n)) continue;
      acc = __fadd_rn(acc, __fmul_rn(tb.taps[static_cast<std::size_t>(i) * nc + c],
                                     narrow[static_cast<std::size_t>(u) * nc + c]));
    }
    row[c] = acc;
  }
  __syncthreads();
  // Interpolation: only good channels are read and only bad ones written, so each bad channel
  // can be done by its own thread in place.
  for (int b = threadIdx.x; b < tb.n_bad; b += blockDim.x) {
    double v = 0.0;
    for (int k = tb.term_begin[b]; k < tb.term_begin[b + 1]; ++k) {
      v = __dadd_rn(v, __dmul_rn(tb.term_weight[k], static_cast<double>(row[tb.term_channel[k]])));
    }
    row[tb.bad[b]] = __double2float_rn(v);
  }
  __syncthreads();
  if (tb.n_reference == 0) {
    for (std::size_t c = threadIdx.x; c < nc; c += blockDim.x) block[t * nc + c] = row[c];
    return;
  }
  // The median of the reference channels in double: sorted ascending (padding +inf at the end),
  // the middle value or the mean of the two middle ones, as median_in_place's selection gives.
  const int size = tb.sort_size;
  for (int i = threadIdx.x; i < size; i += blockDim.x) {
    sorted[i] = i < tb.n_reference ? static_cast<double>(row[tb.reference[i]]) : CUDART_INF;
  }
  __syncthreads();
  for (int k = 2; k <= size; k <<= 1) {
    for (int j = k >> 1; j > 0; j >>= 1) {
      for (int i = threadIdx.x; i < size; i += blockDim.x) {
        const int partner = i ^ j;
        if (partner <= i) continue;
        const double a = sorted[i], b = sorted[partner];
        const bool ascending = (i & k) == 0;
        if ((a > b) == ascending) {
          sorted[i] = b;
          sorted[partner] = a;
        }
      }
      __syncthreads();
    }
  }
  const int h = tb.n_reference / 2;
  const double median =
      tb.n_reference % 2 == 1 ? sorted[h] : __ddiv_rn(__dadd_rn(sorted[h - 1], sorted[h]), 2.0);
  for (std::size_t c = threadIdx.x; c < nc; c += blockDim.x) {
    block[t * nc + c] = __double2float_rn(__dsub_rn(static_cast<double>(row[c]), median));
  }
}

// Step 3. out[(w·n_rows + r)·length + i] = scale · block[starts[w] + i, channels[w·n_rows + r]].
__global__ void cut_waveforms_kernel(const float* __restrict__ block, std::size_t nc,
                                     const std::int32_t* __restrict__ starts,
                                     const std::int32_t* __restrict__ channels, std::size_t n_rows,
                                     std::size_t length, std::size_t total, double scale, float* __restrict__ out) {
  for (std::size_t idx = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::size_t i = idx % length;
    const std::size_t wr = idx / length;
    const std::size_t w = wr / n_rows;
    const std::size_t c = static_cast<std::size_t>(channels[wr]);
    if (c == nc) {
      out[idx] = __int_as_float(0x7fc00000);  // quiet NaN, as std::numeric_limits<float>::quiet_NaN()
      continue;
    }
    const float v = block[(static_cast<std::size_t>(starts[w]) + i) * nc + c];
    out[idx] = __double2float_rn(__dmul_rn(static_cast<double>(v), scale));
  }
}

// Small host arrays laid out in one buffer (16-byte aligned pieces) for a single upload.
class TablePack {
 public:
  template <typename T>
  std::size_t add(const T* data, std::size_t count) {
    offset_ = (bytes_.size() + 15) / 16 * 16;
    bytes_.resize(offset_ + count * sizeof(T));
    if (count > 0) std::memcpy(bytes_.data() + offset_, data, count * sizeof(T));
    return offset_;
  }
  template <typename T>
  std::size_t add(const std::vector<T>& v) {
    return add(v.data(), v.size());
  }
  const std::vector<unsigned char>& bytes() const { return bytes_; }

 private:
  std::vector<unsigned char> bytes_;
  std::size_t offset_ = 0;
};

void check_input(const DestripeInput& in) {
  spikeshard::detail::require_block("destripe_block (CUDA)", in.raw, in.raw_stride, in.n_samples, in.n_channels);
  if (in.labels == nullptr || in.x_um == nullptr || in.y_um == nullptr) {
    throw std::invalid_argument("destripe_block (CUDA): labels and positions are required");
  }
  if (in.kfilter || in.mute) {
    throw std::invalid_argument(
        "destripe_block (CUDA): only the waveform path's chain runs on the device: expected kfilter = false and "
        "mute = false, got kfilter = " +
        std::string(in.kfilter ? "true" : "false") + ", mute = " + (in.mute ? "true" : "false"));
  }
  spikeshard::detail::check_channel_labels(in.labels, in.n_channels);
}

void check_cut(const WaveformCut& cut, std::size_t n_samples, std::size_t n_channels) {
  if (cut.n_waves == 0) return;
  if (cut.starts == nullptr || cut.channels == nullptr || cut.n_rows == 0 || cut.length == 0) {
    throw std::invalid_argument("cut_waveforms: null pointer or empty waveform shape");
  }
  for (std::size_t w = 0; w < cut.n_waves; ++w) {
    if (cut.starts[w] < 0 || static_cast<std::size_t>(cut.starts[w]) + cut.length > n_samples) {
      throw std::invalid_argument("cut_waveforms: window " + std::to_string(w) + " starts at sample " +
                                  std::to_string(cut.starts[w]) + ", expected 0.." + std::to_string(n_samples) +
                                  " − " + std::to_string(cut.length));
    }
  }
  for (std::size_t i = 0; i < cut.n_waves * cut.n_rows; ++i) {
    if (cut.channels[i] < 0 || static_cast<std::size_t>(cut.channels[i]) > n_channels) {
      throw std::invalid_argument("cut_waveforms: channel " + std::to_string(cut.channels[i]) + " of row " +
                                  std::to_string(i) + ", expected 0.." + std::to_string(n_channels));
    }
  }
}

using Clock = std::chrono::steady_clock;

// Host-clock laps between stage boundaries (the stream synchronised first) when timing is asked.
class Laps {
 public:
  Laps(Context& ctx, DestripeTiming* timing) : ctx_(ctx), timing_(timing), start_(Clock::now()), last_(start_) {}
  void lap(int stage) {
    if (timing_ == nullptr) return;
    ctx_.synchronize();
    const auto now = Clock::now();
    timing_->stages[stage].ms = std::chrono::duration<double, std::milli>(now - last_).count();
    last_ = now;
  }
  void finish() {
    if (timing_ == nullptr) return;
    timing_->stages[DestripeTiming::kStages - 1].ms =
        std::chrono::duration<double, std::milli>(Clock::now() - start_).count();
  }

 private:
  Context& ctx_;
  DestripeTiming* timing_;
  Clock::time_point start_, last_;
};

// The shared chain: returns nothing, fills `out` with the whole block (cut == nullptr) or the
// waveforms.
void run_destripe(const DestripeInput& in, const WaveformCut* cut, float* out, DestripeTiming* timing) {
  check_input(in);
  const std::size_t n = in.n_samples, nc = in.n_channels;
  if (cut != nullptr) {
    check_cut(*cut, n, nc);
    if (cut->n_waves == 0) return;
  }
  // Host tables, exactly those the CPU builds.
  const std::size_t total = highpass_scratch_rows(in.highpass, n, "destripe_block (CUDA)");
  const FractionalDelayOptions delay;
  const std::vector<float> taps =
      in.shift_samples != nullptr ? spikeshard::detail::shift_taps(in.shift_samples, nc, delay) : std::vector<float>();
  const std::vector<spikeshard::detail::Interpolated> interpolated =
      spikeshard::detail::interpolation_rows(in.x_um, in.y_um, in.labels, nc, in.interpolation);
  std::vector<std::int32_t> bad, term_begin{0}, term_channel;
  std::vector<double> term_weight;
  for (const auto& r : interpolated) {
    bad.push_back(static_cast<std::int32_t>(r.channel));
    for (const auto& [channel, weight] : r.terms) {
      term_channel.push_back(static_cast<std::int32_t>(channel));
      term_weight.push_back(weight);
    }
    term_begin.push_back(static_cast<std::int32_t>(term_channel.size()));
  }
  std::vector<std::int32_t> reference;
  if (in.reference != nullptr) {
    for (std::size_t c = 0; c < nc; ++c) {
      if (in.reference[c] != 0) reference.push_back(static_cast<std::int32_t>(c));
    }
    if (reference.empty()) {
      throw std::invalid_argument("common_median_reference: no channel is marked good (of " + std::to_string(nc) +
                                  ")");
    }
  }
  int sort_size = 1;
  while (sort_size < static_cast<int>(reference.size())) sort_size *= 2;
  const std::size_t shared_bytes = static_cast<std::size_t>(sort_size) * sizeof(double) + nc * sizeof(float);
  if (shared_bytes > 48 * 1024) {
    throw std::invalid_argument("destripe_block (CUDA): " + std::to_string(nc) +
                                " channels need more than 48 KiB of shared memory per row");
  }
  // The rows the windows cover (all rows for the whole block).
  std::vector<std::int32_t> rows;
  if (cut != nullptr) {
    std::vector<std::uint8_t> covered(n, 0);
    for (std::size_t w = 0; w < cut->n_waves; ++w) {
      std::fill_n(covered.begin() + cut->starts[w], cut->length, std::uint8_t{1});
    }
    for (std::size_t t = 0; t < n; ++t) {
      if (covered[t] != 0) rows.push_back(static_cast<std::int32_t>(t));
    }
  }

  TablePack pack;
  const std::size_t at_gains = in.gains != nullptr ? pack.add(in.gains, nc) : 0;
  const std::size_t at_taps = pack.add(taps);
  const std::size_t at_bad = pack.add(bad);
  const std::size_t at_begin = pack.add(term_begin);
  const std::size_t at_channel = pack.add(term_channel);
  const std::size_t at_weight = pack.add(term_weight);
  const std::size_t at_reference = pack.add(reference);
  const std::size_t at_rows = pack.add(rows);
  const std::size_t at_starts = cut != nullptr ? pack.add(cut->starts, cut->n_waves) : 0;
  const std::size_t at_channels = cut != nullptr ? pack.add(cut->channels, cut->n_waves * cut->n_rows) : 0;

  const std::size_t raw_bytes = n * in.raw_stride * sizeof(std::int16_t);
  const detail::StagedInput staged(in.raw, raw_bytes);
  detail::ContextLease lease(detail::ContextUse::kWaveforms);
  Context& ctx = *lease;
  Laps laps(ctx, timing);
  auto* d_raw = ctx.buffer_of<std::int16_t>(kSlotDestripeRaw, n * in.raw_stride);
  auto* d_tables = ctx.buffer_of<unsigned char>(kSlotDestripeTables, pack.bytes().size());
  // The scratch holds the forward pass, then (once the high-pass is done) the destriped block.
  auto* d_fwd = ctx.buffer_of<double>(kSlotDestripeScratch, total * nc);
  float* d_block = reinterpret_cast<float*>(d_fwd);
  float* d_narrow = ctx.buffer_of<float>(kSlotDestripeNarrow, n * nc);
  const std::size_t n_out = cut != nullptr ? cut->n_waves * cut->n_rows * cut->length : 0;
  float* d_cut = cut != nullptr ? ctx.buffer_of<float>(kSlotDestripeCut, n_out) : nullptr;

  ctx.upload(d_raw, staged.data(), raw_bytes);
  ctx.upload(d_tables, pack.bytes().data(), pack.bytes().size());
  laps.lap(0);

  const double* d_gains = in.gains != nullptr ? reinterpret_cast<const double*>(d_tables + at_gains) : nullptr;
  launch_zero_phase_highpass(ctx, d_raw, in.raw_stride, d_gains, n, nc, in.highpass, "destripe_block (CUDA)", d_fwd,
                             d_narrow);
  laps.lap(1);

  RowTables tb;
  if (!taps.empty()) {
    tb.taps = reinterpret_cast<const float*>(d_tables + at_taps);
    tb.half = static_cast<int>(delay.half_width);
  }
  tb.bad = reinterpret_cast<const std::int32_t*>(d_tables + at_bad);
  tb.term_begin = reinterpret_cast<const std::int32_t*>(d_tables + at_begin);
  tb.term_channel = reinterpret_cast<const std::int32_t*>(d_tables + at_channel);
  tb.term_weight = reinterpret_cast<const double*>(d_tables + at_weight);
  tb.n_bad = static_cast<int>(bad.size());
  tb.reference = reinterpret_cast<const std::int32_t*>(d_tables + at_reference);
  tb.n_reference = static_cast<int>(reference.size());
  tb.sort_size = sort_size;
  const std::int32_t* d_rows = cut != nullptr ? reinterpret_cast<const std::int32_t*>(d_tables + at_rows) : nullptr;
  const std::size_t n_rows_done = cut != nullptr ? rows.size() : n;
  destripe_rows_kernel<<<static_cast<unsigned>(n_rows_done), kRowThreads, shared_bytes, ctx.stream()>>>(
      d_narrow, n, nc, tb, d_rows, d_block);
  SPIKESHARD_CUDA_LAUNCHED();
  laps.lap(2);

  StagedDownloads downloads(ctx);
  if (cut != nullptr) {
    const int threads = 256;
    const std::size_t wanted = (n_out + threads - 1) / threads;
    const unsigned blocks = static_cast<unsigned>(std::min<std::size_t>(wanted, 65535u * 8u));
    cut_waveforms_kernel<<<blocks, threads, 0, ctx.stream()>>>(
        d_block, nc, reinterpret_cast<const std::int32_t*>(d_tables + at_starts),
        reinterpret_cast<const std::int32_t*>(d_tables + at_channels), cut->n_rows, cut->length, n_out, cut->scale,
        d_cut);
    SPIKESHARD_CUDA_LAUNCHED();
    laps.lap(3);
    downloads.add(out, d_cut, n_out * sizeof(float));
  } else {
    laps.lap(3);
    downloads.add(out, d_block, n * nc * sizeof(float));
  }
  downloads.run();
  laps.lap(4);
  laps.finish();
  if (timing != nullptr) {
    timing->stages[0].bytes = static_cast<double>(n * in.raw_stride * sizeof(std::int16_t) + pack.bytes().size());
    timing->stages[1].bytes = static_cast<double>(n * in.raw_stride * 2 * 3 + total * nc * 16 + n * nc * 4);
    timing->stages[2].bytes = static_cast<double>(n_rows_done * nc * 8);
    timing->stages[3].bytes = static_cast<double>(n_out * 8);
    timing->stages[4].bytes = static_cast<double>((cut != nullptr ? n_out : n * nc) * sizeof(float));
  }
}

}  // namespace

}  // namespace detail

void destripe_block(const DestripeInput& in, float* out, DestripeTiming* timing) {
  if (out == nullptr) throw std::invalid_argument("destripe_block (CUDA): output pointer is null");
  detail::run_destripe(in, nullptr, out, timing);
}

void destripe_cut_waveforms(const DestripeInput& in, const WaveformCut& cut, float* out, DestripeTiming* timing) {
  if (out == nullptr && cut.n_waves > 0) throw std::invalid_argument("cut_waveforms (CUDA): output pointer is null");
  detail::run_destripe(in, &cut, out, timing);
}

}  // namespace spikeshard::cuda

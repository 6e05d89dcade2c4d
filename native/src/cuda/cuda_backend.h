// SPDX-License-Identifier: GPL-3.0-or-later
// The CUDA backend of the native core: the same kernels as the CPU reference (spikeshard/
// preprocess.h, spikeshard/drift.h) with the same argument shapes, so the addon and native/lib can
// call either. Plain host C++ (no CUDA headers here): the .cu files implement it and the napi glue
// in src/addon-cuda includes it.
//
// Every entry takes host pointers, copies to the device, runs, and copies back. The fused entries
// (preprocess_batch, preprocess_shift_batch) keep the intermediate blocks on the device, so one
// batch crosses the bus twice (int16 in, float out) instead of once per step.
//
// Parity with the CPU backend: the kernels perform the CPU's floating-point operations in the
// CPU's order, without fused multiply-adds (explicit __dmul_rn/__dadd_rn style intrinsics), so on
// x86-64 (where the CPU build does not contract either) the results are bitwise equal; the parity
// suite (test/gpu) checks this with the tolerances documented in docs/cuda.md. No atomics: every
// output is written by exactly one thread, so results are reproducible run to run.
//
// Device memory: a pool of contexts (SPIKESHARD_CUDA_CONTEXTS, default 1; context.cuh), each with
// grow-only cudaMalloc buffers reused between calls, its own stream and its resident state. Every
// call holds one free context throughout (or waits for one), so calls in flight on several threads
// (the async entries) run on different streams at once, each with the arithmetic of a call alone.
// The contexts together refuse to grow beyond kMaxDeviceBytes.
//
// Errors: std::invalid_argument on bad shapes (the addon maps it to RangeError), std::runtime_error
// naming the CUDA call and its error string on device failures.
#ifndef SPIKESHARD_CUDA_BACKEND_H_
#define SPIKESHARD_CUDA_BACKEND_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "spikeshard/destripe.h"
#include "spikeshard/matching.h"
#include "spikeshard/preprocess.h"
#include "spikeshard/templates.h"

namespace spikeshard::cuda {

// Peak device memory all contexts together may hold.
constexpr std::size_t kMaxDeviceBytes = std::size_t{8} << 30;

struct DeviceInfo {
  bool available = false;
  std::string reason;  // why not available (cudaGetDeviceCount's error string, or "no CUDA device")
  int device_count = 0;
  int device = 0;
  std::string name;
  std::size_t total_memory_bytes = 0;
  std::size_t free_memory_bytes = 0;
  int compute_major = 0;
  int compute_minor = 0;
  int multiprocessors = 0;
  int driver_version = 0;   // e.g. 13000 for 13.0
  int runtime_version = 0;  // the cudart this addon was linked with
};

// Never throws; available = false with a reason when no usable device is present.
DeviceInfo describe_device();

// Bytes currently held by the contexts' buffers (sum).
std::size_t device_bytes_in_use();

// Frees every context's buffers (a later call allocates again).
void release_device_memory();

// --- per-kernel entries (parity tests); shapes and semantics as the CPU functions of the same name

void highpass_block(const std::int16_t* in, std::size_t in_stride, const double* gains, std::size_t n_samples,
                    std::size_t n_channels, const HighpassOptions& options, float* out);
void highpass_block(const float* in, std::size_t in_stride, const double* gains, std::size_t n_samples,
                    std::size_t n_channels, const HighpassOptions& options, float* out);

void common_median_reference(float* x, std::size_t n_samples, std::size_t n_channels, const std::uint8_t* good);

void apply_whitening(const float* in, std::size_t n_samples, std::size_t n_channels, const std::int32_t* indices,
                     const float* weights, std::size_t n_nearest, double scale, float* out);

// out = x · Mᵀ (out[t, i] = Σ_j M[i, j]·x[t, j], float, j ascending). out may equal x.
void apply_kriging(const float* x, std::size_t n_samples, std::size_t n_channels, const float* m, float* out);

// --- fused per-batch entries

// Host memory without value-initialisation: the large results are overwritten entirely by the
// copy out of the pinned staging buffer, so zero-filling them first would be one more pass.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <typename U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... A>
  void construct(U* p, A&&... a) {
    ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
  }
};
template <typename T>
using HostVector = std::vector<T, DefaultInitAllocator<T>>;

// Rows [row_begin, row_end) of a block shifted with their own kriging matrix (n_channels²,
// row-major): a block's halos belong to the neighbouring batches, which have their own shifts.
struct KrigingPiece {
  std::size_t row_begin = 0;
  std::size_t row_end = 0;
  const float* matrix = nullptr;
};
// Sorted by row, disjoint, inside the block; rows outside every piece are left unshifted, and no
// pieces means no shift. Each piece equals apply_kriging on those rows (bitwise).
using KrigingPieces = std::vector<KrigingPiece>;

// One piece over the whole block, or none when kriging_matrix is null.
KrigingPieces whole_block(const float* kriging_matrix, std::size_t n_samples);

// Bitwise equal to the CPU preprocess_batch.
void preprocess_batch(const PreprocessBatchInput& input, float* out);

// preprocess_batch then, when kriging_matrix is not null, apply_kriging with it (n_channels²,
// row-major), all on the device.
void preprocess_shift_batch(const PreprocessBatchInput& input, const float* kriging_matrix, float* out);
// The same with one matrix per stretch of rows.
void preprocess_shift_batch(const PreprocessBatchInput& input, const KrigingPieces& kriging, float* out);

// --- micro-benchmark

struct StageTiming {
  const char* name;
  double ms = 0;     // mean over repeats, CUDA events around the kernel(s) only
  double bytes = 0;  // device memory bytes the stage reads + writes at least once (for GB/s)
};

struct BenchmarkResult {
  static constexpr int kStages = 7;
  StageTiming stages[kStages] = {{"upload_raw_int16", 0, 0},  {"highpass", 0, 0}, {"common_median_reference", 0, 0},
                                 {"whitening", 0, 0},         {"kriging", 0, 0},  {"download_float", 0, 0},
                                 {"fused_total", 0, 0}};
  int repeats = 0;
};

// Runs the fused chain (with kriging when kriging_matrix is not null) `repeats` times after one
// warm-up, timing each stage with CUDA events.
BenchmarkResult benchmark_preprocess(const PreprocessBatchInput& input, const float* kriging_matrix, int repeats);

// --- matching pursuit (matching.cu)

// The CPU match_batch (spikeshard/matching.h) on the device, same arguments and results: spike
// lists identical, every value bitwise equal (each kernel repeats the CPU's float/double operations
// in its order, without FMA). options.threads is ignored. Limits of the device kernels: rank ≤ 6,
// nt0 ≤ 256, and a template's neighbourhood must not repeat a channel (std::invalid_argument
// otherwise). With want_residual = false the residual is left empty.
//
// options.derive_cross_correlations: WtW is computed on the device from the model
// (template_cross_correlations below) and, under a model key, kept there with the model.
//
// model_key ≠ 0 names the model (with options.similar, options.pcs and options.cross_correlations)
// for the device-resident model: the context keeps the last keyed model's tables and WtW on the
// device, and a later call with the same key reuses them instead of uploading them again. A key
// must name one unchanging model (the caller's choice, e.g. a counter per model object); a key seen
// with different W, U, mu or channels throws std::invalid_argument. 0 uploads the model as a one-off.
MatchResult match_batch(const float* data, std::size_t n_samples, std::size_t n_channels, const TemplateSet& model,
                        const MatchOptions& options, bool want_residual = true, std::uint64_t model_key = 0);

// WtW of template_correlations (spikeshard/templates.h) computed on the device, bitwise the CPU's
// (float64 sums in its order, no FMA): what match_batch uses when derive_cross_correlations is set.
std::vector<float> template_cross_correlations(const TemplateSet& model);

// preprocess_shift_batch then match_batch on its output, without the batch leaving the device
// (the CPU's result layout: snippet sums of every template).
MatchResult preprocess_shift_match_batch(const PreprocessBatchInput& input, const float* kriging_matrix,
                                         const TemplateSet& model, const MatchOptions& options,
                                         bool want_residual);

// What the per-batch fused entry gives back: match.residual and match.snippet_sums stay empty;
// the snippet sums hold only the rows of the templates with a spike in them (snippet_counts > 0),
// ascending, computed compactly on the device, so their download is proportional to the templates
// touched; the residual only when asked.
struct FusedMatchResult {
  MatchResult match;
  std::vector<std::int32_t> snippet_templates;
  HostVector<double> snippet_sums;  // snippet_templates.size() × nt0 × n_channels
  HostVector<float> residual;       // n_samples × n_channels when asked, else empty
  bool has_proposals = false;
  Proposals proposals;  // when asked (ProposalInput): propose_templates on the device residual
};

// propose_templates's arguments other than the batch, for the fused learning call: the proposals
// are computed on the device residual (bitwise the CPU's on the downloaded residual) and only
// their snippets come back. options.halo_samples / own_samples are taken from the match options.
struct ProposalInput {
  const float* prototypes = nullptr;  // options.nt0 × n_prototypes
  int n_prototypes = 0;
  const std::int32_t* iC = nullptr;  // n_channels × n_neighbours
  int n_neighbours = 0;
  ProposalOptions options;
};

// Wall-clock stages of one fused call (host clock, the stream synchronised at each boundary, so
// the timed call is slightly slower than an untimed one). model_upload (building the model's device
// tables and uploading them with WtW; ~0 when the model is resident) is not part of match_kernels;
// its bytes are those uploaded.
struct FusedTiming {
  static constexpr int kStages = 8;
  StageTiming stages[kStages] = {{"stage_raw_into_pinned", 0, 0}, {"upload_raw_dma", 0, 0},
                                 {"preprocess_shift_kernels", 0, 0}, {"match_kernels", 0, 0},
                                 {"download_dma", 0, 0},          {"copy_out_of_pinned", 0, 0},
                                 {"fused_total", 0, 0},           {"model_upload", 0, 0}};
};

// The per-batch chain for the engine: raw int16 in (one staged upload), preprocessing, the
// kriging pieces, matching pursuit, and only the results the caller uses out (one staged
// download). Bitwise equal to the CPU chain. `timing`, when not null, gets the stages of this call.
// `model_key`: as match_batch's.
FusedMatchResult preprocess_shift_match(const PreprocessBatchInput& input, const KrigingPieces& kriging,
                                        const TemplateSet& model, const MatchOptions& options, bool want_residual,
                                        FusedTiming* timing = nullptr, std::uint64_t model_key = 0,
                                        const ProposalInput* proposals = nullptr);

// The device-resident model: the key held by the context that matched last (0: none), how many keyed
// or unkeyed calls uploaded the model and how many reused it (sums over the contexts), and the bytes
// the last call uploaded.
struct ResidentModelStats {
  std::uint64_t key = 0;
  std::size_t uploads = 0;
  std::size_t reuses = 0;
  double last_upload_bytes = 0;
};
ResidentModelStats resident_model_stats();

struct MatchBenchmark {
  static constexpr int kStages = 9;
  StageTiming stages[kStages] = {{"match_upload_float", 0, 0},   {"match_setup_and_transpose", 0, 0},
                                 {"match_projections", 0, 0},    {"match_initial_best", 0, 0},
                                 {"match_pursuit_iterations", 0, 0}, {"match_outputs", 0, 0},
                                 {"match_download", 0, 0},       {"match_total", 0, 0},
                                 {"preprocess_shift_match_total", 0, 0}};
  int repeats = 0;
  std::size_t spikes_found = 0;
  int iterations = 0;
};

// Times match_batch per stage (CUDA events, mean over repeats after one warm-up); when input is
// not null also the fused preprocess_shift_match_batch (its raw batch must have n_samples ×
// n_channels of `data`'s shape).
MatchBenchmark benchmark_match(const float* data, std::size_t n_samples, std::size_t n_channels,
                               const TemplateSet& model, const MatchOptions& options, int repeats,
                               const PreprocessBatchInput* input, const float* kriging_matrix);

// --- IBL waveforms (destripe.cu)

// The windows of cut_waveforms (spikeshard/destripe.h): out[w, r, i] = scale · block[starts[w] + i,
// channels[w·n_rows + r]] (product in double, rounded to float); NaN where the channel is
// n_channels (a padded row). Every window must lie inside the block.
struct WaveformCut {
  const std::int32_t* starts = nullptr;    // n_waves
  const std::int32_t* channels = nullptr;  // n_waves × n_rows
  std::size_t n_waves = 0;
  std::size_t n_rows = 0;
  std::size_t length = 0;
  double scale = 1.0;
};

// Wall-clock stages of one destripe call (host clock, the stream synchronised at each boundary).
struct DestripeTiming {
  static constexpr int kStages = 6;
  StageTiming stages[kStages] = {{"upload_raw_and_tables", 0, 0}, {"highpass", 0, 0}, {"shift_interpolate_reference", 0, 0},
                                 {"cut", 0, 0},                   {"download", 0, 0}, {"total", 0, 0}};
};

// The CPU destripe_block on the device, bitwise equal, for the waveform path's settings only:
// in.kfilter and in.mute must be false (std::invalid_argument otherwise). High-pass (with gains and
// mean removal), ADC shift, bad-channel interpolation and the common median reference (when
// in.reference is set). out: n_samples × n_channels µV.
void destripe_block(const DestripeInput& in, float* out, DestripeTiming* timing = nullptr);

// destripe_block then cut_waveforms on its result without the block leaving the device: the raw
// chunk in (one staged upload), only the n_waves × n_rows × length waveforms out. Only the rows the
// windows cover are shifted, interpolated and referenced (each row's result does not depend on the
// others'). Bitwise equal to the CPU's destripe_block + cut_waveforms.
void destripe_cut_waveforms(const DestripeInput& in, const WaveformCut& cut, float* out,
                            DestripeTiming* timing = nullptr);

}  // namespace spikeshard::cuda

#endif  // SPIKESHARD_CUDA_BACKEND_H_

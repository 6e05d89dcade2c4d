// SPDX-License-Identifier: GPL-3.0-or-later
// Drift-detection part of the CUDA backend (drift_detect.cu): the generic-template spike detector
// of classic datashift (spikeshard/drift.h, detect_drift_spikes) on the device, alone on a float
// block and fused after the preprocessing chain (raw int16 in, spikes out). Plain host C++.
//
// Parity: same spikes in the same order (sample, then centre), same `found`, and every depth and
// amplitude bitwise equal to the CPU's: each kernel repeats the CPU's float/double operations in
// its order (no FMA), and the CPU's pruning (Cauchy–Schwarz bound, scores ≤ threshold² stored as
// 0) is reproduced exactly, so even the pruned scores agree. No atomics: results repeat bit for bit.
#ifndef SPIKESHARD_CUDA_DRIFT_BACKEND_H_
#define SPIKESHARD_CUDA_DRIFT_BACKEND_H_

#include <cstddef>

#include "spikeshard/drift.h"
#include "spikeshard/preprocess.h"

namespace spikeshard::cuda {

// What one detection call needs besides the block (the CPU function's other arguments).
struct DriftDetectArgs {
  const DetectorGeometry* geometry = nullptr;
  const float* w_temp = nullptr;  // nt0 × n_prototypes, row-major (as the CPU)
  std::size_t n_prototypes = 0;
  std::size_t own_begin = 0;
  std::size_t own_end = 0;
  std::size_t capacity = 0;
  DriftDetectorParams params;
};

// Limits of the device kernels (std::invalid_argument beyond them): nt0 ≤ 256, n_prototypes ≤ 255,
// at most 65 535 · 256 scored window starts per block.
constexpr std::size_t kMaxDriftTemplateSamples = 256;

// detect_drift_spikes on the device for a host float block (n_samples × n_channels). The CPU's
// `threads` has no meaning here.
DriftDetection detect_drift_spikes(const float* x, std::size_t n_samples, std::size_t n_channels,
                                   const DriftDetectArgs& args);

// The detector's tables (geometry and prototypes, ≈ 1 MB at 384 channels) stay on the device
// between calls and go up again only when a call's tables differ in any byte (or the device memory
// was released), in each device context: uploads and reuses so far summed over the contexts, the
// bytes of the newest upload.
struct DriftTableStats {
  std::size_t uploads = 0;
  std::size_t reuses = 0;
  std::size_t last_upload_bytes = 0;
};
DriftTableStats drift_table_stats();

// Per-stage times of detect_drift_spikes on a block already on the device (mean over `repeats`
// calls after one warm-up call; device times from events, the tables' host side and the whole call
// by the host clock).
struct DriftBenchmark {
  static constexpr int kStages = 6;
  struct Stage {
    const char* name;
    double ms = 0;
  };
  Stage stages[kStages] = {{"tables_host"}, {"filter"}, {"score"}, {"peaks_count_scan"}, {"spikes_write"}, {"total_call"}};
  std::size_t spikes = 0;
  int repeats = 0;
};
DriftBenchmark benchmark_drift_detect(const float* x, std::size_t n_samples, std::size_t n_channels,
                                      const DriftDetectArgs& args, int repeats);

// preprocess_batch (raw int16 → whitened, no drift shift) then detect_drift_spikes on its device
// output: one staged int16 upload, the spikes come back; the whitened block never leaves the device.
DriftDetection preprocess_detect_drift_spikes(const PreprocessBatchInput& input, const DriftDetectArgs& args);

}  // namespace spikeshard::cuda

#endif  // SPIKESHARD_CUDA_DRIFT_BACKEND_H_

// SPDX-License-Identifier: GPL-3.0-or-later
// The per-process device context of the CUDA backend: error checking, grow-only device buffers
// reused between calls, one stream, and the mutex that serialises calls.
#ifndef SPIKESHARD_CUDA_CONTEXT_CUH_
#define SPIKESHARD_CUDA_CONTEXT_CUH_

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace spikeshard::cuda::detail {

// Throws std::runtime_error "CUDA error in <call> (<file>:<line>): <error string>".
void check(cudaError_t status, const char* call, const char* file, int line);

#define SPIKESHARD_CUDA_CHECK(call) ::spikeshard::cuda::detail::check((call), #call, __FILE__, __LINE__)
// After a kernel launch: launch-configuration errors surface here, execution errors at the next sync.
#define SPIKESHARD_CUDA_LAUNCHED() ::spikeshard::cuda::detail::check(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)

// Named slots so that each step of a batch reuses the same allocation from call to call.
enum Slot : int {
  kSlotRaw = 0,       // int16 or float input block
  kSlotGains,         // double per channel
  kSlotGood,          // int32 list of good channels
  kSlotScratch,       // double (n + 2·pad) × channels, the filter's intermediate
  kSlotA,             // float block
  kSlotB,             // float block
  kSlotIndices,       // int32 whitening indices
  kSlotWeights,       // float whitening weights
  kSlotMatrix,        // float kriging matrix
  kSlotMatchInput,    // float batch uploaded for matching (sample-major)
  kSlotMatchColumns,  // float residual, channel-major, during matching
  kSlotMatchScores,   // float projections c, F × window starts
  kSlotMatchModel,    // packed template model and options arrays
  kSlotMatchWtW,      // float template cross-correlations
  kSlotMatchWork,     // err, best, peak flags, spike lists, work items
  kSlotMatchOut,      // residual (sample-major) and the per-spike outputs
  kSlotProposals,     // proposals: prototype filter outputs, scores, channels
  kSlotDriftTables,   // detector geometry and prototypes (drift_detect.cu)
  kSlotDriftConv,     // float prototype-filtered block and its per-sample bound term
  kSlotDriftScores,   // float scores, centres × window starts
  kSlotDriftWork,     // peak flags, counts, offsets
  kSlotDriftSpikes,   // the detected spikes (sample, centre, depth, amplitude)
  kSlotDestripeRaw,     // int16 raw chunk of the IBL waveform path (destripe.cu)
  kSlotDestripeTables,  // its gains, taps, interpolation terms, reference channels, rows, windows
  kSlotDestripeScratch, // double forward pass of the high-pass, then the float destriped block
  kSlotDestripeNarrow,  // float high-passed block before the ADC shift
  kSlotDestripeCut,     // float cut waveforms
  kSlotCount
};

// Pinned (page-locked) host staging, one buffer per direction: the DMA engine copies from and to
// pinned memory at full bus speed, pageable memory goes through the driver's own bounce buffers.
enum Staging : int { kStageIn = 0, kStageOut, kStageCount };


class Context {
 public:
  static Context& get();  // initialises the device and stream on first use; throws if none

  // Device pointer of at least `bytes` in `slot` (contents not preserved on growth). Throws
  // std::runtime_error if the context would exceed kMaxDeviceBytes.
  void* buffer(Slot slot, std::size_t bytes);
  template <typename T>
  T* buffer_of(Slot slot, std::size_t count) {
    return static_cast<T*>(buffer(slot, count * sizeof(T)));
  }

  std::size_t bytes_in_use() const;
  void release();
  // Changes whenever `slot`'s allocation is replaced or freed: device data kept in a slot across
  // calls (the resident template model) is valid only while its generation is unchanged.
  std::uint64_t generation(Slot slot) const { return generations_[slot]; }
  cudaStream_t stream() const { return stream_; }
  std::mutex& mutex() { return mutex_; }

  void upload(void* device, const void* host, std::size_t bytes);
  void download(void* host, const void* device, std::size_t bytes);
  void synchronize();

  // Pinned host buffer of at least `bytes` (cudaHostAlloc, grown by a quarter when too small;
  // contents not preserved on growth). Synchronises the stream before reallocating.
  void* staging(Staging which, std::size_t bytes);
  std::size_t staging_bytes() const;

  // Copies `bytes` of pageable host memory into the pinned input buffer (threads of the host) and
  // queues its DMA to `device` on the stream. The pinned buffer is reused by the next call, which
  // synchronises first.
  void upload_staged(void* device, const void* host, std::size_t bytes);

 private:
  Context();
  std::mutex mutex_;
  cudaStream_t stream_ = nullptr;
  void* pointers_[kSlotCount] = {};
  std::size_t sizes_[kSlotCount] = {};
  std::uint64_t generations_[kSlotCount] = {};
  void* pinned_[kStageCount] = {};
  std::size_t pinned_sizes_[kStageCount] = {};
};

// Host copy split over the host threads (disjoint ranges; used between pageable and pinned memory).
void copy_parallel(void* dst, const void* src, std::size_t bytes);

// The downloads of one call gathered into the pinned output buffer: every add() is laid out at an
// aligned offset, run() queues all DMAs on the stream, synchronises once and copies each piece to
// its host destination.
class StagedDownloads {
 public:
  explicit StagedDownloads(Context& ctx) : ctx_(ctx) {}
  void add(void* host, const void* device, std::size_t bytes);
  // Queues the DMAs (after whatever the stream holds) and returns without waiting; finish() waits
  // and copies. run() = queue() + finish().
  void queue();
  void finish();
  void run() {
    queue();
    finish();
  }

 private:
  struct Piece {
    void* host;
    const void* device;
    std::size_t bytes;
    std::size_t offset;
  };
  Context& ctx_;
  std::vector<Piece> pieces_;
  std::size_t total_ = 0;
  char* pinned_ = nullptr;
};

}  // namespace spikeshard::cuda::detail

#endif  // SPIKESHARD_CUDA_CONTEXT_CUH_

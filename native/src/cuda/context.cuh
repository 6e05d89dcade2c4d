// SPDX-License-Identifier: GPL-3.0-or-later
// The per-process device context of the CUDA backend: error checking, grow-only device buffers
// reused between calls, one stream, and the mutex that serialises calls.
#ifndef SPIKESHARD_CUDA_CONTEXT_CUH_
#define SPIKESHARD_CUDA_CONTEXT_CUH_

#include <cuda_runtime.h>

#include <cstddef>
#include <mutex>

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
  kSlotCount
};

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
  cudaStream_t stream() const { return stream_; }
  std::mutex& mutex() { return mutex_; }

  void upload(void* device, const void* host, std::size_t bytes);
  void download(void* host, const void* device, std::size_t bytes);
  void synchronize();

 private:
  Context();
  std::mutex mutex_;
  cudaStream_t stream_ = nullptr;
  void* pointers_[kSlotCount] = {};
  std::size_t sizes_[kSlotCount] = {};
};

}  // namespace spikeshard::cuda::detail

#endif  // SPIKESHARD_CUDA_CONTEXT_CUH_

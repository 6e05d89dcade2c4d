// SPDX-License-Identifier: GPL-3.0-or-later
// The device contexts of the CUDA backend: error checking, and a small pool of contexts (issue 5),
// each with its own stream, grow-only device buffers reused between calls, pinned staging and
// per-context state (the resident template model, the drift tables). A call leases one free context
// for its whole duration (ContextLease), so calls in flight on several host threads run on
// different streams and overlap on the device; a call that finds every context busy waits.
#ifndef SPIKESHARD_CUDA_CONTEXT_CUH_
#define SPIKESHARD_CUDA_CONTEXT_CUH_

#include <cuda_runtime.h>

#include <condition_variable>
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
  kSlotHighpassSegments,  // the high-pass's segment tables and states (highpass.cu)
  kSlotCount
};

// Pinned (page-locked) host staging, one buffer per direction: the DMA engine copies from and to
// pinned memory at full bus speed, pageable memory goes through the driver's own bounce buffers.
enum Staging : int { kStageIn = 0, kStageOut, kStageCount };

// Per-context state kept by other files between calls (valid only with the slots it describes,
// which belong to the same context).
enum State : int { kStateMatchModel = 0, kStateDriftTables, kStateCount };

class ContextPool;

class Context {
 public:
  // Creates the context's stream; the device is set up by the pool. `index`: its place in the pool.
  Context(ContextPool& pool, std::size_t index);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Device pointer of at least `bytes` in `slot` (contents not preserved on growth). When the
  // contexts together would exceed kMaxDeviceBytes, frees idle contexts' buffers or waits for a busy
  // one to finish (ContextPool::reserve); throws std::runtime_error when nothing can be freed.
  void* buffer(Slot slot, std::size_t bytes);
  template <typename T>
  T* buffer_of(Slot slot, std::size_t count) {
    return static_cast<T*>(buffer(slot, count * sizeof(T)));
  }

  std::size_t bytes_in_use() const;
  // Frees the device buffers (and, with `pinned`, the staging buffers); resident state goes stale.
  void release(bool pinned = true);
  // Changes whenever `slot`'s allocation is replaced or freed: device data kept in a slot across
  // calls (the resident template model) is valid only while its generation is unchanged.
  std::uint64_t generation(Slot slot) const { return generations_[slot]; }
  cudaStream_t stream() const { return stream_; }

  // This context's object of type T for `which` (value-initialised on first use). The lease
  // guards it like the buffers; every caller of one `which` must use the same T.
  template <typename T>
  T& state(State which) {
    if (!states_[which]) states_[which] = std::make_shared<T>();
    return *static_cast<T*>(states_[which].get());
  }

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
  ContextPool& pool_;
  std::size_t index_;
  cudaStream_t stream_ = nullptr;
  void* pointers_[kSlotCount] = {};
  std::size_t sizes_[kSlotCount] = {};
  std::uint64_t generations_[kSlotCount] = {};
  void* pinned_[kStageCount] = {};
  std::size_t pinned_sizes_[kStageCount] = {};
  std::shared_ptr<void> states_[kStateCount];
};

// Which calls a context serves: the sort's batches, or IBL's waveform chunks (destripe.cu).
enum class ContextUse { kBatches, kWaveforms };

// The process's contexts: SPIKESHARD_CUDA_CONTEXTS (an integer from 1 to kMaxContexts, default
// kDefaultContexts) for the batches. One by default: on the H100 two contexts ran six queued calls
// in 20.5 instead of 94 ms, but a 10-minute sort, whose host side feeds the device, was no faster
// (154.0 s against 148.1 s) and held ~450 MB more pinned host memory (docs/cuda.md, "Several device
// contexts"). After them, kWaveformContexts for the waveform chunks, whose high-pass occupies 12 of
// the H100's 132 SMs: two chunks in flight run side by side there. A context allocates nothing
// until it is used. Created on first use; a failed creation throws and is retried by the next call.
class ContextPool {
 public:
  static constexpr std::size_t kDefaultContexts = 1;
  static constexpr std::size_t kMaxContexts = 16;
  static constexpr std::size_t kWaveformContexts = 2;
  static ContextPool& get();

  std::size_t size() const { return contexts_.size(); }
  // Waits (condition variable) until a context of `use` is free and takes it: the lowest-numbered
  // free one, so that calls one after the other always land on the same context and find its
  // resident state.
  std::size_t acquire(ContextUse use = ContextUse::kBatches);
  // Waits until context `index` is free and takes it (statistics, release of all contexts).
  void acquire(std::size_t index);
  void release(std::size_t index);
  Context& context(std::size_t index) { return *contexts_[index]; }

  // Device bytes of all contexts together, kept under kMaxDeviceBytes: context `self` (leased by
  // the caller), about to replace `old_bytes` of a slot by `bytes` (or, when it fits, `grown` ≥
  // bytes), reserves the difference and gets the size to allocate. When even `bytes` would not
  // fit it frees the buffers of an idle context, or waits until a busy one is released and frees
  // its buffers then; it throws std::runtime_error when no other context is busy with memory to
  // give back (none busy, or every busy one waits for memory itself: the waits cannot deadlock).
  std::size_t reserve(std::size_t self, std::size_t old_bytes, std::size_t bytes, std::size_t grown);
  void unreserve(std::size_t bytes);

 private:
  ContextPool();
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Context>> contexts_;
  std::vector<bool> busy_;
  std::size_t batch_contexts_ = 0;  // contexts [0, batch_contexts_) serve batches, the rest waveforms
  std::size_t total_bytes_ = 0;     // guarded by mutex_
  std::size_t memory_waiters_ = 0;  // contexts waiting in reserve(); guarded by mutex_
};

// One context held for the whole of a call (RAII): every entry of the backend takes one before its
// first device operation.
class ContextLease {
 public:
  explicit ContextLease(ContextUse use = ContextUse::kBatches) : pool_(ContextPool::get()), index_(pool_.acquire(use)) {}
  explicit ContextLease(std::size_t index) : pool_(ContextPool::get()), index_(index) { pool_.acquire(index); }
  ~ContextLease() { pool_.release(index_); }
  ContextLease(const ContextLease&) = delete;
  ContextLease& operator=(const ContextLease&) = delete;
  Context& operator*() const { return pool_.context(index_); }
  Context* operator->() const { return &pool_.context(index_); }

 private:
  ContextPool& pool_;
  std::size_t index_;
};

// A call's raw input copied into pinned host memory before the call takes a context: the host copy
// (the largest part of an upload from pageable memory) then runs while the context's stream still
// computes the call before, instead of inside the lease. The buffers are the process's
// (kStagedInputs, grown as needed, allocated when first needed); a call waits while all are taken.
// The lease's stream synchronises before the call returns, so the DMA from the buffer is done when
// it is handed back.
class StagedInput {
 public:
  static constexpr std::size_t kStagedInputs = 4;
  StagedInput(const void* host, std::size_t bytes);
  ~StagedInput();
  StagedInput(const StagedInput&) = delete;
  StagedInput& operator=(const StagedInput&) = delete;
  const void* data() const { return data_; }
  // Frees the buffers no call holds (release_device_memory).
  static void release_idle();

 private:
  std::size_t index_ = 0;
  void* data_ = nullptr;
};

// A number that grows with every call to it (process-wide): tells which context's state was
// written last when statistics over all contexts report "the last" of something.
std::uint64_t next_sequence();

// cudaFuncSetAttribute(kernel, MaxDynamicSharedMemorySize, bytes) when bytes exceed the 48 KiB
// default, raising the kernel's limit only (under a lock): two calls on different contexts that
// set different limits must not lower the one the other is about to launch with.
void allow_dynamic_shared(const void* kernel, std::size_t bytes);
template <typename Kernel>
void allow_dynamic_shared_for(Kernel* kernel, std::size_t bytes) {
  allow_dynamic_shared(reinterpret_cast<const void*>(kernel), bytes);
}

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

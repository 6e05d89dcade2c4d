// SPDX-License-Identifier: GPL-3.0-or-later
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "spikeshard/threads.h"

#include "context.cuh"
#include "cuda_backend.h"

namespace spikeshard::cuda {

namespace detail {

void check(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  throw std::runtime_error(std::string("CUDA error in ") + call + " (" + file + ":" + std::to_string(line) +
                           "): " + cudaGetErrorName(status) + ": " + cudaGetErrorString(status));
}

namespace {

std::size_t contexts_from_environment() {
  const char* text = std::getenv("SPIKESHARD_CUDA_CONTEXTS");
  if (text == nullptr || *text == '\0') return ContextPool::kDefaultContexts;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*end != '\0' || value < 1 || value > static_cast<long>(ContextPool::kMaxContexts)) {
    throw std::runtime_error(std::string("SPIKESHARD_CUDA_CONTEXTS: expected an integer from 1 to ") +
                             std::to_string(ContextPool::kMaxContexts) + ", got '" + text + "'");
  }
  return static_cast<std::size_t>(value);
}

}  // namespace

ContextPool& ContextPool::get() {
  // Constructed once; a failed construction throws and is retried by the next call. Never destroyed:
  // at process exit the CUDA runtime may be unloaded before static destructors run.
  static ContextPool& pool = *new ContextPool();
  return pool;
}

ContextPool::ContextPool() {
  const std::size_t n = contexts_from_environment();
  int count = 0;
  SPIKESHARD_CUDA_CHECK(cudaGetDeviceCount(&count));
  if (count == 0) throw std::runtime_error("CUDA backend: no CUDA device");
  SPIKESHARD_CUDA_CHECK(cudaSetDevice(0));
  batch_contexts_ = n;
  for (std::size_t i = 0; i < n + kWaveformContexts; ++i) contexts_.push_back(std::make_unique<Context>(*this, i));
  busy_.assign(contexts_.size(), false);
}

std::size_t ContextPool::acquire(ContextUse use) {
  const std::size_t begin = use == ContextUse::kBatches ? 0 : batch_contexts_;
  const std::size_t end = use == ContextUse::kBatches ? batch_contexts_ : contexts_.size();
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    for (std::size_t i = begin; i < end; ++i) {
      if (!busy_[i]) {
        busy_[i] = true;
        return i;
      }
    }
    freed_.wait(lock);
  }
}

void ContextPool::acquire(std::size_t index) {
  std::unique_lock<std::mutex> lock(mutex_);
  freed_.wait(lock, [&] { return !busy_[index]; });
  busy_[index] = true;
}

void ContextPool::release(std::size_t index) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    busy_[index] = false;
  }
  // Waiters for any context and for this one share the variable: wake all, the others sleep again.
  freed_.notify_all();
}

std::size_t ContextPool::reserve(std::size_t self, std::size_t old_bytes, std::size_t bytes, std::size_t grown) {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    const std::size_t others = total_bytes_ - old_bytes;
    if (others + bytes <= kMaxDeviceBytes) {
      const std::size_t size = others + grown > kMaxDeviceBytes ? bytes : grown;
      total_bytes_ = others + size;
      return size;
    }
    // Over the cap: free the buffers of an idle context (its resident state goes with them), else
    // wait for a busy one to finish and free its buffers then. Only when every other busy context
    // is itself waiting for memory (or none is busy) nothing can be freed: throw as one context did.
    std::size_t idle = contexts_.size(), busy_others = 0;
    for (std::size_t j = 0; j < contexts_.size(); ++j) {
      if (j == self) continue;
      if (busy_[j]) {
        ++busy_others;
      } else if (contexts_[j]->bytes_in_use() > 0 && idle == contexts_.size()) {
        idle = j;
      }
    }
    if (idle < contexts_.size()) {
      busy_[idle] = true;
      lock.unlock();
      try {
        contexts_[idle]->release(false);
      } catch (...) {
        release(idle);
        throw;
      }
      release(idle);
      lock.lock();
      continue;
    }
    if (busy_others == 0 || memory_waiters_ >= busy_others) {
      throw std::runtime_error("CUDA backend: a buffer of " + std::to_string(bytes) +
                               " bytes would take the device memory of the " + std::to_string(contexts_.size()) +
                               " contexts to " + std::to_string(others + bytes) + " bytes, above their limit of " +
                               std::to_string(kMaxDeviceBytes) + " (batch too large)");
    }
    ++memory_waiters_;
    freed_.wait(lock);
    --memory_waiters_;
  }
}

void ContextPool::unreserve(std::size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  total_bytes_ -= bytes;
}

namespace {

struct StagedPool {
  std::mutex mutex;
  std::condition_variable freed;
  bool busy[StagedInput::kStagedInputs] = {};
  void* data[StagedInput::kStagedInputs] = {};
  std::size_t size[StagedInput::kStagedInputs] = {};
};

StagedPool& staged_pool() {
  // Never destroyed, like the contexts: the CUDA runtime may be gone before static destructors run.
  static StagedPool& pool = *new StagedPool();
  return pool;
}

}  // namespace

StagedInput::StagedInput(const void* host, std::size_t bytes) {
  ContextPool::get();  // the device is set up (and a missing one reported) before any host allocation
  StagedPool& p = staged_pool();
  {
    std::unique_lock<std::mutex> lock(p.mutex);
    for (;;) {
      std::size_t i = 0;
      while (i < kStagedInputs && p.busy[i]) ++i;
      if (i < kStagedInputs) {
        index_ = i;
        p.busy[i] = true;
        break;
      }
      p.freed.wait(lock);
    }
  }
  try {
    // The holder of a buffer is its only user: it is grown outside the lock.
    if (p.size[index_] < bytes) {
      if (p.data[index_] != nullptr) SPIKESHARD_CUDA_CHECK(cudaFreeHost(p.data[index_]));
      p.data[index_] = nullptr;
      p.size[index_] = 0;
      const std::size_t grown = bytes + bytes / 4;
      SPIKESHARD_CUDA_CHECK(cudaHostAlloc(&p.data[index_], grown, cudaHostAllocDefault));
      p.size[index_] = grown;
    }
    if (bytes > 0) copy_parallel(p.data[index_], host, bytes);
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(p.mutex);
      p.busy[index_] = false;
    }
    p.freed.notify_all();
    throw;
  }
  data_ = p.data[index_];
}

StagedInput::~StagedInput() {
  StagedPool& p = staged_pool();
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    p.busy[index_] = false;
  }
  p.freed.notify_all();
}

void StagedInput::release_idle() {
  StagedPool& p = staged_pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  for (std::size_t i = 0; i < kStagedInputs; ++i) {
    if (p.busy[i] || p.data[i] == nullptr) continue;
    SPIKESHARD_CUDA_CHECK(cudaFreeHost(p.data[i]));
    p.data[i] = nullptr;
    p.size[i] = 0;
  }
}

std::uint64_t next_sequence() {
  static std::atomic<std::uint64_t> counter{0};
  return ++counter;
}

void allow_dynamic_shared(const void* kernel, std::size_t bytes) {
  if (bytes <= 48 * 1024) return;
  static std::mutex mutex;
  static std::unordered_map<const void*, std::size_t> limits;
  std::lock_guard<std::mutex> lock(mutex);
  std::size_t& limit = limits[kernel];
  if (limit >= bytes) return;
  SPIKESHARD_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
  limit = bytes;
}

Context::Context(ContextPool& pool, std::size_t index) : pool_(pool), index_(index) {
  SPIKESHARD_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
}

Context::~Context() {
  // Only when the pool's construction failed part-way (the pool itself is never destroyed).
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

void* Context::buffer(Slot slot, std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (sizes_[slot] >= bytes) return pointers_[slot];
  // Grow by a quarter more than asked so that slightly larger batches do not reallocate.
  const std::size_t grown = pool_.reserve(index_, sizes_[slot], bytes, bytes + bytes / 4);
  ++generations_[slot];
  if (pointers_[slot] != nullptr) {
    const cudaError_t synced = cudaStreamSynchronize(stream_);
    const cudaError_t freed = cudaFree(pointers_[slot]);
    pointers_[slot] = nullptr;
    sizes_[slot] = 0;
    if (synced != cudaSuccess || freed != cudaSuccess) {
      pool_.unreserve(grown);
      SPIKESHARD_CUDA_CHECK(synced);
      SPIKESHARD_CUDA_CHECK(freed);
    }
  }
  const cudaError_t allocated = cudaMalloc(&pointers_[slot], grown);
  if (allocated != cudaSuccess) {
    pointers_[slot] = nullptr;
    pool_.unreserve(grown);
    SPIKESHARD_CUDA_CHECK(allocated);
  }
  sizes_[slot] = grown;
  return pointers_[slot];
}

std::size_t Context::bytes_in_use() const {
  std::size_t total = 0;
  for (std::size_t s : sizes_) total += s;
  return total;
}

void Context::release(bool pinned) {
  SPIKESHARD_CUDA_CHECK(cudaStreamSynchronize(stream_));
  for (int s = 0; s < kSlotCount; ++s) {
    if (pointers_[s] != nullptr) SPIKESHARD_CUDA_CHECK(cudaFree(pointers_[s]));
    pointers_[s] = nullptr;
    pool_.unreserve(sizes_[s]);
    sizes_[s] = 0;
    ++generations_[s];
  }
  for (int s = 0; pinned && s < kStageCount; ++s) {
    if (pinned_[s] != nullptr) SPIKESHARD_CUDA_CHECK(cudaFreeHost(pinned_[s]));
    pinned_[s] = nullptr;
    pinned_sizes_[s] = 0;
  }
}

void* Context::staging(Staging which, std::size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (pinned_sizes_[which] >= bytes) return pinned_[which];
  if (pinned_[which] != nullptr) {
    SPIKESHARD_CUDA_CHECK(cudaStreamSynchronize(stream_));
    SPIKESHARD_CUDA_CHECK(cudaFreeHost(pinned_[which]));
    pinned_[which] = nullptr;
    pinned_sizes_[which] = 0;
  }
  const std::size_t grown = bytes + bytes / 4;
  SPIKESHARD_CUDA_CHECK(cudaHostAlloc(&pinned_[which], grown, cudaHostAllocDefault));
  pinned_sizes_[which] = grown;
  return pinned_[which];
}

std::size_t Context::staging_bytes() const {
  std::size_t total = 0;
  for (std::size_t s : pinned_sizes_) total += s;
  return total;
}

void Context::upload_staged(void* device, const void* host, std::size_t bytes) {
  if (bytes == 0) return;
  // A DMA still reading the pinned buffer must finish before it is overwritten.
  synchronize();
  void* pinned = staging(kStageIn, bytes);
  copy_parallel(pinned, host, bytes);
  upload(device, pinned, bytes);
}

void copy_parallel(void* dst, const void* src, std::size_t bytes) {
  // Below a few MB one thread is as fast as waking the others.
  constexpr std::size_t kChunk = std::size_t{4} << 20;
  if (bytes <= kChunk) {
    if (bytes > 0) std::memcpy(dst, src, bytes);
    return;
  }
  const std::size_t chunks = (bytes + kChunk - 1) / kChunk;
  parallel_for(chunks, [&](std::size_t begin, std::size_t end) {
    const std::size_t from = begin * kChunk, to = std::min(bytes, end * kChunk);
    std::memcpy(static_cast<char*>(dst) + from, static_cast<const char*>(src) + from, to - from);
  });
}

void StagedDownloads::add(void* host, const void* device, std::size_t bytes) {
  if (bytes == 0) return;
  total_ = (total_ + 255) / 256 * 256;
  pieces_.push_back({host, device, bytes, total_});
  total_ += bytes;
}

void StagedDownloads::queue() {
  if (pieces_.empty()) return;
  pinned_ = static_cast<char*>(ctx_.staging(kStageOut, total_));
  for (const Piece& p : pieces_) ctx_.download(pinned_ + p.offset, p.device, p.bytes);
}

void StagedDownloads::finish() {
  ctx_.synchronize();
  for (const Piece& p : pieces_) copy_parallel(p.host, pinned_ + p.offset, p.bytes);
  pieces_.clear();
  total_ = 0;
}

void Context::upload(void* device, const void* host, std::size_t bytes) {
  SPIKESHARD_CUDA_CHECK(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream_));
}

void Context::download(void* host, const void* device, std::size_t bytes) {
  SPIKESHARD_CUDA_CHECK(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream_));
}

void Context::synchronize() { SPIKESHARD_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

}  // namespace detail

DeviceInfo describe_device() {
  DeviceInfo info;
  cudaRuntimeGetVersion(&info.runtime_version);
  cudaDriverGetVersion(&info.driver_version);
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    info.reason = std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
    if (status == cudaErrorInsufficientDriver && info.driver_version == 0) {
      info.reason += " (no NVIDIA driver found on this machine)";
    } else if (status == cudaErrorInsufficientDriver) {
      info.reason += " (driver supports CUDA " + std::to_string(info.driver_version / 1000) + "." +
                     std::to_string(info.driver_version % 1000 / 10) + ", this build needs " +
                     std::to_string(info.runtime_version / 1000) + "." +
                     std::to_string(info.runtime_version % 1000 / 10) + ")";
    }
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return info;
  }
  info.device_count = count;
  if (count == 0) {
    info.reason = "no CUDA device";
    return info;
  }
  cudaDeviceProp prop{};
  const cudaError_t prop_status = cudaGetDeviceProperties(&prop, 0);
  if (prop_status != cudaSuccess) {
    info.reason = std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(prop_status);
    return info;
  }
  info.name = prop.name;
  info.total_memory_bytes = prop.totalGlobalMem;
  info.compute_major = prop.major;
  info.compute_minor = prop.minor;
  info.multiprocessors = prop.multiProcessorCount;
  if (prop.major < 8) {
    info.reason = "compute capability " + std::to_string(prop.major) + "." + std::to_string(prop.minor) +
                  " is below 8.0 (this build has code for sm_80, sm_90 and compute_90 PTX)";
    return info;
  }
  std::size_t free_bytes = 0, total_bytes = 0;
  if (cudaSetDevice(0) == cudaSuccess && cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
    info.free_memory_bytes = free_bytes;
  } else {
    cudaGetLastError();
  }
  info.available = true;
  return info;
}

std::size_t device_bytes_in_use() {
  detail::ContextPool& pool = detail::ContextPool::get();
  std::size_t total = 0;
  for (std::size_t i = 0; i < pool.size(); ++i) total += detail::ContextLease(i)->bytes_in_use();
  return total;
}

void release_device_memory() {
  detail::ContextPool& pool = detail::ContextPool::get();
  for (std::size_t i = 0; i < pool.size(); ++i) detail::ContextLease(i)->release();
  detail::StagedInput::release_idle();
}

}  // namespace spikeshard::cuda

// SPDX-License-Identifier: GPL-3.0-or-later
// The task pool (spikeshard/task_pool.h).
#include "spikeshard/task_pool.h"

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "spikeshard/threads.h"

namespace spikeshard {

namespace {

class TaskPool {
 public:
  TaskPool() = default;
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  // Process exit: queued tasks are dropped, running ones finish.
  ~TaskPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void submit(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // Threads are started as the width grows and kept when it shrinks: those whose index is
      // past the width take no task.
      width_ = static_cast<std::size_t>(default_threads());
      while (threads_.size() < width_) threads_.emplace_back(&TaskPool::work, this, threads_.size());
      queue_.push_back(std::move(task));
    }
    // Every thread: one woken past the width would go back to sleep and leave the task waiting.
    wake_.notify_all();
  }

 private:
  void work(std::size_t index) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || (index < width_ && !queue_.empty()); });
      if (stopping_) return;
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      try {
        task();
      } catch (...) {
        // Documented: tasks report their own failures; nothing can be done with one here.
      }
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  std::size_t width_ = 0;
  bool stopping_ = false;
};

TaskPool& pool() {
  static TaskPool instance;
  return instance;
}

}  // namespace

void submit_task(std::function<void()> task) { pool().submit(std::move(task)); }

int task_pool_threads() { return default_threads(); }

}  // namespace spikeshard

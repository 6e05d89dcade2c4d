// SPDX-License-Identifier: GPL-3.0-or-later
#include "spikeshard/threads.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace spikeshard {

namespace {
std::atomic<int> g_default_threads{0};
}

int default_threads() {
  int n = g_default_threads.load();
  if (n > 0) return n;
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

void set_default_threads(int n) { g_default_threads.store(std::max(0, n)); }

void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t)>& body, int threads) {
  if (n == 0) return;
  std::size_t t = static_cast<std::size_t>(threads > 0 ? threads : default_threads());
  t = std::min(t, n);
  if (t <= 1) {
    body(0, n);
    return;
  }
  std::vector<std::thread> pool;
  std::exception_ptr first_error;
  std::mutex error_mutex;
  pool.reserve(t - 1);
  auto run = [&](std::size_t i) {
    std::size_t begin = n * i / t;
    std::size_t end = n * (i + 1) / t;
    try {
      body(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
    }
  };
  for (std::size_t i = 1; i < t; ++i) pool.emplace_back(run, i);
  run(0);
  for (auto& th : pool) th.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace spikeshard

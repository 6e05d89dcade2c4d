// SPDX-License-Identifier: GPL-3.0-or-later
#include "spikeshard/task_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "check.h"
#include "spikeshard/threads.h"

namespace spikeshard::test {

namespace {

// Runs n tasks on the pool, each sleeping a little, and returns the most that ran at once.
int run_tasks(int n, std::vector<int>& hits) {
  std::mutex m;
  std::condition_variable done;
  int finished = 0;
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  for (int i = 0; i < n; ++i) {
    submit_task([&, i] {
      const int now = ++running;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      hits[static_cast<std::size_t>(i)] += 1;
      --running;
      std::lock_guard<std::mutex> lock(m);
      if (++finished == n) done.notify_one();
    });
  }
  std::unique_lock<std::mutex> lock(m);
  done.wait(lock, [&] { return finished == n; });
  return most.load();
}

}  // namespace

TEST(task_pool_runs_every_task_once_and_at_most_the_thread_count_at_once) {
  for (int threads : {3, 1, 4}) {
    set_default_threads(threads);
    CHECK(task_pool_threads() == threads);
    std::vector<int> hits(40, 0);
    const int most = run_tasks(40, hits);
    for (int h : hits) CHECK(h == 1);
    CHECK(most >= 1);
    CHECK(most <= threads);
    // Sleeping tasks overlap whenever more than one thread may run them (2 cores or not).
    if (threads > 1) CHECK(most > 1);
  }
  set_default_threads(0);
}

TEST(task_pool_survives_a_throwing_task) {
  std::mutex m;
  std::condition_variable done;
  bool ran = false;
  submit_task([] { throw std::runtime_error("ignored"); });
  submit_task([&] {
    std::lock_guard<std::mutex> lock(m);
    ran = true;
    done.notify_one();
  });
  std::unique_lock<std::mutex> lock(m);
  done.wait(lock, [&] { return ran; });
  CHECK(ran);
}

}  // namespace spikeshard::test

// SPDX-License-Identifier: GPL-3.0-or-later
#include <atomic>
#include <stdexcept>
#include <vector>

#include "check.h"
#include "spikeshard/threads.h"

using spikeshard::parallel_for;

TEST(parallel_for_covers_every_index_once) {
  for (int threads : {1, 2, 3, 7}) {
    std::vector<int> hits(1001, 0);
    parallel_for(hits.size(), [&](std::size_t b, std::size_t e) {
      for (std::size_t i = b; i < e; ++i) hits[i] += 1;
    }, threads);
    for (int h : hits) CHECK(h == 1);
  }
}

TEST(parallel_for_rethrows_worker_exceptions) {
  bool caught = false;
  try {
    parallel_for(100, [](std::size_t b, std::size_t) {
      if (b > 0) throw std::runtime_error("boom");
    }, 4);
  } catch (const std::runtime_error&) {
    caught = true;
  }
  CHECK(caught);
}

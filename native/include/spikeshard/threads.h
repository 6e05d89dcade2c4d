// SPDX-License-Identifier: GPL-3.0-or-later
// A fixed-partition parallel loop. Work is split into contiguous, deterministic ranges so that
// results never depend on the number of threads (each range writes disjoint outputs).
#ifndef SPIKESHARD_THREADS_H_
#define SPIKESHARD_THREADS_H_

#include <cstddef>
#include <functional>

namespace spikeshard {

// Threads used by parallel_for when the caller passes 0: hardware concurrency, or the value
// set by set_default_threads (the worker's --threads).
int default_threads();
void set_default_threads(int n);

// Calls body(begin, end) on disjoint ranges covering [0, n). Blocks until all are done.
// Exceptions thrown by a body are rethrown on the calling thread (the first one wins).
void parallel_for(std::size_t n, const std::function<void(std::size_t, std::size_t)>& body, int threads = 0);

}  // namespace spikeshard

#endif  // SPIKESHARD_THREADS_H_

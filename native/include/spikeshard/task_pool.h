// SPDX-License-Identifier: GPL-3.0-or-later
// Long-lived threads for independent tasks queued one at a time (an mtscomp chunk to decode or to
// compress): unlike parallel_for the caller does not wait, each task reports its own completion.
// The addons queue work here rather than on libuv's pool, whose size (4 threads unless
// UV_THREADPOOL_SIZE is set before Node starts) is not the machine's.
#ifndef SPIKESHARD_TASK_POOL_H_
#define SPIKESHARD_TASK_POOL_H_

#include <functional>

namespace spikeshard {

// Queues task to run on the pool, which runs up to default_threads() tasks at once (read at each
// call, so set_default_threads applies to the tasks queued after it); tasks start in queue order.
// A task must not throw: an exception escaping it is swallowed.
void submit_task(std::function<void()> task);

// Tasks the pool runs at once from the next submit_task on: default_threads().
int task_pool_threads();

}  // namespace spikeshard

#endif  // SPIKESHARD_TASK_POOL_H_

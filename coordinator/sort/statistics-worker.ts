// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * A worker thread of StatisticsThreads (statistics-threads.ts): reads and reduces the channel
 * statistics of each window it is sent, with its own engine; the result's arrays are moved back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BatchEngine } from '../../native/lib/index.js';
import type { StatisticsReply, StatisticsTask } from './statistics-threads.js';

const port = parentPort;
if (port === null) throw new Error('statistics-worker.js runs as a worker thread of StatisticsThreads');
// The same thread count as the calling engine's (the native default is shared by the process).
// Statistics windows are scattered: chunks of a .cbin decoded ahead of one would never be read, and
// each worker's reader held up to 18 of them (~0.4 GB at 384 channels; a 60-s .cbin sort peaked at
// 3.0 GB against 1.2 GB from its .bin on the H100 machine). For the same reason no chunk is kept for
// a later window (the cache's default is 128 MiB per reader, four workers).
const engine = new BatchEngine({
  threads: (workerData as { threads: number }).threads,
  cbinPrefetchChunks: 0,
  cbinCacheBytes: 0,
});
port.on('message', (task: StatisticsTask) => {
  engine.statistics({ work: task.work, window: task.window }).then(
    (result) => {
      const reply: StatisticsReply = { id: task.id, result };
      port.postMessage(reply, [result.labels.buffer as ArrayBuffer, result.covariance.buffer as ArrayBuffer]);
    },
    (error: unknown) => port.postMessage({ id: task.id, error: String(error) } satisfies StatisticsReply),
  );
});

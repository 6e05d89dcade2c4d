// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * A worker thread of splitClusters (splits.ts): finds the splits of each cluster it is sent and
 * answers with their tree; the cluster's arrays are moved in and the tree's moved back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { movable, splitTree, type SplitContext, type SplitReplyMessage, type SplitTaskMessage } from './splits.js';

const ctx = workerData as SplitContext;
const port = parentPort;
if (port === null) throw new Error('split-worker.js runs as a worker thread of splitClusters');
port.on('message', (task: SplitTaskMessage) => {
  let reply: SplitReplyMessage;
  try {
    const t0 = performance.now();
    const tree = splitTree(ctx, task);
    reply = { cluster: task.cluster, tree, seconds: (performance.now() - t0) / 1000 };
  } catch (error) {
    port.postMessage({ cluster: task.cluster, error } satisfies SplitReplyMessage);
    return;
  }
  port.postMessage(reply, movable(reply.tree.node, reply.tree.parent, reply.tree.reference));
});

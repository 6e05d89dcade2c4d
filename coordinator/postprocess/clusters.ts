// SPDX-License-Identifier: GPL-3.0-or-later
/** Spike indices grouped by cluster id, each group in ascending spike order (= time order). */
export function groupByCluster(clusters: ArrayLike<number>, nClusters: number): Int32Array[] {
  const counts = new Int32Array(nClusters);
  for (let i = 0; i < clusters.length; i++) {
    const c = clusters[i]!;
    if (c >= nClusters)
      throw new RangeError(`cluster id ${c} at spike ${i} is not below the cluster count ${nClusters}`);
    counts[c]! += 1;
  }
  const groups = Array.from({ length: nClusters }, (_, c) => new Int32Array(counts[c]!));
  const fill = new Int32Array(nClusters);
  for (let i = 0; i < clusters.length; i++) {
    const c = clusters[i]!;
    groups[c]![fill[c]!++] = i;
  }
  return groups;
}

/** The values of `samples` at `indices`. */
export function pick(samples: Float64Array, indices: Int32Array): Float64Array {
  const out = new Float64Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = samples[indices[i]!]!;
  return out;
}

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Template merges (Kilosort 2.5 find_merges, ks25-algorithm.md §5.2): clusters are visited from
 * the smallest; each may join the most similar larger cluster whose cross-correlogram shows a
 * refractory dip, i.e. whose spikes never fire within a millisecond of its own: one neuron.
 */
import { ccgMetrics } from './ccg.js';
import { groupByCluster, pick } from './clusters.js';

export interface MergeOptions {
  sampleRateHz: number;
  /** Template similarity at or above which a pair is a candidate. */
  similarityThreshold: number;
  /** Cross-correlogram contamination below which a pair merges. @default 0.2 */
  maxContamination: number;
  /** Significance of the dip. @default 0.05 */
  maxPValue: number;
}

export interface MergeResult {
  /** New cluster id of every spike. */
  clusters: Uint32Array;
  /** Merges in the order they were made. */
  merges: Array<{ from: number; into: number }>;
}

/**
 * @param samples spike times (samples), ascending
 * @param clusters cluster id per spike
 * @param similarity (n × n) template similarity, row-major
 */
export function findMerges(
  samples: Float64Array,
  clusters: Uint32Array,
  nClusters: number,
  similarity: Float32Array,
  options: MergeOptions,
): MergeResult {
  if (similarity.length !== nClusters * nClusters) {
    throw new RangeError(`similarity has ${similarity.length} values, expected ${nClusters}×${nClusters}`);
  }
  const groups = groupByCluster(clusters, nClusters);
  const trains = groups.map((g) => pick(samples, g));
  const counts = groups.map((g) => g.length);
  const owner = Array.from({ length: nClusters }, (_, c) => c);
  const order = owner.slice().sort((a, b) => counts[a]! - counts[b]! || a - b);
  const merges: Array<{ from: number; into: number }> = [];
  for (const a of order) {
    if (counts[a] === 0) continue;
    const candidates: number[] = [];
    for (let b = 0; b < nClusters; b++) {
      if (b !== a && counts[b]! > counts[a]! && similarity[a * nClusters + b]! >= options.similarityThreshold)
        candidates.push(b);
    }
    candidates.sort((x, y) => similarity[a * nClusters + y]! - similarity[a * nClusters + x]! || x - y);
    for (const b of candidates) {
      const m = ccgMetrics(trains[a]!, trains[b]!, options.sampleRateHz, false);
      if (m.contamination < options.maxContamination && m.pValue < options.maxPValue) {
        trains[b] = mergeSorted(trains[b]!, trains[a]!);
        trains[a] = new Float64Array(0);
        counts[b]! += counts[a]!;
        counts[a] = 0;
        owner[a] = b;
        merges.push({ from: a, into: b });
        break;
      }
    }
  }
  const root = (c: number): number => {
    while (owner[c] !== c) c = owner[c]!;
    return c;
  };
  const out = new Uint32Array(clusters.length);
  for (let i = 0; i < clusters.length; i++) out[i] = root(clusters[i]!);
  return { clusters: out, merges };
}

function mergeSorted(x: Float64Array, y: Float64Array): Float64Array {
  const out = new Float64Array(x.length + y.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < x.length && j < y.length) out[k++] = x[i]! <= y[j]! ? x[i++]! : y[j++]!;
  while (i < x.length) out[k++] = x[i++]!;
  while (j < y.length) out[k++] = y[j++]!;
  return out;
}

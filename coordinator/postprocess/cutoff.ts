// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Per-cluster score cut-off and good/mua labels (Kilosort 2.5 set_cutoff, ks25-algorithm.md §5.4):
 * lower the score threshold in steps while the auto-correlogram keeps a clean refractory period;
 * spikes below the last clean threshold are dropped, and a cluster clean at the first threshold
 * is "good".
 */
import { ccgMetrics } from './ccg.js';
import { groupByCluster } from './clusters.js';

export interface CutoffOptions {
  sampleRateHz: number;
  /** First (highest) threshold, score units. */
  startThreshold: number;
  /** Lowest threshold tried. */
  endThreshold: number;
  /** @default 0.5 */
  step: number;
  /** Contamination tolerated; tightened after a very clean first step. */
  tolerance: number;
  /** @default 0.05 */
  maxPValue: number;
}

export interface CutoffResult {
  /** 1 for spikes kept. */
  keep: Uint8Array;
  /** Final threshold per cluster (spikes with score ≤ it are dropped). */
  thresholds: Float64Array;
  good: boolean[];
  /** Contamination of the kept spikes (1 when undefined). */
  contamination: Float64Array;
}

export function amplitudeCutoff(
  samples: Float64Array,
  clusters: Uint32Array,
  scores: ArrayLike<number>,
  nClusters: number,
  options: CutoffOptions,
): CutoffResult {
  const groups = groupByCluster(clusters, nClusters);
  const keep = new Uint8Array(samples.length);
  const thresholds = new Float64Array(nClusters);
  const contamination = new Float64Array(nClusters);
  const good: boolean[] = [];
  const trainAbove = (g: Int32Array, th: number): Float64Array => {
    const out: number[] = [];
    for (const i of g) if (scores[i]! > th) out.push(samples[i]!);
    return Float64Array.from(out);
  };
  for (let c = 0; c < nClusters; c++) {
    const g = groups[c]!;
    let th = options.startThreshold;
    let tolerance = options.tolerance;
    let passed = false;
    let firstStep = true;
    while (th >= options.endThreshold - 1e-9) {
      const train = trainAbove(g, th);
      if (train.length === 0) {
        th -= options.step;
        continue;
      }
      const m = ccgMetrics(train, train, options.sampleRateHz, true);
      if (m.contamination > tolerance || m.pValue > options.maxPValue) break;
      passed = true;
      if (firstStep && m.contamination < 0.05) tolerance = Math.min(0.05, Math.max(0.01, 2 * m.contamination));
      firstStep = false;
      th -= options.step;
    }
    th += options.step;
    thresholds[c] = th;
    good.push(passed);
    const kept = trainAbove(g, th);
    const m = kept.length > 0 ? ccgMetrics(kept, kept, options.sampleRateHz, true) : null;
    contamination[c] = m === null || !Number.isFinite(m.contamination) ? 1 : Math.min(1, m.contamination);
    for (const i of g) if (scores[i]! > th) keep[i] = 1;
  }
  return { keep, thresholds, good, contamination };
}

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Per-cluster score cut-off and good/mua labels (Kilosort 2.5 set_cutoff, ks25-algorithm.md §5.4):
 * lower the score threshold in steps while the auto-correlogram keeps a clean refractory period;
 * spikes below the last clean threshold are dropped, and a cluster clean at the first threshold
 * is "good" — unless its amplitude distribution shows that it is cut by the detection threshold
 * (missing-fraction.ts): then its clean correlogram comes from the matching pursuit's lockout, not
 * from one neuron, and it stays "mua".
 */
import { ccgMetrics } from './ccg.js';
import { groupByCluster } from './clusters.js';
import { missingFraction } from './missing-fraction.js';

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
  /** A cluster whose kept spikes miss more than this fraction below threshold is not good (needs amplitudes). */
  maxMissingFraction?: number;
}

export interface CutoffResult {
  /** 1 for spikes kept. */
  keep: Uint8Array;
  /** Final threshold per cluster (spikes with score ≤ it are dropped). */
  thresholds: Float64Array;
  good: boolean[];
  /** Contamination of the kept spikes (1 when undefined). */
  contamination: Float64Array;
  /** Estimated fraction of each cluster below threshold, from its kept spikes' amplitudes (NaN without amplitudes). */
  missing: Float64Array;
}

export function amplitudeCutoff(
  samples: Float64Array,
  clusters: Uint32Array,
  scores: ArrayLike<number>,
  nClusters: number,
  options: CutoffOptions,
  amplitudes: ArrayLike<number> | null = null,
): CutoffResult {
  if (options.maxMissingFraction !== undefined && amplitudes === null) {
    throw new RangeError('amplitudeCutoff: maxMissingFraction needs the spike amplitudes, got none');
  }
  if (amplitudes !== null && amplitudes.length !== samples.length) {
    throw new RangeError(`amplitudeCutoff: ${amplitudes.length} amplitudes for ${samples.length} spikes`);
  }
  const groups = groupByCluster(clusters, nClusters);
  const keep = new Uint8Array(samples.length);
  const thresholds = new Float64Array(nClusters);
  const contamination = new Float64Array(nClusters);
  const missing = new Float64Array(nClusters).fill(NaN);
  const good: boolean[] = [];
  // Each cluster's times and scores are gathered once; every threshold's train is then a pass
  // over them (typed arrays, no per-spike allocation).
  const trainAbove = (times: Float64Array, clusterScores: Float64Array, th: number): Float64Array => {
    let n = 0;
    for (let k = 0; k < clusterScores.length; k++) if (clusterScores[k]! > th) n++;
    if (n === times.length) return times;
    const out = new Float64Array(n);
    for (let k = 0, at = 0; k < clusterScores.length; k++) if (clusterScores[k]! > th) out[at++] = times[k]!;
    return out;
  };
  for (let c = 0; c < nClusters; c++) {
    const g = groups[c]!;
    const times = new Float64Array(g.length);
    const clusterScores = new Float64Array(g.length);
    for (let k = 0; k < g.length; k++) {
      times[k] = samples[g[k]!]!;
      clusterScores[k] = scores[g[k]!]!;
    }
    let th = options.startThreshold;
    let tolerance = options.tolerance;
    let passed = false;
    let firstStep = true;
    while (th >= options.endThreshold - 1e-9) {
      const train = trainAbove(times, clusterScores, th);
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
    const kept = trainAbove(times, clusterScores, th);
    const m = kept.length > 0 ? ccgMetrics(kept, kept, options.sampleRateHz, true) : null;
    contamination[c] = m === null || !Number.isFinite(m.contamination) ? 1 : Math.min(1, m.contamination);
    const keptAmplitudes = new Float64Array(kept.length);
    for (let k = 0, at = 0; k < g.length; k++) {
      if (clusterScores[k]! > th) {
        keep[g[k]!] = 1;
        if (amplitudes !== null) keptAmplitudes[at++] = amplitudes[g[k]!]!;
      }
    }
    if (amplitudes !== null) missing[c] = missingFraction(keptAmplitudes);
    const truncated = options.maxMissingFraction !== undefined && missing[c]! > options.maxMissingFraction;
    good.push(passed && !truncated);
  }
  return { keep, thresholds, good, contamination, missing };
}

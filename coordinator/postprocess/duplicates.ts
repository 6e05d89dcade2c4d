// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Events reported twice. Matching pursuit subtracts each spike it finds and searches the residual
 * again; when two templates describe one neuron (two drift positions that triage kept apart) or
 * a template fits the residual a spike leaves behind, the same event is reported a second time,
 * a few samples off, by the other template. The merge step cannot join such a pair: their
 * cross-correlogram has a peak at zero lag, not a refractory dip. Left alone, the second cluster
 * holds a copy of a neuron's spikes (`compare --explain`: fragment or double detection) and is
 * often labelled good.
 *
 * A pair of clusters is a duplicate pair when most of one cluster's spikes have a spike of the
 * other within a fraction of a millisecond, far above chance for independent neurons. Within the
 * pair, at each coincidence the spike with the higher matching score is the one matching pursuit
 * found first; the cluster that loses most of these comparisons is the copy, and its coinciding
 * spikes are dropped. Its other spikes stay.
 */
import { groupByCluster } from './clusters.js';

export interface DuplicateOptions {
  /** Largest |Δt| of two reports of one event, samples. */
  maxLagSamples: number;
  /** Share of a cluster's spikes that must coincide with another cluster's to make a duplicate pair. */
  minFraction: number;
}

export interface DuplicateResult {
  /** 1 for spikes kept, 0 for dropped second reports. */
  keep: Uint8Array;
  /** Each duplicate pair: the copy, the cluster it copies, and the spikes dropped from the copy. */
  pairs: Array<{ copy: number; original: number; dropped: number }>;
}

/**
 * @param samples spike times (samples), ascending
 * @param clusters cluster id per spike
 * @param scores matching score per spike (larger = found first)
 */
export function removeDuplicates(
  samples: Float64Array,
  clusters: ArrayLike<number>,
  scores: ArrayLike<number>,
  nClusters: number,
  options: DuplicateOptions,
): DuplicateResult {
  const n = samples.length;
  if (clusters.length !== n || scores.length !== n) {
    throw new RangeError(`removeDuplicates: ${n} samples, ${clusters.length} cluster ids, ${scores.length} scores`);
  }
  const d = options.maxLagSamples;
  const groups = groupByCluster(Uint32Array.from(clusters), nClusters);
  const counts = groups.map((g) => g.length);
  // Per ordered pair (a, b): spikes of a with a spike of b within ±d. A dense table while it is
  // small (the usual case: a few hundred clusters), a map beyond.
  const dense = nClusters * nClusters <= 1 << 24 ? new Int32Array(nClusters * nClusters) : null;
  const sparse = dense === null ? new Map<number, number>() : null;
  const key = (a: number, b: number): number => a * nClusters + b;
  const lastSpikeOf = new Int32Array(nClusters).fill(-1);
  let lo = 0;
  for (let i = 0; i < n; i++) {
    const t = samples[i]!;
    const a = clusters[i]!;
    while (samples[lo]! < t - d) lo++;
    for (let j = lo; j < n && samples[j]! <= t + d; j++) {
      const b = clusters[j]!;
      if (b === a || lastSpikeOf[b] === i) continue;
      lastSpikeOf[b] = i;
      if (dense !== null) dense[key(a, b)]!++;
      else sparse!.set(key(a, b), (sparse!.get(key(a, b)) ?? 0) + 1);
    }
  }
  const candidates: Array<{ a: number; b: number; fraction: number }> = [];
  const consider = (k: number, c: number): void => {
    const a = Math.floor(k / nClusters);
    const b = k % nClusters;
    const fraction = c / counts[a]!;
    if (fraction >= options.minFraction) candidates.push({ a, b, fraction });
  };
  if (dense !== null) {
    for (let k = 0; k < dense.length; k++) if (dense[k]! > 0) consider(k, dense[k]!);
  } else {
    for (const [k, c] of sparse!) consider(k, c);
  }
  // Most systematic pairs first; each unordered pair once (the order is total: a and b break ties).
  candidates.sort((x, y) => y.fraction - x.fraction || x.a - y.a || x.b - y.b);
  const keep = new Uint8Array(n).fill(1);
  const done = new Set<number>();
  const pairs: DuplicateResult['pairs'] = [];
  for (const { a, b } of candidates) {
    const pairKey = key(Math.min(a, b), Math.max(a, b));
    if (done.has(pairKey)) continue;
    done.add(pairKey);
    // Coincidences of kept spikes of a and b: which side scores higher at each. Both groups are
    // in spike (= time) order, so b's candidates of each spike of a are a window that only moves on.
    const ga = groups[a]!;
    const gb = groups[b]!;
    const matches: Array<[number, number]> = [];
    let winsA = 0;
    let from = 0;
    for (const i of ga) {
      if (!keep[i]) continue;
      const t = samples[i]!;
      while (from < gb.length && samples[gb[from]!]! < t - d) from++;
      let best = -1;
      for (let m = from; m < gb.length && samples[gb[m]!]! <= t + d; m++) {
        const j = gb[m]!;
        if (!keep[j]) continue;
        if (best < 0 || Math.abs(samples[j]! - t) < Math.abs(samples[best]! - t)) best = j;
      }
      if (best < 0) continue;
      matches.push([i, best]);
      if (scores[i]! > scores[best]! || (scores[i] === scores[best] && i < best)) winsA++;
    }
    if (matches.length < options.minFraction * Math.min(counts[a]!, counts[b]!)) continue;
    const copyIsA = winsA * 2 < matches.length || (winsA * 2 === matches.length && counts[a]! < counts[b]!);
    let dropped = 0;
    for (const [i, j] of matches) {
      const s = copyIsA ? i : j;
      if (keep[s]) {
        keep[s] = 0;
        dropped++;
      }
    }
    pairs.push({ copy: copyIsA ? a : b, original: copyIsA ? b : a, dropped });
  }
  return { keep, pairs };
}

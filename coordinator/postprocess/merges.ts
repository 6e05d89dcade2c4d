// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Template merges (Kilosort 2.5 find_merges, ks25-algorithm.md §5.2): clusters are visited from
 * the smallest; each may join the most similar larger cluster whose cross-correlogram shows a
 * refractory dip, i.e. whose spikes never fire within a millisecond of its own: one neuron.
 *
 * A dip alone is weak evidence when the pair is small (a few expected coincidences) and matching
 * pursuit itself rarely reports two similar templates within a millisecond, so distinct neurons
 * were merged often. When template features are given, a pair must also look like one
 * population: the spikes of both, projected on the difference of the two templates, must not
 * form two modes (the check Kilosort 4 added to its merges).
 */
import type { SpikeFeatures } from '../formats/spike-features.js';
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
  /** Pairs whose projections are more bimodal than this (0 = one mode … 1 = empty gap) stay apart. @default 0.5 */
  maxBimodality?: number;
}

/** Per-spike projections on similar templates (the extraction's template features). */
export interface MergeFeatures {
  /**
   * (S, nSimilar) projection of each spike's waveform on template similar[t_s][k]: the 'template'
   * rows of the source (a pair's rows are gathered when it is checked, never the whole array).
   */
  source: SpikeFeatures;
  /** (T × nSimilar) the similar templates of each template. */
  similar: Int32Array;
  nSimilar: number;
  /** (S,) template that found each spike. */
  spikeTemplates: ArrayLike<number>;
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
  features: MergeFeatures | null = null,
): MergeResult {
  if (similarity.length !== nClusters * nClusters) {
    throw new RangeError(`similarity has ${similarity.length} values, expected ${nClusters}×${nClusters}`);
  }
  if (features !== null) {
    const nSpikes = features.source.nSpikes;
    const width = features.source.width('template');
    if (nSpikes !== clusters.length || (nSpikes > 0 && width !== features.nSimilar)) {
      throw new RangeError(
        `template features of ${nSpikes} spikes × ${width} values, expected ${clusters.length} × nSimilar = ${features.nSimilar}`,
      );
    }
  }
  const groups = groupByCluster(clusters, nClusters);
  // Each cluster's spikes, ascending (the order feature rows are gathered in).
  const members: Int32Array[] = groups;
  const trains = groups.map((g) => pick(samples, g));
  const maxBimodality = options.maxBimodality ?? 0.5;
  const counts = groups.map((g) => g.length);
  const owner = Array.from({ length: nClusters }, (_, c) => c);
  const order = owner.slice().sort((a, b) => counts[a]! - counts[b]! || a - b);
  const merges: Array<{ from: number; into: number }> = [];
  for (const a of order) {
    if (counts[a] === 0) continue;
    // a's rows, gathered at its first feature check and reused for its other candidates.
    let sideA: ClusterRows | null = null;
    const candidates: number[] = [];
    for (let b = 0; b < nClusters; b++) {
      if (b !== a && counts[b]! > counts[a]! && similarity[a * nClusters + b]! >= options.similarityThreshold)
        candidates.push(b);
    }
    candidates.sort((x, y) => similarity[a * nClusters + y]! - similarity[a * nClusters + x]! || x - y);
    for (const b of candidates) {
      const m = ccgMetrics(trains[a]!, trains[b]!, options.sampleRateHz, false);
      if (m.contamination < options.maxContamination && m.pValue < options.maxPValue) {
        if (features !== null) {
          sideA ??= clusterRows(features, members[a]!);
          const d = differenceProjections(features, sideA, clusterRows(features, members[b]!), a, b);
          const bm = d === null ? -1 : bimodality(d.values, d.fromA);
          if (d !== null && bm > maxBimodality) continue;
        }
        members[b] = mergeSorted(members[b]!, members[a]!);
        members[a] = new Int32Array(0);
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

function mergeSorted<T extends Float64Array | Int32Array>(x: T, y: T): T {
  const out = new (x.constructor as new (n: number) => T)(x.length + y.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < x.length && j < y.length) out[k++] = x[i]! <= y[j]! ? x[i++]! : y[j++]!;
  while (i < x.length) out[k++] = x[i++]!;
  while (j < y.length) out[k++] = y[j++]!;
  return out;
}

/** A cluster's spikes (ascending) and their template-feature rows, packed in that order. */
export interface ClusterRows {
  spikes: Int32Array;
  rows: Float32Array;
}

/** The template-feature rows of `spikes` (ascending). */
export function clusterRows(f: MergeFeatures, spikes: Int32Array): ClusterRows {
  return { spikes, rows: f.source.gather('template', spikes) };
}

/**
 * Projection of every spike of clusters a and b on T_a − T_b (unnormalised), from the template
 * features; spikes whose template lacks a or b among its similar templates are skipped. Null
 * when either side keeps fewer than 20 spikes: too few to see two modes.
 */
export function differenceProjections(
  f: MergeFeatures,
  sideA: ClusterRows,
  sideB: ClusterRows,
  a: number,
  b: number,
): { values: Float64Array; fromA: Uint8Array } | null {
  const values: number[] = [];
  const fromA: number[] = [];
  let nA = 0;
  let nB = 0;
  for (const [side, isA] of [
    [sideA, 1],
    [sideB, 0],
  ] as const) {
    for (let row = 0; row < side.spikes.length; row++) {
      const t = f.spikeTemplates[side.spikes[row]!]!;
      let ia = -1;
      let ib = -1;
      for (let k = 0; k < f.nSimilar; k++) {
        const n = f.similar[t * f.nSimilar + k]!;
        if (n === a && ia < 0) ia = k;
        if (n === b && ib < 0) ib = k;
      }
      if (ia < 0 || ib < 0) continue;
      values.push(side.rows[row * f.nSimilar + ia]! - side.rows[row * f.nSimilar + ib]!);
      fromA.push(isA);
      if (isA) nA++;
      else nB++;
    }
  }
  if (nA < 20 || nB < 20) return null;
  return { values: Float64Array.from(values), fromA: Uint8Array.from(fromA) };
}

/**
 * How clearly a 1-D sample has two modes, one around each group's median: 1 − (lowest smoothed
 * histogram count between the medians) / (the smaller of the highest counts on either side of
 * it). 0 when the medians share a bin (one mode), near 1 for an empty gap.
 */
export function bimodality(values: Float64Array, fromA: Uint8Array): number {
  const n = values.length;
  const sorted = Float64Array.from(values).sort();
  const lo = sorted[Math.floor(0.01 * (n - 1))]!;
  const hi = sorted[Math.ceil(0.99 * (n - 1))]!;
  if (!(hi > lo)) return 0;
  const nBins = Math.max(10, Math.min(40, Math.round(Math.sqrt(n))));
  const width = (hi - lo) / nBins;
  const raw = new Float64Array(nBins);
  const binOf = (v: number): number => Math.min(nBins - 1, Math.max(0, Math.floor((v - lo) / width)));
  for (const v of values) if (v >= lo && v <= hi) raw[binOf(v)]! += 1;
  const h = new Float64Array(nBins);
  for (let i = 0; i < nBins; i++) h[i] = (2 * raw[i]! + (raw[i - 1] ?? raw[i]!) + (raw[i + 1] ?? raw[i]!)) / 4;
  const median = (wantA: number): number => {
    let count = 0;
    for (let i = 0; i < n; i++) if (fromA[i] === wantA) count++;
    const v = new Float64Array(count);
    let nan = false;
    for (let i = 0, at = 0; i < n; i++) {
      if (fromA[i] !== wantA) continue;
      v[at++] = values[i]!;
      nan ||= Number.isNaN(values[i]!);
    }
    // A typed sort orders numbers as the comparator x − y does (±0 alike in what follows); with a
    // NaN that comparator's order is the engine's, so that case keeps it.
    if (nan) return Array.from(v).sort((x, y) => x - y)[Math.floor((count - 1) / 2)]!;
    return v.sort()[Math.floor((count - 1) / 2)]!;
  };
  let i0 = binOf(median(0));
  let i1 = binOf(median(1));
  if (i0 > i1) [i0, i1] = [i1, i0];
  if (i1 - i0 < 2) return 0;
  let dip = i0;
  for (let i = i0; i <= i1; i++) if (h[i]! < h[dip]!) dip = i;
  let left = 0;
  let right = 0;
  for (let i = 0; i <= dip; i++) left = Math.max(left, h[i]!);
  for (let i = dip; i < nBins; i++) right = Math.max(right, h[i]!);
  const peak = Math.min(left, right);
  return peak > 0 ? 1 - h[dip]! / peak : 0;
}

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Cluster splits by "bimodal pursuit" (Kilosort 2.5 splitAllClusters, ks25-algorithm.md §5.3):
 * find the direction in PC-feature space along which a cluster's spikes are most bimodal, fit two
 * Gaussians along it, and split when both halves are confidently separated, are not one neuron
 * (no refractory dip between them) and do not look alike. Two deliberate differences from the
 * reference: the slow-drift detrend is not circular, and each half keeps its own mean waveform
 * (Kilosort crosses them; §11 item 10).
 */
import type { SpikeFeatures } from '../formats/spike-features.js';
import { projectRows, runningMeanRows, solveLinearSystem, weightedGram } from '../../native/lib/index.js';
import { ccgMetrics } from './ccg.js';
import { groupByCluster, pick } from './clusters.js';

export interface SplitOptions {
  sampleRateHz: number;
  /** Minimum confidence of both halves (AUCsplit). @default 0.9 */
  minConfidence: number;
  /** Minimum spikes in a cluster and in each half. @default 300 */
  minSpikes: number;
  /** Minimum fraction of spikes in the smaller half. @default 0.05 */
  minFraction: number;
  /** Width of the running-mean detrend over spike order. @default 250 */
  detrendSigmaSpikes: number;
  /** Splits whose halves are separated in time more than this (0–1, see timeSegregation) are vetoed. @default 0.3 */
  maxTimeSegregation?: number;
}

/**
 * How much of a two-way assignment time explains: the recording span of the spikes is cut in
 * `nBins` equal bins and the between-bin variance of the assignment is divided by its total
 * variance (η²). Two neurons firing throughout give ≈ nBins/n; one neuron whose waveform changes
 * with drift, split into its drift states, gives a value near 1.
 */
export function timeSegregation(times: Float64Array, inFirst: Uint8Array, nBins: number): number {
  const n = times.length;
  if (n === 0) return 0;
  let lo = Infinity;
  let hi = -Infinity;
  let k = 0;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, times[i]!);
    hi = Math.max(hi, times[i]!);
    k += inFirst[i]!;
  }
  const p = k / n;
  if (p === 0 || p === 1 || !(hi > lo)) return 0;
  const count = new Float64Array(nBins);
  const first = new Float64Array(nBins);
  for (let i = 0; i < n; i++) {
    const b = Math.min(nBins - 1, Math.floor(((times[i]! - lo) / (hi - lo)) * nBins));
    count[b]! += 1;
    first[b]! += inFirst[i]!;
  }
  let between = 0;
  for (let b = 0; b < nBins; b++) if (count[b]! > 0) between += count[b]! * (first[b]! / count[b]! - p) ** 2;
  return between / (n * p * (1 - p));
}

export interface SplitInput {
  /** (S,) spike times, ascending. */
  samples: Float64Array;
  /** (S,) cluster of each spike (after merges). */
  clusters: Uint32Array;
  nClusters: number;
  /** (S,) template that found each spike (its PC-feature channels are that template's). */
  spikeTemplates: Uint32Array;
  /** (S, nPc, K) PC features: the 'pc' rows of the source, gathered one cluster at a time. */
  pcFeatures: SpikeFeatures;
  /** (T, K) channels of each template's PC features. */
  pcFeatureInd: Uint32Array;
  nPc: number;
  nFeatures: number;
}

export interface SplitResult {
  clusters: Uint32Array;
  nClusters: number;
  /** One record per new cluster, in creation order: new id = nClustersBefore + index. */
  splits: Array<{ parent: number; child: number; reference: number }>;
}

/**
 * Mean along spike order over a Gaussian-like window (three box passes), edges renormalised
 * (native: each column is a running sum over spike order, bitwise the same on any thread count).
 */
export function runningMean(x: Float64Array, n: number, dims: number, sigma: number): Float64Array {
  const width = Math.max(1, Math.round(Math.sqrt(4 * sigma * sigma + 1)));
  return runningMeanRows(x, n, dims, Math.floor(width / 2));
}

/**
 * Solves A·x = b (n × n, row-major) by Gaussian elimination with partial pivoting (native; the
 * same operations in the same order as the former TS loop). RangeError for a singular matrix.
 */
export function solveLinear(a: Float64Array, b: Float64Array, n: number): Float64Array {
  return solveLinearSystem(a, b, n);
}

function topDirection(x: Float64Array, n: number, dims: number): Float64Array {
  const cov = weightedGram(x, n, dims).gram;
  let w = new Float64Array(dims).fill(1 / Math.sqrt(dims));
  for (let it = 0; it < 200; it++) {
    const next = new Float64Array(dims);
    for (let a = 0; a < dims; a++) {
      let s = 0;
      for (let b = 0; b < dims; b++) s += cov[a * dims + b]! * w[b]!;
      next[a] = s;
    }
    const norm = Math.hypot(...next);
    if (norm === 0) break;
    for (let a = 0; a < dims; a++) next[a]! /= norm;
    w = next;
  }
  return w;
}

function project(x: Float64Array, n: number, dims: number, w: Float64Array): Float64Array {
  return projectRows(x, n, dims, w);
}

interface Bimodal {
  inFirst: Uint8Array;
  confidenceFirst: number;
  confidenceSecond: number;
}

/** Two-Gaussian EM along a direction that is itself refined (ks25-algorithm.md §5.3 step 4). */
export function bimodalPursuit(x: Float64Array, n: number, dims: number): Bimodal {
  let w = topDirection(x, n, dims);
  let proj = project(x, n, dims, w);
  let mean = 0;
  for (const v of proj) mean += v;
  mean /= n;
  const r1 = new Float64Array(n);
  for (let i = 0; i < n; i++) r1[i] = proj[i]! > mean ? 1 : 0;
  let mu1 = 0;
  let mu2 = 0;
  let s1 = 1;
  let s2 = 1;
  let p1 = 0.5;
  for (let iter = 0; iter < 50; iter++) {
    // M-step
    let n1 = 0;
    let a1 = 0;
    let a2 = 0;
    for (let i = 0; i < n; i++) {
      n1 += r1[i]!;
      a1 += r1[i]! * proj[i]!;
      a2 += (1 - r1[i]!) * proj[i]!;
    }
    const n2 = n - n1;
    if (n1 < 1 || n2 < 1) break;
    mu1 = a1 / n1;
    mu2 = a2 / n2;
    let v1 = 0;
    let v2 = 0;
    // Squares as products: V8's x ** 2 is x * x (its pow returns x * x for an exponent of 2), so
    // the values are the same, without a call per spike.
    for (let i = 0; i < n; i++) {
      const d1 = proj[i]! - mu1;
      const d2 = proj[i]! - mu2;
      v1 += r1[i]! * (d1 * d1);
      v2 += (1 - r1[i]!) * (d2 * d2);
    }
    s1 = Math.sqrt(v1 / n1) + 1e-12;
    s2 = Math.sqrt(v2 / n2) + 1e-12;
    p1 = n1 / n;
    // E-step (the constant parts are evaluated once, in the same order as written per spike)
    const base1 = Math.log(p1) - Math.log(s1);
    const base2 = Math.log(1 - p1) - Math.log(s2);
    const v1x2 = 2 * s1 * s1;
    const v2x2 = 2 * s2 * s2;
    for (let i = 0; i < n; i++) {
      const d1 = proj[i]! - mu1;
      const d2 = proj[i]! - mu2;
      const l1 = base1 - (d1 * d1) / v1x2;
      const l2 = base2 - (d2 * d2) / v2x2;
      const m = Math.max(l1, l2);
      // The larger term is exp(0) = 1 exactly whenever m is finite: one call to exp per spike.
      const finite = Number.isFinite(m);
      const e1 = finite && l1 === m ? 1 : Math.exp(l1 - m);
      const e2 = finite && l2 === m ? 1 : Math.exp(l2 - m);
      r1[i] = e1 / (e1 + e2);
    }
    // Kilosort refits the direction on every second iteration from the tenth; every fourth keeps
    // the fit (tests and accuracy runs) at half the cost, and only the upper triangle of the
    // symmetric system is accumulated.
    if (iter >= 10 && iter % 4 === 2) {
      const q = new Float64Array(n);
      const t = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        q[i] = r1[i]! / (s1 * s1) + (1 - r1[i]!) / (s2 * s2);
        t[i] = (r1[i]! * mu1) / (s1 * s1) + ((1 - r1[i]!) * mu2) / (s2 * s2);
      }
      // a = Σ_i q_i x_i x_iᵀ and b = Σ_i t_i x_i, each summed in spike order (the native kernel
      // gives the sequential loop's bits on any number of threads).
      const system = weightedGram(x, n, dims, q, t);
      const a = system.gram;
      const b = system.rhs!;
      for (let c = 0; c < dims; c++) a[c * dims + c]! += 1e-9 * (a[c * dims + c]! + 1);
      const next = solveLinear(a, b, dims);
      const norm = Math.hypot(...next);
      if (norm > 0) {
        w = next.map((v) => v / norm);
        proj = project(x, n, dims, w);
      }
    }
  }
  const inFirst = new Uint8Array(n);
  let c1 = 0;
  let sum1 = 0;
  let sum2 = 0;
  for (let i = 0; i < n; i++) {
    if (r1[i]! > 0.5) {
      inFirst[i] = 1;
      c1++;
      sum1 += r1[i]!;
    } else {
      sum2 += 1 - r1[i]!;
    }
  }
  return { inFirst, confidenceFirst: c1 > 0 ? sum1 / c1 : 0, confidenceSecond: n - c1 > 0 ? sum2 / (n - c1) : 0 };
}

/** Features of a cluster's spikes on the channels of its reference template (0 where absent). */
function clusterFeatures(input: SplitInput, spikes: Int32Array, reference: number): Float64Array {
  const { nPc, nFeatures: k } = input;
  let maxChannel = 0;
  for (const ch of input.pcFeatureInd) maxChannel = Math.max(maxChannel, ch);
  // Feature slot of each channel in the reference's list (the last one when listed twice), −1 if absent.
  const slot = new Int32Array(maxChannel + 1).fill(-1);
  for (let i = 0; i < k; i++) slot[input.pcFeatureInd[reference * k + i]!] = i;
  const dims = nPc * k;
  const rows = input.pcFeatures.gather('pc', spikes);
  const out = new Float64Array(spikes.length * dims);
  for (let row = 0; row < spikes.length; row++) {
    const t = input.spikeTemplates[spikes[row]!]!;
    for (let j = 0; j < k; j++) {
      const target = slot[input.pcFeatureInd[t * k + j]!]!;
      if (target < 0) continue;
      for (let p = 0; p < nPc; p++) out[row * dims + p * k + target] = rows[row * dims + p * k + j]!;
    }
  }
  return out;
}

/** The template that found most of the spikes (the lowest id on ties). */
function mostCommonTemplate(input: SplitInput, spikes: Int32Array): number {
  const counts = new Int32Array(input.pcFeatureInd.length / input.nFeatures);
  for (const s of spikes) counts[input.spikeTemplates[s]!]!++;
  let best = -1;
  let bestCount = 0;
  for (let t = 0; t < counts.length; t++) {
    if (counts[t]! > bestCount) {
      best = t;
      bestCount = counts[t]!;
    }
  }
  return best;
}

function meanRow(x: Float64Array, dims: number, rows: number[]): Float64Array {
  const out = new Float64Array(dims);
  for (const r of rows) for (let d = 0; d < dims; d++) out[d]! += x[r * dims + d]!;
  return out.map((v) => v / Math.max(1, rows.length));
}

export function splitClusters(input: SplitInput, options: SplitOptions): SplitResult {
  const pcWidth = input.pcFeatures.width('pc');
  if (
    input.pcFeatures.nSpikes !== input.samples.length ||
    (input.samples.length > 0 && pcWidth !== input.nPc * input.nFeatures)
  ) {
    throw new RangeError(
      `PC features of ${input.pcFeatures.nSpikes} spikes × ${pcWidth} values, expected ${input.samples.length} × nPc·K = ${input.nPc * input.nFeatures}`,
    );
  }
  const clusters = Uint32Array.from(input.clusters);
  const groups = groupByCluster(clusters, input.nClusters).map((g) => Array.from(g));
  const splits: SplitResult['splits'] = [];
  const dims = input.nPc * input.nFeatures;
  for (let c = 0; c < groups.length; c++) {
    const spikes = Int32Array.from(groups[c]!);
    if (spikes.length < options.minSpikes) continue;
    const reference = mostCommonTemplate(input, spikes);
    const raw = clusterFeatures(input, spikes, reference);
    const n = spikes.length;
    const centred = new Float64Array(raw.length);
    const trend = runningMean(raw, n, dims, options.detrendSigmaSpikes);
    for (let i = 0; i < raw.length; i++) centred[i] = raw[i]! - trend[i]!;
    const fit = bimodalPursuit(centred, n, dims);
    const first: number[] = [];
    const second: number[] = [];
    for (let i = 0; i < n; i++) (fit.inFirst[i] ? first : second).push(i);
    const fraction = Math.min(first.length, second.length) / n;
    if (fraction <= options.minFraction) continue;
    if (Math.min(fit.confidenceFirst, fit.confidenceSecond) <= options.minConfidence) continue;
    if (first.length < options.minSpikes || second.length < options.minSpikes) continue;
    const t1 = pick(
      input.samples,
      Int32Array.from(first, (i) => spikes[i]!),
    );
    const t2 = pick(
      input.samples,
      Int32Array.from(second, (i) => spikes[i]!),
    );
    // A split along time is drift the detrend missed (its halves never fire together, so the
    // cross-correlogram below has no counts and cannot veto it).
    const times = pick(input.samples, spikes);
    if (timeSegregation(times, fit.inFirst, 20) > (options.maxTimeSegregation ?? 0.3)) continue;
    const cross = ccgMetrics(t1, t2, options.sampleRateHz, false);
    if (cross.contamination < 0.25 && cross.pValue < 0.05) continue; // one neuron seen two ways
    const m1 = meanRow(raw, dims, first);
    const m2 = meanRow(raw, dims, second);
    const n1 = Math.hypot(...m1);
    const n2 = Math.hypot(...m2);
    let dot = 0;
    for (let d = 0; d < dims; d++) dot += m1[d]! * m2[d]!;
    const corr = n1 > 0 && n2 > 0 ? dot / (n1 * n2) : 0;
    if (corr > 0.9 && (2 * Math.abs(n1 - n2)) / (n1 + n2) < 0.2) continue; // same shape and size
    const child = groups.length;
    const moved = first.map((i) => spikes[i]!);
    for (const s of moved) clusters[s] = child;
    groups[c] = second.map((i) => spikes[i]!);
    groups.push(moved);
    splits.push({ parent: c, child, reference });
    c--; // look at the parent again: it may split further
  }
  return { clusters, nClusters: groups.length, splits };
}

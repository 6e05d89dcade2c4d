// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Cluster splits by "bimodal pursuit" (Kilosort 2.5 splitAllClusters, ks25-algorithm.md §5.3):
 * find the direction in PC-feature space along which a cluster's spikes are most bimodal, fit two
 * Gaussians along it, and split when both halves are confidently separated, are not one neuron
 * (no refractory dip between them) and do not look alike. Two deliberate differences from the
 * reference: the slow-drift detrend is not circular, and each half keeps its own mean waveform
 * (Kilosort crosses them; §11 item 10).
 */
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { Worker } from 'node:worker_threads';
import { RunError } from '../../proto/errors.js';
import { ClusterOrderedRows, type ClusterRowsWriteStats } from '../formats/cluster-rows.js';
import type { FeatureReadStats, SpikeFeatures } from '../formats/spike-features.js';
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
export function runningMean(x: Float64Array, n: number, dims: number, sigma: number, threads = 0): Float64Array {
  const width = Math.max(1, Math.round(Math.sqrt(4 * sigma * sigma + 1)));
  return runningMeanRows(x, n, dims, Math.floor(width / 2), threads);
}

/**
 * Solves A·x = b (n × n, row-major) by Gaussian elimination with partial pivoting (native; the
 * same operations in the same order as the former TS loop). RangeError for a singular matrix.
 */
export function solveLinear(a: Float64Array, b: Float64Array, n: number): Float64Array {
  return solveLinearSystem(a, b, n);
}

function topDirection(x: Float64Array, n: number, dims: number, threads: number): Float64Array {
  const cov = weightedGram(x, n, dims, null, null, threads).gram;
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

function project(x: Float64Array, n: number, dims: number, w: Float64Array, threads: number): Float64Array {
  return projectRows(x, n, dims, w, threads);
}

interface Bimodal {
  inFirst: Uint8Array;
  confidenceFirst: number;
  confidenceSecond: number;
}

/**
 * Two-Gaussian EM along a direction that is itself refined (ks25-algorithm.md §5.3 step 4).
 * `threads`: of the native kernels (0: the default count); the result does not depend on it.
 */
export function bimodalPursuit(x: Float64Array, n: number, dims: number, threads = 0): Bimodal {
  let w = topDirection(x, n, dims, threads);
  let proj = project(x, n, dims, w, threads);
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
      const system = weightedGram(x, n, dims, q, t, threads);
      const a = system.gram;
      const b = system.rhs!;
      for (let c = 0; c < dims; c++) a[c * dims + c]! += 1e-9 * (a[c * dims + c]! + 1);
      const next = solveLinear(a, b, dims);
      const norm = Math.hypot(...next);
      if (norm > 0) {
        w = next.map((v) => v / norm);
        proj = project(x, n, dims, w, threads);
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

/** What deciding a cluster's splits needs besides its spikes: the same for every cluster. */
export interface SplitContext {
  /** (T, K) channels of each template's PC features. */
  pcFeatureInd: Uint32Array;
  nPc: number;
  nFeatures: number;
  options: SplitOptions;
  /** Threads of each native kernel call (0: the default count); the result does not depend on it. */
  threads: number;
}

/** One cluster's spikes with everything its splits are decided from. */
export interface ClusterSpikes {
  /** (n,) spike times, ascending. */
  samples: Float64Array;
  /** (n,) template that found each spike (its PC-feature channels are that template's). */
  templates: Uint32Array;
  /** (n, nPc·K) PC-feature rows, in spike order. */
  rows: Float32Array;
}

/**
 * The splits of one cluster, of the clusters split off it, and so on. Nodes are numbered in
 * creation order, node 0 being the cluster itself; a node's children, in increasing number, are
 * the clusters split off it in turn (it is looked at again after each split).
 */
export interface SplitTree {
  /** (n,) the node each spike ends in. */
  node: Int32Array;
  /** (nodes − 1,) at index i − 1: the node that node i was split off. */
  parent: Int32Array;
  /** (nodes − 1,) at index i − 1: the reference template of the split that made node i. */
  reference: Int32Array;
}

/** Features of some of a cluster's spikes on the channels of a reference template (0 where absent). */
function clusterFeatures(
  ctx: SplitContext,
  maxChannel: number,
  cluster: ClusterSpikes,
  members: Int32Array,
  reference: number,
): Float64Array {
  const { nPc, nFeatures: k, pcFeatureInd } = ctx;
  // Feature slot of each channel in the reference's list (the last one when listed twice), −1 if absent.
  const slot = new Int32Array(maxChannel + 1).fill(-1);
  for (let i = 0; i < k; i++) slot[pcFeatureInd[reference * k + i]!] = i;
  const dims = nPc * k;
  const rows = cluster.rows;
  const out = new Float64Array(members.length * dims);
  for (let row = 0; row < members.length; row++) {
    const src = members[row]!;
    const t = cluster.templates[src]!;
    for (let j = 0; j < k; j++) {
      const target = slot[pcFeatureInd[t * k + j]!]!;
      if (target < 0) continue;
      for (let p = 0; p < nPc; p++) out[row * dims + p * k + target] = rows[src * dims + p * k + j]!;
    }
  }
  return out;
}

/** The template that found most of the spikes (the lowest id on ties). */
function mostCommonTemplate(ctx: SplitContext, cluster: ClusterSpikes, members: Int32Array): number {
  const counts = new Int32Array(ctx.pcFeatureInd.length / ctx.nFeatures);
  for (const s of members) counts[cluster.templates[s]!]!++;
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

function largest(values: Uint32Array): number {
  let out = 0;
  for (const v of values) out = Math.max(out, v);
  return out;
}

function pickLocal(values: Float64Array, members: Int32Array, at: ArrayLike<number>): Float64Array {
  const out = new Float64Array(at.length);
  for (let i = 0; i < at.length; i++) out[i] = values[members[at[i]!]!]!;
  return out;
}

/**
 * One split decision on a set of a cluster's spikes (`members`, ascending indices into `cluster`):
 * the half split off (`first`), the half that stays, and the reference template, or null. It
 * depends on those spikes alone, never on cluster ids.
 */
export function trySplit(
  ctx: SplitContext,
  cluster: ClusterSpikes,
  members: Int32Array,
  maxChannel = largest(ctx.pcFeatureInd),
): { first: Int32Array; second: Int32Array; reference: number } | null {
  const { options } = ctx;
  const n = members.length;
  if (n < options.minSpikes) return null;
  const dims = ctx.nPc * ctx.nFeatures;
  const reference = mostCommonTemplate(ctx, cluster, members);
  const raw = clusterFeatures(ctx, maxChannel, cluster, members, reference);
  // The detrended features overwrite the trend (each value is computed once either way).
  const centred = runningMean(raw, n, dims, options.detrendSigmaSpikes, ctx.threads);
  for (let i = 0; i < raw.length; i++) centred[i] = raw[i]! - centred[i]!;
  const fit = bimodalPursuit(centred, n, dims, ctx.threads);
  const first: number[] = [];
  const second: number[] = [];
  for (let i = 0; i < n; i++) (fit.inFirst[i] ? first : second).push(i);
  const fraction = Math.min(first.length, second.length) / n;
  if (fraction <= options.minFraction) return null;
  if (Math.min(fit.confidenceFirst, fit.confidenceSecond) <= options.minConfidence) return null;
  if (first.length < options.minSpikes || second.length < options.minSpikes) return null;
  // A split along time is drift the detrend missed (its halves never fire together, so the
  // cross-correlogram below has no counts and cannot veto it).
  const times = pick(cluster.samples, members);
  if (timeSegregation(times, fit.inFirst, 20) > (options.maxTimeSegregation ?? 0.3)) return null;
  const cross = ccgMetrics(
    pickLocal(cluster.samples, members, first),
    pickLocal(cluster.samples, members, second),
    options.sampleRateHz,
    false,
  );
  if (cross.contamination < 0.25 && cross.pValue < 0.05) return null; // one neuron seen two ways
  const m1 = meanRow(raw, dims, first);
  const m2 = meanRow(raw, dims, second);
  const n1 = Math.hypot(...m1);
  const n2 = Math.hypot(...m2);
  let dot = 0;
  for (let d = 0; d < dims; d++) dot += m1[d]! * m2[d]!;
  const corr = n1 > 0 && n2 > 0 ? dot / (n1 * n2) : 0;
  if (corr > 0.9 && (2 * Math.abs(n1 - n2)) / (n1 + n2) < 0.2) return null; // same shape and size
  return {
    first: Int32Array.from(first, (i) => members[i]!),
    second: Int32Array.from(second, (i) => members[i]!),
    reference,
  };
}

/**
 * Every split of one cluster: it is split as long as a split is found, then each cluster split
 * off it in turn, and so on.
 */
export function splitTree(ctx: SplitContext, cluster: ClusterSpikes): SplitTree {
  const n = cluster.samples.length;
  const dims = ctx.nPc * ctx.nFeatures;
  if (cluster.templates.length !== n || cluster.rows.length !== n * dims) {
    throw new RangeError(
      `a cluster of ${n} spike times has ${cluster.templates.length} templates and ${cluster.rows.length} PC values, expected ${n} and ${n} × ${dims}`,
    );
  }
  const maxChannel = largest(ctx.pcFeatureInd);
  const node = new Int32Array(n);
  const parent: number[] = [];
  const reference: number[] = [];
  const pending: Int32Array[] = [Int32Array.from({ length: n }, (_, i) => i)];
  for (let v = 0; v < pending.length; v++) {
    let members = pending[v]!;
    pending[v] = new Int32Array(0);
    for (;;) {
      const split = trySplit(ctx, cluster, members, maxChannel);
      if (split === null) break;
      const child = pending.length;
      pending.push(split.first);
      parent.push(v);
      reference.push(split.reference);
      for (const i of split.first) node[i] = child;
      members = split.second;
    }
  }
  return { node, parent: Int32Array.from(parent), reference: Int32Array.from(reference) };
}

/**
 * Cluster ids of the splits found cluster by cluster, in the order of the sequential procedure
 * (ks25-algorithm.md §5.3): clusters are visited in id order, each looked at again after each of
 * its splits, and a cluster split off gets the next free id and is visited after those before it.
 */
function assignIds(
  input: SplitInput,
  members: readonly Int32Array[],
  trees: readonly (SplitTree | null)[],
): SplitResult {
  const clusters = Uint32Array.from(input.clusters);
  const children = trees.map((tree) => {
    if (tree === null) return null;
    const out = Array.from({ length: tree.parent.length + 1 }, (): number[] => []);
    tree.parent.forEach((p, i) => out[p]!.push(i + 1));
    return out;
  });
  const ids = trees.map((tree, c) => {
    if (tree === null) return null;
    const out = new Int32Array(tree.parent.length + 1);
    out[0] = c;
    return out;
  });
  // Every cluster id in visiting order: the input cluster and the tree node it stands for.
  const entries: Array<[number, number]> = Array.from({ length: input.nClusters }, (_, c) => [c, 0]);
  const splits: SplitResult['splits'] = [];
  for (let g = 0; g < entries.length; g++) {
    const [c, v] = entries[g]!;
    const tree = trees[c];
    if (!tree) continue;
    for (const child of children[c]![v]!) {
      const id = entries.length;
      entries.push([c, child]);
      ids[c]![child] = id;
      splits.push({ parent: g, child: id, reference: tree.reference[child - 1]! });
    }
  }
  trees.forEach((tree, c) => {
    if (tree === null || tree.parent.length === 0) return;
    const spikes = members[c]!;
    for (let i = 0; i < spikes.length; i++) clusters[spikes[i]!] = ids[c]![tree.node[i]!]!;
  });
  return { clusters, nClusters: entries.length, splits };
}

/** How the splits are run; none of it changes the result. */
export interface SplitRunOptions {
  /**
   * Cores for the splits (0: all). Clusters are split side by side in worker threads: one per
   * core, but no more than one per {@link SPIKES_PER_WORKER} spikes to split (a worker costs a
   * start) and than the memory budget allows ({@link WORKER_BYTES} each, at most half the
   * budget); their native kernels share the cores. 1: this thread only. @default 0
   */
  threads?: number;
  /**
   * Folder for a cluster-ordered copy of the PC rows (coordinator/formats/cluster-rows.ts), deleted
   * when done: each cluster is then one read. Null: each cluster's rows are gathered from the source.
   */
  scratchDir?: string | null;
  /**
   * Memory for the worker threads and the clusters being split at once (their rows and float64
   * feature matrices, about 20 bytes per feature value); a cluster larger than what the workers
   * leave is split alone. @default 384 MiB
   */
  memoryBudgetBytes?: number;
  /** Spikes to split per worker thread started, at least. @default {@link SPIKES_PER_WORKER} */
  spikesPerWorker?: number;
  /** Filled with what the splits cost. */
  stats?: SplitStats;
}

/** What {@link splitClusters} did, for logs and benchmarks. */
export interface SplitStats {
  /** Worker threads used (0: all in the calling thread). */
  workers: number;
  /** Clusters large enough to be looked at. */
  clusters: number;
  /** Writing the cluster-ordered copy (null without a scratch folder). */
  scratch: ClusterRowsWriteStats | null;
  /** Reads of the copy (zero without one). */
  reads: FeatureReadStats;
  /** Largest estimate of the memory held by the clusters being split at once, in bytes. */
  peakBytes: number;
  /** Seconds spent finding splits, summed over clusters (in whichever thread). */
  computeSeconds: number;
  /** The longest of them (one cluster's: a lower bound of the splits' time on any number of threads). */
  longestClusterSeconds: number;
}

/** One worker thread per this many spikes to split at most (small sorts stay in one thread). */
export const SPIKES_PER_WORKER = 20_000;

/** Name of the cluster-ordered PC rows in the scratch folder. */
export const SPLIT_ROWS_FILE = 'split-pc-rows.f32';
// 512 MiB with 8 workers put a 10-minute 384-channel sort's peak RSS at 2.06 GB, in splits, against
// 1.33 GB for 1 minute (the H100 machine, 2026-11-25): the workers cost more than counted there.
const DEFAULT_MEMORY_BUDGET_BYTES = 384 * 2 ** 20;
/**
 * Memory of one split worker beyond the clusters it is given: its own heap, code and garbage not
 * yet collected (+30 MB RSS per worker on the post-processing bench; more in a 10-minute sort).
 */
export const WORKER_BYTES = 48 * 2 ** 20;

/** Estimated bytes held while a cluster of n spikes is split: its rows, raw and centred features, per-spike vectors. */
function clusterBytes(n: number, dims: number): number {
  return n * (20 * dims + 64);
}

function addCompute(stats: SplitStats, seconds: number): void {
  stats.computeSeconds += seconds;
  stats.longestClusterSeconds = Math.max(stats.longestClusterSeconds, seconds);
}

/** A typed array that owns its whole, unshared buffer (so that the buffer can be moved to another thread). */
function owned<T extends Float64Array | Float32Array | Uint32Array>(x: T): T {
  return x.buffer instanceof ArrayBuffer && x.byteOffset === 0 && x.byteLength === x.buffer.byteLength
    ? x
    : (x.slice() as T);
}

/** The buffers to move with a message: those of `arrays` that are plain ArrayBuffers. */
export function movable(...arrays: ArrayBufferView[]): ArrayBuffer[] {
  return arrays.map((a) => a.buffer).filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
}

/** A cluster sent to a split worker (coordinator/postprocess/split-worker.ts). */
export interface SplitTaskMessage extends ClusterSpikes {
  cluster: number;
}

/** A split worker's answer. */
export type SplitReplyMessage =
  | { cluster: number; tree: SplitTree; /** wall seconds of splitTree */ seconds: number }
  | { cluster: number; error: unknown };

/**
 * Splits every cluster that can be (ks25-algorithm.md §5.3). Clusters are independent until they
 * get ids, so each one's splits are found on its own (in worker threads, largest first, within
 * the memory budget), then ids are given in the sequential order: the result is the same for
 * any thread count, scratch folder or budget.
 */
export async function splitClusters(
  input: SplitInput,
  options: SplitOptions,
  run: SplitRunOptions = {},
): Promise<SplitResult> {
  const pcWidth = input.pcFeatures.width('pc');
  if (
    input.pcFeatures.nSpikes !== input.samples.length ||
    (input.samples.length > 0 && pcWidth !== input.nPc * input.nFeatures)
  ) {
    throw new RangeError(
      `PC features of ${input.pcFeatures.nSpikes} spikes × ${pcWidth} values, expected ${input.samples.length} × nPc·K = ${input.nPc * input.nFeatures}`,
    );
  }
  const dims = input.nPc * input.nFeatures;
  const members = groupByCluster(input.clusters, input.nClusters);
  const wanted = Uint8Array.from(members, (g) => (g.length >= options.minSpikes ? 1 : 0));
  // Largest first: the last clusters to finish are then small ones.
  const order = Array.from({ length: input.nClusters }, (_, c) => c)
    .filter((c) => wanted[c])
    .sort((a, b) => members[b]!.length - members[a]!.length || a - b);
  const cores = run.threads !== undefined && run.threads > 0 ? run.threads : os.availableParallelism();
  const budget = run.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES;
  let spikesToSplit = 0;
  for (const c of order) spikesToSplit += members[c]!.length;
  const useful = Math.min(
    order.length,
    Math.ceil(spikesToSplit / (run.spikesPerWorker ?? SPIKES_PER_WORKER)),
    Math.max(2, Math.floor(budget / (2 * WORKER_BYTES))),
  );
  const nWorkers = cores > 1 && useful > 1 ? Math.min(cores, useful) : 0;
  const stats: SplitStats = {
    workers: nWorkers,
    clusters: order.length,
    scratch: null,
    reads: { reads: 0, bytes: 0, seconds: 0 },
    peakBytes: 0,
    computeSeconds: 0,
    longestClusterSeconds: 0,
  };

  const trees = new Array<SplitTree | null>(input.nClusters).fill(null);
  let copy: ClusterOrderedRows | null = null;
  try {
    const scratchDir = run.scratchDir ?? null;
    if (scratchDir !== null && order.length > 0) {
      copy = new ClusterOrderedRows(input.pcFeatures, 'pc', members, wanted, path.join(scratchDir, SPLIT_ROWS_FILE));
      stats.scratch = copy.writeStats;
      stats.reads = copy.readStats;
    }
    const source = copy;
    const load = (c: number): ClusterSpikes => {
      const spikes = members[c]!;
      return {
        samples: pick(input.samples, spikes),
        templates: Uint32Array.from(spikes, (s) => input.spikeTemplates[s]!),
        rows: source !== null ? source.rows(c) : input.pcFeatures.gather('pc', spikes),
      };
    };
    const ctx: SplitContext = {
      pcFeatureInd: input.pcFeatureInd,
      nPc: input.nPc,
      nFeatures: input.nFeatures,
      options,
      threads: 0,
    };
    if (nWorkers === 0) {
      for (const c of order) {
        stats.peakBytes = Math.max(stats.peakBytes, clusterBytes(members[c]!.length, dims));
        const cluster = load(c);
        const t0 = performance.now();
        trees[c] = splitTree(ctx, cluster);
        addCompute(stats, (performance.now() - t0) / 1000);
      }
    } else {
      // Each worker's kernels get their share of the cores.
      const workerCtx = { ...ctx, threads: Math.max(1, Math.floor(cores / nWorkers)) };
      await splitInWorkers(
        workerCtx,
        order,
        nWorkers,
        Math.max(0, budget - nWorkers * WORKER_BYTES),
        (c) => clusterBytes(members[c]!.length, dims),
        load,
        trees,
        stats,
      );
    }
  } finally {
    copy?.close();
  }
  if (run.stats !== undefined) Object.assign(run.stats, stats);
  return assignIds(input, members, trees);
}

/** Runs splitTree on each cluster of `order` in a pool of worker threads, at most `budget` bytes at once. */
function splitInWorkers(
  ctx: SplitContext,
  order: readonly number[],
  nWorkers: number,
  budget: number,
  bytesOf: (c: number) => number,
  load: (c: number) => ClusterSpikes,
  trees: (SplitTree | null)[],
  stats: SplitStats,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const workers: Worker[] = [];
    const idle: Worker[] = [];
    const inFlight = new Map<Worker, number>();
    let next = 0;
    let done = 0;
    let heldBytes = 0;
    let settled = false;
    const finish = (error: unknown): void => {
      if (settled) return;
      settled = true;
      void Promise.all(workers.map((w) => w.terminate())).then(
        () =>
          error === null
            ? resolve()
            : reject(error instanceof Error ? error : new RunError(`a split worker failed: ${inspect(error)}`)),
        reject,
      );
    };
    const pump = (): void => {
      try {
        while (idle.length > 0 && next < order.length) {
          const c = order[next]!;
          const bytes = bytesOf(c);
          if (inFlight.size > 0 && heldBytes + bytes > budget) break;
          next++;
          const task = load(c);
          const message: SplitTaskMessage = {
            cluster: c,
            samples: owned(task.samples),
            templates: owned(task.templates),
            rows: owned(task.rows),
          };
          const worker = idle.pop()!;
          inFlight.set(worker, bytes);
          heldBytes += bytes;
          stats.peakBytes = Math.max(stats.peakBytes, heldBytes);
          worker.postMessage(message, movable(message.samples, message.templates, message.rows));
        }
      } catch (error) {
        finish(error);
        return;
      }
      if (done === order.length) finish(null);
    };
    for (let i = 0; i < nWorkers; i++) {
      const worker = new Worker(new URL('./split-worker.js', import.meta.url), { workerData: ctx });
      workers.push(worker);
      idle.push(worker);
      worker.on('message', (reply: SplitReplyMessage) => {
        if (settled) return; // failed elsewhere: the workers are being stopped
        if ('error' in reply) {
          finish(reply.error);
          return;
        }
        trees[reply.cluster] = reply.tree;
        addCompute(stats, reply.seconds);
        heldBytes -= inFlight.get(worker) ?? 0;
        inFlight.delete(worker);
        idle.push(worker);
        done++;
        pump();
      });
      worker.on('error', (error) => finish(error));
      worker.on('exit', (code) => {
        if (!settled) finish(new RunError(`a split worker stopped (exit code ${code}) before the splits were done`));
      });
    }
    pump();
  });
}

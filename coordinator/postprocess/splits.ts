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
import { integerFromEnvironment } from '../../proto/errors.js';
import { ClusterOrderedRows, type ClusterRowsWriteStats } from '../formats/cluster-rows.js';
import type { FeatureReadStats, SpikeFeatures } from '../formats/spike-features.js';
import {
  bimodalPursuitRows,
  runningMeanRows,
  solveLinearSystem,
  splitPursuit,
  type BimodalFit,
} from '../../native/lib/index.js';
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
  return runningMeanRows(x, n, dims, detrendHalfWidth(sigma), threads);
}

/** Half width, in spikes, of the box passes of {@link runningMean} for a window of width `sigma` spikes. */
function detrendHalfWidth(sigma: number): number {
  const width = Math.max(1, Math.round(Math.sqrt(4 * sigma * sigma + 1)));
  return Math.floor(width / 2);
}

/**
 * Solves A·x = b (n × n, row-major) by Gaussian elimination with partial pivoting (native; the
 * same operations in the same order as the former TS loop). RangeError for a singular matrix.
 */
export function solveLinear(a: Float64Array, b: Float64Array, n: number): Float64Array {
  return solveLinearSystem(a, b, n);
}

/**
 * Two-Gaussian EM along a direction that is itself refined (ks25-algorithm.md §5.3 step 4), in
 * the native core (native/src/core/postprocess_splits.cc; its last bits may differ from the
 * TypeScript loop it replaced: glibc's exp and log are not V8's). `threads`: of its kernels (0:
 * the default count); the result does not depend on it.
 */
export function bimodalPursuit(x: Float64Array, n: number, dims: number, threads = 0): BimodalFit {
  return bimodalPursuitRows(x, n, dims, threads);
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
  /** When given: the threads of each pursuit, asked anew before it starts (instead of `threads`). */
  threadsNow?: () => number;
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

/** A split found by {@link trySplit}: the half split off, the half that stays (indices into the cluster) and the reference template. */
export interface Split {
  first: Int32Array;
  second: Int32Array;
  reference: number;
}

/** The checks of a pursuit's two halves (ks25-algorithm.md §5.3 steps 5–6): the split, or null. */
function decideSplit(
  ctx: SplitContext,
  cluster: ClusterSpikes,
  members: Int32Array,
  reference: number,
  fit: BimodalFit,
  halfMeans: (first: number[], second: number[]) => [Float64Array, Float64Array],
): Split | null {
  const { options } = ctx;
  const n = members.length;
  const dims = ctx.nPc * ctx.nFeatures;
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
  const [m1, m2] = halfMeans(first, second);
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
 * One split decision on a set of a cluster's spikes (`members`, ascending indices into `cluster`):
 * the half split off (`first`), the half that stays, and the reference template, or null. It
 * depends on those spikes alone, never on cluster ids. Runs on the calling thread;
 * {@link splitTree} runs the pursuit on a native thread, with the same result.
 */
export function trySplit(
  ctx: SplitContext,
  cluster: ClusterSpikes,
  members: Int32Array,
  maxChannel = largest(ctx.pcFeatureInd),
): Split | null {
  const n = members.length;
  if (n < ctx.options.minSpikes) return null;
  const dims = ctx.nPc * ctx.nFeatures;
  const reference = mostCommonTemplate(ctx, cluster, members);
  const raw = clusterFeatures(ctx, maxChannel, cluster, members, reference);
  // The detrended features overwrite the trend (each value is computed once either way).
  const centred = runningMean(raw, n, dims, ctx.options.detrendSigmaSpikes, ctx.threads);
  for (let i = 0; i < centred.length; i++) centred[i] = raw[i]! - centred[i]!;
  const fit = bimodalPursuit(centred, n, dims, ctx.threads);
  return decideSplit(ctx, cluster, members, reference, fit, (first, second) => [
    meanRow(raw, dims, first),
    meanRow(raw, dims, second),
  ]);
}

/**
 * {@link trySplit} with the features, detrend, pursuit and half means on a native thread of its
 * own (splitPursuit: the same steps in the same order, the same bits).
 */
async function trySplitAsync(ctx: SplitContext, cluster: ClusterSpikes, members: Int32Array): Promise<Split | null> {
  if (members.length < ctx.options.minSpikes) return null;
  const reference = mostCommonTemplate(ctx, cluster, members);
  const fit = await splitPursuit(
    cluster.rows,
    cluster.templates,
    members,
    ctx.pcFeatureInd,
    ctx.nPc,
    ctx.nFeatures,
    reference,
    detrendHalfWidth(ctx.options.detrendSigmaSpikes),
    ctx.threadsNow?.() ?? ctx.threads,
  );
  return decideSplit(ctx, cluster, members, reference, fit, () => [fit.meanFirst, fit.meanSecond]);
}

/** The splits found in a set of a cluster's spikes: the halves split off it in turn, and the spikes left. */
interface SplitNode {
  /** The halves split off, in order, each with the splits found in it and the reference template of its split. */
  splits: Array<{ first: SplitNode; reference: number }>;
  /** The spikes left once no split is found (indices into the cluster). */
  members: Int32Array;
}

/**
 * Every split of one cluster: it is split as long as a split is found, then each cluster split
 * off it in turn, and so on. The features, detrend and pursuits run on native threads: the
 * JavaScript thread only picks reference templates and checks the halves (their time segregation
 * and cross-correlogram), so many clusters can be split at once. A half split off depends on its
 * own spikes alone, so it is looked at while the rest is split further (the cluster's threads
 * shared between its pursuits in flight); nodes are numbered afterwards in the order of the
 * sequential procedure.
 */
export async function splitTree(ctx: SplitContext, cluster: ClusterSpikes): Promise<SplitTree> {
  const n = cluster.samples.length;
  const dims = ctx.nPc * ctx.nFeatures;
  if (cluster.templates.length !== n || cluster.rows.length !== n * dims) {
    throw new RangeError(
      `a cluster of ${n} spike times has ${cluster.templates.length} templates and ${cluster.rows.length} PC values, expected ${n} and ${n} × ${dims}`,
    );
  }
  // Pursuits of this cluster in flight, at most as many as its threads (those waiting queue up).
  const threadsOfCluster = (): number => Math.max(1, ctx.threadsNow?.() ?? ctx.threads);
  let active = 0;
  const waiting: Array<() => void> = [];
  const shared: SplitContext = {
    ...ctx,
    threadsNow: () => Math.max(1, Math.floor(threadsOfCluster() / Math.max(1, active))),
  };
  const pursue = async (members: Int32Array): Promise<Split | null> => {
    while (active >= threadsOfCluster()) await new Promise<void>((wake) => waiting.push(wake));
    active++;
    try {
      return await trySplitAsync(shared, cluster, members);
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
  const splitNode = async (start: Int32Array): Promise<SplitNode> => {
    let members = start;
    const children: Array<Promise<SplitNode>> = [];
    const references: number[] = [];
    try {
      for (;;) {
        const split = await pursue(members);
        if (split === null) break;
        const child = splitNode(split.first);
        // Settled below; until then its failure must not count as unhandled.
        child.catch(() => undefined);
        children.push(child);
        references.push(split.reference);
        members = split.second;
      }
    } finally {
      // Each started child is waited for (its error reported) before this node's own error.
      await Promise.allSettled(children);
    }
    const firsts = await Promise.all(children);
    return { splits: firsts.map((first, i) => ({ first, reference: references[i]! })), members };
  };
  const root = await splitNode(Int32Array.from({ length: n }, (_, i) => i));
  // Numbers in creation order of the sequential procedure: node by node, each one's halves in turn.
  const node = new Int32Array(n);
  const parent: number[] = [];
  const reference: number[] = [];
  const queue: SplitNode[] = [root];
  for (let v = 0; v < queue.length; v++) {
    const at = queue[v]!;
    for (const split of at.splits) {
      parent.push(v);
      reference.push(split.reference);
      queue.push(split.first);
    }
    for (const i of at.members) node[i] = v;
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
   * Cores for the splits (0: all). Clusters are split side by side, up to one per core and as
   * many as the memory budget allows: each cluster's pursuits run on native threads of their own
   * (on several for a cluster with a large share of the spikes, and for every cluster once none is
   * left to start), while the JavaScript thread picks reference templates and checks the halves.
   * 1: one cluster at a time.
   * @default 0
   */
  threads?: number;
  /**
   * Folder for a cluster-ordered copy of the PC rows (coordinator/formats/cluster-rows.ts), deleted
   * when done: each cluster is then one read. Null: each cluster's rows are gathered from the source.
   */
  scratchDir?: string | null;
  /**
   * Memory for the clusters being split at once (their rows and float64 feature matrices, about
   * 28 bytes per feature value); a cluster larger than the budget is split alone. @default
   * SPIKESHARD_SPLIT_MEMORY_MIB if set, else 256 MiB
   */
  memoryBudgetBytes?: number;
  /** Filled with what the splits cost. */
  stats?: SplitStats;
}

/** What {@link splitClusters} did, for logs and benchmarks. */
export interface SplitStats {
  /** Most clusters split at once (each on native threads; 1: one after another). */
  concurrency: number;
  /** Most native threads given to one pursuit. */
  pursuitThreads: number;
  /** Clusters large enough to be looked at. */
  clusters: number;
  /** Writing the cluster-ordered copy (null without a scratch folder). */
  scratch: ClusterRowsWriteStats | null;
  /** Reads of the copy (zero without one). */
  reads: FeatureReadStats;
  /** Largest estimate of the memory held by the clusters being split at once, in bytes. */
  peakBytes: number;
  /** Wall seconds from each cluster's start to its last split decision, summed over clusters. */
  computeSeconds: number;
  /** The longest of them (one cluster's: a lower bound of the splits' time on any number of threads). */
  longestClusterSeconds: number;
}

/** Name of the cluster-ordered PC rows in the scratch folder. */
export const SPLIT_ROWS_FILE = 'split-pc-rows.f32';
// 512 MiB with 8 worker threads put a 10-minute 384-channel sort's peak RSS at 2.06 GB, in splits,
// and 384 MiB with 4 (192 MiB of it for clusters) at 1.70 GB. The worker threads (each with its
// own V8 heap, ~50-100 MB) are gone since: the budget is the clusters' own memory.
const DEFAULT_MEMORY_BUDGET_BYTES = 256 * 2 ** 20;

/** The budget: SPIKESHARD_SPLIT_MEMORY_MIB (16 to 65 536) if set, else the default. */
export function splitMemoryBudget(env: NodeJS.ProcessEnv = process.env): number {
  const mib = integerFromEnvironment(env, 'SPIKESHARD_SPLIT_MEMORY_MIB', 16, 65_536);
  return mib !== undefined ? mib * 2 ** 20 : DEFAULT_MEMORY_BUDGET_BYTES;
}

/**
 * Estimated bytes held while a cluster of n spikes is split: its float32 rows (4 per value), the
 * float64 raw features (8), the native pursuit's detrended copy (8) and the running mean's pass
 * buffer (8, freed before the pursuit), and per-spike vectors.
 */
function clusterBytes(n: number, dims: number): number {
  return n * (28 * dims + 64);
}

function addCompute(stats: SplitStats, seconds: number): void {
  stats.computeSeconds += seconds;
  stats.longestClusterSeconds = Math.max(stats.longestClusterSeconds, seconds);
}

/**
 * Splits every cluster that can be (ks25-algorithm.md §5.3). Clusters are independent until they
 * get ids, so each one's splits are found on its own (side by side, largest first, within the
 * memory budget), then ids are given in the sequential order: the result is the same for any
 * thread count, scratch folder or budget.
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
  const stats: SplitStats = {
    concurrency: 0,
    pursuitThreads: 0,
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
      threads: 1,
    };
    await splitSideBySide(
      ctx,
      order,
      cores,
      run.memoryBudgetBytes ?? splitMemoryBudget(),
      (c) => clusterBytes(members[c]!.length, dims),
      (c) => members[c]!.length,
      load,
      trees,
      stats,
    );
  } finally {
    copy?.close();
  }
  if (run.stats !== undefined) Object.assign(run.stats, stats);
  return assignIds(input, members, trees);
}

/**
 * Runs splitTree on each cluster of `order`, on up to `cores` cores at once and at most `budget`
 * bytes of clusters at once (a larger cluster alone). A cluster's pursuits run one after the
 * other, so a cluster with a large share of the spikes would end long after the rest on one core:
 * it gets cores in proportion to its share (twice it, rounded down), counted against `cores` while
 * it runs, and once no cluster is left to start, each pursuit gets its part of all the cores.
 * The result does not depend on any of it.
 */
function splitSideBySide(
  ctx: SplitContext,
  order: readonly number[],
  cores: number,
  budget: number,
  bytesOf: (c: number) => number,
  spikesOf: (c: number) => number,
  load: (c: number) => ClusterSpikes,
  trees: (SplitTree | null)[],
  stats: SplitStats,
): Promise<void> {
  let totalSpikes = 0;
  for (const c of order) totalSpikes += spikesOf(c);
  const coresOf = (c: number): number =>
    Math.min(cores, Math.max(1, Math.floor((2 * cores * spikesOf(c)) / Math.max(1, totalSpikes))));
  return new Promise<void>((resolve, reject) => {
    let next = 0;
    let done = 0;
    let inFlight = 0;
    let heldCores = 0;
    let heldBytes = 0;
    let failed = false;
    const pump = (): void => {
      try {
        while (!failed && next < order.length) {
          const c = order[next]!;
          const bytes = bytesOf(c);
          const own = coresOf(c);
          if (inFlight > 0 && (heldCores + own > cores || heldBytes + bytes > budget)) break;
          next++;
          inFlight++;
          heldCores += own;
          heldBytes += bytes;
          stats.peakBytes = Math.max(stats.peakBytes, heldBytes);
          stats.concurrency = Math.max(stats.concurrency, inFlight);
          // Asked before each pursuit: its own cores, or its part of them all once none is left to start.
          const threadsNow = (): number => {
            const threads = next < order.length ? own : Math.max(own, Math.floor(cores / Math.max(1, inFlight)));
            stats.pursuitThreads = Math.max(stats.pursuitThreads, threads);
            return threads;
          };
          const t0 = performance.now();
          splitTree({ ...ctx, threads: own, threadsNow }, load(c)).then(
            (tree) => {
              trees[c] = tree;
              addCompute(stats, (performance.now() - t0) / 1000);
              inFlight--;
              heldCores -= own;
              heldBytes -= bytes;
              done++;
              if (done === order.length) resolve();
              else pump();
            },
            (error: unknown) => {
              failed = true;
              reject(error instanceof Error ? error : new Error(String(error)));
            },
          );
        }
      } catch (error) {
        failed = true;
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    if (order.length === 0) resolve();
    else pump();
  });
}

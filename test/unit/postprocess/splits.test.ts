// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import {
  bimodalPursuit,
  runningMean,
  solveLinear,
  splitClusters,
  splitMemoryBudget,
  timeSegregation,
  trySplit,
  type SplitInput,
  type SplitOptions,
  type SplitResult,
  type SplitStats,
} from '../../../coordinator/postprocess/splits.js';
import { groupByCluster } from '../../../coordinator/postprocess/clusters.js';
import { ParameterError } from '../../../proto/errors.js';
import { tmpDir } from '../../helpers/tmp.js';
import { SeededRandom } from '../../../coordinator/plan/random.js';
import { MemorySpikeFeatures, SelectedSpikeFeatures } from '../../../coordinator/formats/spike-features.js';

const FS = 30_000;
const OPTIONS = { sampleRateHz: FS, minConfidence: 0.9, minSpikes: 300, minFraction: 0.05, detrendSigmaSpikes: 250 };

function gauss(rng: SeededRandom): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/**
 * One cluster of spikes drawn from feature blobs; `sameNeuron` makes one refractory train. `edit`
 * may change the (S, nPc, K) PC features before they are wrapped.
 */
function cluster(
  rng: SeededRandom,
  blobs: number[][],
  counts: number[],
  sameNeuron: boolean,
  edit: (pcFeatures: Float32Array) => void = () => {},
): SplitInput {
  const nPc = 3;
  const k = 4;
  const total = counts.reduce((a, b) => a + b, 0);
  const labels: number[] = [];
  counts.forEach((c, b) => labels.push(...new Array<number>(c).fill(b)));
  rng.shuffle(labels);
  const samples = new Float64Array(total);
  let t = 0;
  for (let i = 0; i < total; i++) {
    // refractory train when one neuron; otherwise two independent trains interleave, with no gap
    t += sameNeuron ? 100 + Math.floor(-Math.log(1 - rng.next()) * 3000) : Math.floor(-Math.log(1 - rng.next()) * 1500);
    samples[i] = t;
  }
  const pcFeatures = new Float32Array(total * nPc * k);
  labels.forEach((b, i) => {
    for (let d = 0; d < nPc * k; d++) pcFeatures[i * nPc * k + d] = blobs[b]![d % blobs[b]!.length]! + gauss(rng);
  });
  edit(pcFeatures);
  return {
    samples,
    clusters: new Uint32Array(total),
    nClusters: 1,
    spikeTemplates: new Uint32Array(total),
    pcFeatures: new MemorySpikeFeatures(total, new Float32Array(0), pcFeatures),
    pcFeatureInd: Uint32Array.from([0, 1, 2, 3]),
    nPc,
    nFeatures: k,
  };
}

test('solveLinear solves a small system', () => {
  const x = solveLinear(Float64Array.from([2, 1, 1, 3]), Float64Array.from([3, 5]), 2);
  assert.ok(Math.abs(x[0]! - 0.8) < 1e-12 && Math.abs(x[1]! - 1.4) < 1e-12);
});

test('runningMean of a constant is that constant, edges included', () => {
  const x = new Float64Array(1000).fill(3);
  const m = runningMean(x, 1000, 1, 50);
  assert.ok(m.every((v) => Math.abs(v - 3) < 1e-12));
});

test('bimodal pursuit separates two blobs', () => {
  const rng = new SeededRandom(1);
  const n = 600;
  const dims = 2;
  const x = new Float64Array(n * dims);
  for (let i = 0; i < n; i++) {
    x[i * dims] = (i < 200 ? 6 : -3) + gauss(rng);
    x[i * dims + 1] = gauss(rng);
  }
  const fit = bimodalPursuit(x, n, dims);
  const firstIsLow = fit.inFirst[0] === 1;
  for (let i = 0; i < n; i++) assert.equal(fit.inFirst[i] === 1, i < 200 === firstIsLow);
  assert.ok(Math.min(fit.confidenceFirst, fit.confidenceSecond) > 0.95);
});

test('two neurons in one cluster are split; the halves are the two neurons', async () => {
  const rng = new SeededRandom(2);
  const input = cluster(
    rng,
    [
      [8, 0, 0],
      [-4, 0, 0],
    ],
    [500, 700],
    false,
  );
  const r = await splitClusters(input, OPTIONS);
  assert.equal(r.nClusters, 2);
  assert.equal(r.splits.length, 1);
  const sizes = [0, 1].map((c) => r.clusters.filter((x) => x === c).length).sort((a, b) => a - b);
  assert.deepEqual(sizes, [500, 700]);
  // The same rows behind a selection, each after a decoy row of zeros: the same split.
  const n = input.samples.length;
  const real = input.pcFeatures.gather(
    'pc',
    Int32Array.from({ length: n }, (_, i) => i),
  );
  const rows = new Float32Array(2 * n * 12);
  for (let i = 0; i < n; i++) rows.set(real.subarray(i * 12, (i + 1) * 12), (2 * i + 1) * 12);
  const keep = Uint8Array.from({ length: 2 * n }, (_, i) => i % 2);
  const base = new MemorySpikeFeatures(2 * n, new Float32Array(0), rows);
  const viaView = await splitClusters({ ...input, pcFeatures: new SelectedSpikeFeatures(base, keep) }, OPTIONS);
  assert.deepEqual(viaView, r);
});

test('a unimodal cluster is not split', async () => {
  const input = cluster(new SeededRandom(3), [[0, 0, 0]], [1200], false);
  assert.equal((await splitClusters(input, OPTIONS)).nClusters, 1);
});

test('a bimodal cluster whose halves share a refractory period stays whole', async () => {
  const input = cluster(
    new SeededRandom(4),
    [
      [8, 0, 0],
      [-4, 0, 0],
    ],
    [500, 700],
    true,
  );
  assert.equal((await splitClusters(input, OPTIONS)).nClusters, 1);
});

test('clusters below the spike minimum are left alone', async () => {
  const input = cluster(
    new SeededRandom(5),
    [
      [8, 0, 0],
      [-4, 0, 0],
    ],
    [100, 150],
    false,
  );
  assert.equal((await splitClusters(input, OPTIONS)).nClusters, 1);
});

test('timeSegregation is near 0 for interleaved halves and near 1 for halves in different epochs', () => {
  const rng = new SeededRandom(6);
  const times = Float64Array.from({ length: 2000 }, (_, i) => i * 10);
  const mixed = Uint8Array.from(times, () => (rng.next() < 0.4 ? 1 : 0));
  assert.ok(timeSegregation(times, mixed, 20) < 0.05);
  const epochs = Uint8Array.from(times, (_, i) => (Math.floor(i / 500) % 2 === 0 ? 1 : 0));
  assert.ok(timeSegregation(times, epochs, 20) > 0.9);
});

test('a cluster whose waveform alternates between two states over long epochs (drift) is not split', async () => {
  const rng = new SeededRandom(7);
  const input = cluster(rng, [[0, 0, 0]], [4000], false, (pc) => {
    // epochs of 300 spikes, most spikes of an epoch in one of two feature states (a unit drifting
    // up and down), so the halves overlap in time and their cross-correlogram cannot veto
    for (let i = 0; i < 4000; i++) {
      const state = (Math.floor(i / 300) % 2 === 0) !== rng.next() < 0.1;
      const shift = state ? 8 : -4;
      for (let d = 0; d < 12; d += 4) pc[i * 12 + d]! += shift;
    }
  });
  // as when the running-mean detrend misses the drift (here: a window far longer than the epochs)
  const missed = { ...OPTIONS, detrendSigmaSpikes: 100_000 };
  assert.ok(
    (await splitClusters(input, { ...missed, maxTimeSegregation: Infinity })).nClusters > 1,
    'the pursuit splits it',
  );
  assert.equal((await splitClusters(input, missed)).nClusters, 1);
});

/**
 * Several clusters (spikes interleaved in time, independent trains): 2 and 4 hold three
 * populations each (split twice: the parent again, or the half split off), 1 two, 0 and 3 one,
 * 5 is below the spike minimum. Spikes of cluster c were found by template c or c + 6.
 */
function manyClusters(seed: number): SplitInput {
  const rng = new SeededRandom(seed);
  const nPc = 3;
  const k = 4;
  const dims = nPc * k;
  const populations: number[][][] = [
    [[0, 0, 0, 0]],
    [
      [7, 0, 0, 0],
      [-4, 0, 0, 0],
    ],
    [
      [12, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 12, 0, 0],
    ],
    [[2, 2, 0, 0]],
    [
      [0, 0, 9, 0],
      [0, 0, -9, 0],
      [0, 0, 0, 14],
    ],
    [
      [9, 0, 0, 0],
      [-9, 0, 0, 0],
    ],
  ];
  const sizes = [900, 1000, 1500, 700, 1350, 250];
  const labels: Array<[number, number]> = [];
  sizes.forEach((n, c) => {
    for (let i = 0; i < n; i++) labels.push([c, i % populations[c]!.length]);
  });
  rng.shuffle(labels);
  const total = labels.length;
  const samples = new Float64Array(total);
  const clusters = new Uint32Array(total);
  const spikeTemplates = new Uint32Array(total);
  const pc = new Float32Array(total * dims);
  let t = 0;
  labels.forEach(([c, p], i) => {
    t += Math.floor(-Math.log(1 - rng.next()) * 300);
    samples[i] = t;
    clusters[i] = c;
    spikeTemplates[i] = c + (rng.next() < 0.2 ? 6 : 0);
    const mean = populations[c]![p]!;
    for (let d = 0; d < dims; d++) pc[i * dims + d] = mean[d % k]! + gauss(rng);
  });
  // Templates c and c + 6 share channels 0…3 (in another order for the second), so features line up.
  const pcFeatureInd = new Uint32Array(12 * k);
  for (let j = 0; j < 12; j++) for (let i = 0; i < k; i++) pcFeatureInd[j * k + i] = j < 6 ? i : k - 1 - i;
  return {
    samples,
    clusters,
    nClusters: 6,
    spikeTemplates,
    pcFeatures: new MemorySpikeFeatures(total, new Float32Array(0), pc),
    pcFeatureInd,
    nPc,
    nFeatures: k,
  };
}

/** The sequential procedure, written out: each cluster in id order, again after each split; new ids at the end. */
function sequentialSplits(input: SplitInput, options: SplitOptions): SplitResult {
  const all = Int32Array.from({ length: input.samples.length }, (_, i) => i);
  const everything = {
    samples: input.samples,
    templates: input.spikeTemplates,
    rows: input.pcFeatures.gather('pc', all),
  };
  const ctx = { pcFeatureInd: input.pcFeatureInd, nPc: input.nPc, nFeatures: input.nFeatures, options, threads: 1 };
  const clusters = Uint32Array.from(input.clusters);
  const groups = groupByCluster(clusters, input.nClusters);
  const splits: SplitResult['splits'] = [];
  for (let c = 0; c < groups.length; c++) {
    const split = trySplit(ctx, everything, groups[c]!);
    if (split === null) continue;
    const child = groups.length;
    for (const s of split.first) clusters[s] = child;
    groups[c] = split.second;
    groups.push(split.first);
    splits.push({ parent: c, child, reference: split.reference });
    c--;
  }
  return { clusters, nClusters: groups.length, splits };
}

test('clusters split side by side get the ids of the sequential procedure, for any thread count, copy and budget', async () => {
  const input = manyClusters(11);
  const expected = sequentialSplits(input, OPTIONS);
  // The case is worth testing: nested splits, and a cluster split twice before the next one's turn.
  assert.ok(expected.splits.length >= 5, `${expected.splits.length} splits`);
  assert.ok(
    expected.splits.some((s) => s.parent >= input.nClusters),
    'a cluster split off is split again',
  );
  assert.ok(
    expected.splits.some((s, i) => i > 0 && s.parent === expected.splits[i - 1]!.parent && s.parent < input.nClusters),
    'a cluster is split twice in a row',
  );
  const { dir, cleanup } = tmpDir();
  try {
    const runs: Array<[number, boolean, number]> = [
      [1, false, 2 ** 30],
      [1, true, 2 ** 30],
      [2, true, 1],
      [3, false, 2 ** 30],
      [3, true, 2 ** 30],
    ];
    for (const [threads, scratch, memoryBudgetBytes] of runs) {
      const scratchDir = scratch ? path.join(dir, `scratch-${threads}`) : null;
      const stats = {} as SplitStats;
      const run = { threads, scratchDir, memoryBudgetBytes, stats };
      const got = await splitClusters(input, OPTIONS, run);
      const what = `threads ${threads}, scratch ${scratch}, budget ${memoryBudgetBytes}`;
      assert.deepEqual(got, expected, what);
      // Five clusters to split: as many at once as there are cores for them, one under the tiny budget.
      assert.equal(stats.concurrency, memoryBudgetBytes === 1 ? 1 : threads, what);
      assert.equal(stats.clusters, 5, what);
      assert.equal(stats.reads.reads, scratch ? 5 : 0, what);
      if (scratchDir !== null) assert.deepEqual(readdirSync(scratchDir), [], 'the copy is deleted');
      // A budget below every cluster: one cluster at a time (the largest, 1 500 spikes × 12 values).
      if (memoryBudgetBytes === 1) assert.ok(stats.peakBytes < 1500 * 12 * 40, `${what}: ${stats.peakBytes} bytes`);
    }
  } finally {
    cleanup();
  }
  assert.equal(existsSync(dir), false);
});

test('a cluster with a large share of the spikes gets several cores for its pursuits, with the same result', async () => {
  const input = manyClusters(11);
  const expected = sequentialSplits(input, OPTIONS);
  const stats = {} as SplitStats;
  const got = await splitClusters(input, OPTIONS, { threads: 8, stats });
  assert.deepEqual(got, expected);
  // 1 500 of the 5 450 spikes to look at: floor(2 · 8 · 1500 / 5450) = 4 cores, then 3 for the
  // 1 350 spikes' cluster; the 1 000 spikes' (2 cores) waits for them.
  assert.ok(stats.pursuitThreads >= 4, `${stats.pursuitThreads} threads`);
  assert.ok(stats.concurrency < 5, `${stats.concurrency} clusters at once`);
});

test('the splits memory budget: 256 MiB, or SPIKESHARD_SPLIT_MEMORY_MIB; a bad value names the variable', () => {
  assert.equal(splitMemoryBudget({}), 256 * 2 ** 20);
  assert.equal(splitMemoryBudget({ SPIKESHARD_SPLIT_MEMORY_MIB: '' }), 256 * 2 ** 20);
  assert.equal(splitMemoryBudget({ SPIKESHARD_SPLIT_MEMORY_MIB: '1024' }), 2 ** 30);
  for (const bad of ['8', '1.5', 'lots', '70000']) {
    assert.throws(
      () => splitMemoryBudget({ SPIKESHARD_SPLIT_MEMORY_MIB: bad }),
      (e: unknown) => e instanceof ParameterError && /SPIKESHARD_SPLIT_MEMORY_MIB: .*16 to 65536/.test(e.message),
    );
  }
});

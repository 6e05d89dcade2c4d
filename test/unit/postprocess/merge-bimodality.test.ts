// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bimodality, findMerges, type MergeFeatures } from '../../../coordinator/postprocess/merges.js';
import { SeededRandom } from '../../../coordinator/plan/random.js';
import { MemorySpikeFeatures, SelectedSpikeFeatures } from '../../../coordinator/formats/spike-features.js';

const FS = 30_000;

function gaussian(rng: SeededRandom): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

test('bimodality is 0 for one Gaussian cut in two and near 1 for two separated Gaussians', () => {
  const rng = new SeededRandom(5);
  const one = Float64Array.from({ length: 2000 }, () => gaussian(rng));
  const cut = Uint8Array.from(one, (v) => (v > 0.3 ? 1 : 0));
  assert.ok(bimodality(one, cut) < 0.3, `one mode: ${bimodality(one, cut)}`);
  const two = Float64Array.from({ length: 2000 }, (_, i) => gaussian(rng) + (i % 2 ? 6 : -6));
  const side = Uint8Array.from({ length: 2000 }, (_, i) => i % 2);
  assert.ok(bimodality(two, side) > 0.9, `two modes: ${bimodality(two, side)}`);
});

/** Two clusters with refractory trains that never coincide (as if one neuron); features decide. */
function pair(separation: number): { samples: Float64Array; labels: Uint32Array; features: MergeFeatures } {
  const rng = new SeededRandom(6);
  const samples: number[] = [];
  const labels: number[] = [];
  let t = 0;
  for (let i = 0; i < 3000; i++) {
    t += Math.round((0.003 - Math.log(1 - rng.next()) / 20) * FS);
    samples.push(t);
    labels.push(rng.next() < 0.3 ? 0 : 1);
  }
  // features: projection on template 0 and template 1 (each template's similar list is [0, 1])
  const values = new Float32Array(samples.length * 2);
  labels.forEach((l, i) => {
    const d = (l === 0 ? separation / 2 : -separation / 2) + gaussian(rng);
    values[i * 2] = 10 + d / 2;
    values[i * 2 + 1] = 10 - d / 2;
  });
  return {
    samples: Float64Array.from(samples),
    labels: Uint32Array.from(labels),
    features: {
      source: new MemorySpikeFeatures(samples.length, values, new Float32Array(0)),
      similar: Int32Array.from([0, 1, 0, 1]),
      nSimilar: 2,
      spikeTemplates: Uint32Array.from(labels),
    },
  };
}

const OPTIONS = { sampleRateHz: FS, similarityThreshold: 0.5, maxContamination: 0.2, maxPValue: 0.05 };
const SIM = new Float32Array([1, 0.8, 0.8, 1]);

test('a refractory pair whose spikes form one population is merged', () => {
  const p = pair(0.5);
  const r = findMerges(p.samples, p.labels, 2, SIM, OPTIONS, p.features);
  assert.deepEqual(r.merges, [{ from: 0, into: 1 }]);
});

test('a refractory-looking pair whose spikes form two populations stays apart', () => {
  const p = pair(8);
  assert.deepEqual(findMerges(p.samples, p.labels, 2, SIM, OPTIONS).merges, [{ from: 0, into: 1 }]);
  const r = findMerges(p.samples, p.labels, 2, SIM, OPTIONS, p.features);
  assert.deepEqual(r.merges, []);
});

/**
 * The same features behind a selection: each real row follows a decoy row that would flip the
 * decision if read in its place (two far-apart modes, 0 vs 100).
 */
function behindSelection(f: MergeFeatures): MergeFeatures {
  const n = f.source.nSpikes;
  const real = f.source.gather(
    'template',
    Int32Array.from({ length: n }, (_, i) => i),
  );
  const rows = new Float32Array(2 * n * 2);
  const keep = new Uint8Array(2 * n);
  for (let i = 0; i < n; i++) {
    rows.set(i % 2 ? [0, 100] : [100, 0], 2 * i * 2);
    rows.set(real.subarray(2 * i, 2 * i + 2), (2 * i + 1) * 2);
    keep[2 * i + 1] = 1;
  }
  return { ...f, source: new SelectedSpikeFeatures(new MemorySpikeFeatures(2 * n, rows, new Float32Array(0)), keep) };
}

test("merges read the pair's rows through a selection of the engine's spikes, not the rows beside them", () => {
  for (const [separation, merges] of [
    [0.5, [{ from: 0, into: 1 }]],
    [8, []],
  ] as const) {
    const p = pair(separation);
    const r = findMerges(p.samples, p.labels, 2, SIM, OPTIONS, behindSelection(p.features));
    assert.deepEqual(r.merges, merges, `separation ${separation}`);
  }
  const p = pair(0.5);
  const short = { ...p.features, source: new MemorySpikeFeatures(5, new Float32Array(10), new Float32Array(0)) };
  assert.throws(() => findMerges(p.samples, p.labels, 2, SIM, OPTIONS, short), /features of 5 spikes/);
});

// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { removeDuplicates } from '../../../coordinator/postprocess/duplicates.js';
import { SeededRandom } from '../../../coordinator/plan/random.js';

interface Spike {
  t: number;
  c: number;
  score: number;
}

function arrays(spikes: Spike[]): { samples: Float64Array; clusters: Uint32Array; scores: Float32Array } {
  spikes.sort((x, y) => x.t - y.t || x.c - y.c);
  return {
    samples: Float64Array.from(spikes, (s) => s.t),
    clusters: Uint32Array.from(spikes, (s) => s.c),
    scores: Float32Array.from(spikes, (s) => s.score),
  };
}

/** n spike times at least 200 samples apart over two minutes at 30 kHz. */
function times(rng: SeededRandom, n: number): number[] {
  const out = new Set<number>();
  while (out.size < n) out.add(200 * Math.floor(rng.next() * 18_000));
  return [...out];
}

test('the weaker second report of each event is dropped; the neuron keeps its spikes', () => {
  const rng = new SeededRandom(31);
  const neuron = times(rng, 300);
  const other = times(rng, 400).map((t) => t + 77);
  const spikes: Spike[] = [
    ...neuron.map((t) => ({ t, c: 0, score: 12 + rng.next() })),
    // cluster 1: an echo of 80 % of the neuron's spikes 5 samples late (weaker), plus 300 events of its own
    ...neuron.filter((_, i) => i % 5 !== 0).map((t) => ({ t: t + 5, c: 1, score: 7 + rng.next() })),
    ...times(rng, 300).map((t) => ({ t: t + 111, c: 1, score: 7 + rng.next() })),
    // cluster 2: an independent neuron
    ...other.map((t) => ({ t, c: 2, score: 10 })),
  ];
  const { samples, clusters, scores } = arrays(spikes);
  const r = removeDuplicates(samples, clusters, scores, 3, { maxLagSamples: 12, minFraction: 0.5 });
  // Cluster 0 (300 spikes, 240 coinciding: 80 %) is the smaller, yet the copy is cluster 1, the weaker side.
  assert.deepEqual(r.pairs, [{ copy: 1, original: 0, dropped: 240 }]);
  for (let i = 0; i < samples.length; i++) {
    const echo = clusters[i] === 1 && (samples[i]! - 5) % 200 === 0;
    assert.equal(r.keep[i], echo ? 0 : 1, `spike ${i} of cluster ${clusters[i]} at ${samples[i]}`);
  }
});

test('a template that reports the whole of another one is emptied; occasional coincidences are left alone', () => {
  const rng = new SeededRandom(32);
  const neuron = times(rng, 500);
  const b = times(rng, 500).map((t) => t + 3); // independent, but some events fall within 12 samples of a's
  const spikes: Spike[] = [
    ...neuron.map((t) => ({ t, c: 0, score: 10 })),
    ...neuron.map((t) => ({ t: t - 4, c: 1, score: 9 })),
    ...b.map((t) => ({ t, c: 2, score: 20 })),
  ];
  const { samples, clusters, scores } = arrays(spikes);
  const r = removeDuplicates(samples, clusters, scores, 3, { maxLagSamples: 12, minFraction: 0.5 });
  assert.deepEqual(r.pairs, [{ copy: 1, original: 0, dropped: 500 }]);
  let keptOf2 = 0;
  for (let i = 0; i < samples.length; i++) if (clusters[i] === 2) keptOf2 += r.keep[i]!;
  assert.equal(keptOf2, 500);
  assert.throws(
    () => removeDuplicates(samples, clusters.subarray(1), scores, 3, { maxLagSamples: 12, minFraction: 0.5 }),
    /cluster ids/,
  );
});

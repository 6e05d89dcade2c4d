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

/** The first implementation: every pair scanned over all spikes, coincidences counted in a Map. */
function referenceDuplicates(
  samples: Float64Array,
  clusters: Uint32Array,
  scores: Float32Array,
  nClusters: number,
  d: number,
  minFraction: number,
): { keep: Uint8Array; pairs: Array<{ copy: number; original: number; dropped: number }> } {
  const n = samples.length;
  const counts = new Array<number>(nClusters).fill(0);
  for (const c of clusters) counts[c]!++;
  const coincident = new Map<number, number>();
  const lastSpikeOf = new Int32Array(nClusters).fill(-1);
  let lo = 0;
  for (let i = 0; i < n; i++) {
    while (samples[lo]! < samples[i]! - d) lo++;
    for (let j = lo; j < n && samples[j]! <= samples[i]! + d; j++) {
      const b = clusters[j]!;
      if (b === clusters[i] || lastSpikeOf[b] === i) continue;
      lastSpikeOf[b] = i;
      const k = clusters[i]! * nClusters + b;
      coincident.set(k, (coincident.get(k) ?? 0) + 1);
    }
  }
  const candidates = [...coincident]
    .map(([k, c]) => ({
      a: Math.floor(k / nClusters),
      b: k % nClusters,
      fraction: c / counts[Math.floor(k / nClusters)]!,
    }))
    .filter((x) => x.fraction >= minFraction)
    .sort((x, y) => y.fraction - x.fraction || x.a - y.a || x.b - y.b);
  const keep = new Uint8Array(n).fill(1);
  const done = new Set<number>();
  const pairs: Array<{ copy: number; original: number; dropped: number }> = [];
  for (const { a, b } of candidates) {
    const pk = Math.min(a, b) * nClusters + Math.max(a, b);
    if (done.has(pk)) continue;
    done.add(pk);
    const matches: Array<[number, number]> = [];
    let winsA = 0;
    for (let i = 0; i < n; i++) {
      if (clusters[i] !== a || !keep[i]) continue;
      let best = -1;
      for (let j = 0; j < n; j++) {
        if (clusters[j] !== b || !keep[j] || Math.abs(samples[j]! - samples[i]!) > d) continue;
        if (best < 0 || Math.abs(samples[j]! - samples[i]!) < Math.abs(samples[best]! - samples[i]!)) best = j;
      }
      if (best < 0) continue;
      matches.push([i, best]);
      if (scores[i]! > scores[best]! || (scores[i] === scores[best] && i < best)) winsA++;
    }
    if (matches.length < minFraction * Math.min(counts[a]!, counts[b]!)) continue;
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

test('the same pairs and dropped spikes as a scan of every spike, with few or very many clusters', () => {
  for (const nClusters of [12, 5000]) {
    const rng = new SeededRandom(nClusters);
    const spikes: Spike[] = [];
    // Clusters 2k + 1 echo part of cluster 2k (ties in time and score included); the rest is noise.
    for (let c = 0; c + 1 < 12; c += 2) {
      for (const t of times(rng, 60)) {
        spikes.push({ t, c, score: 5 + Math.floor(4 * rng.next()) });
        if (rng.next() < 0.7)
          spikes.push({ t: t + Math.floor(7 * rng.next()) - 3, c: c + 1, score: 5 + Math.floor(4 * rng.next()) });
      }
    }
    for (let k = 0; k < 400; k++)
      spikes.push({ t: Math.floor(rng.next() * 3_600_000), c: Math.floor(rng.next() * nClusters), score: 6 });
    const { samples, clusters, scores } = arrays(spikes);
    const want = referenceDuplicates(samples, clusters, scores, nClusters, 6, 0.5);
    const got = removeDuplicates(samples, clusters, scores, nClusters, { maxLagSamples: 6, minFraction: 0.5 });
    assert.ok(want.pairs.length >= 4, `${nClusters} clusters: the fixture has duplicate pairs (${want.pairs.length})`);
    assert.deepEqual(got.pairs, want.pairs);
    assert.deepEqual(got.keep, want.keep);
  }
});

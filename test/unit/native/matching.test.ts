// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_CORRELATION_OPTIONS,
  DEFAULT_FACTORIZE_OPTIONS,
  DEFAULT_MATCH_OPTIONS,
  DEFAULT_PROPOSAL_OPTIONS,
  factorizeTemplates,
  loadCpuBinding,
  matchBatch,
  nearestChannels,
  peakChannels,
  proposeTemplates,
  templateCorrelations,
  templateSimilarity,
  zeroLagSimilarity,
} from '../../../native/lib/index.js';
import type { ChannelNeighbourhoods, MeanWaveforms, TemplateModel } from '../../../native/lib/index.js';

const nt0 = 61;
const nt0min = 20;
const nChannels = 24;

/** A linear probe: channel c at (0, 20·c) µm. */
function probe(nNeighbours: number): ChannelNeighbourhoods {
  const x = new Float32Array(nChannels);
  const y = Float32Array.from({ length: nChannels }, (_, c) => 20 * c);
  return nearestChannels(x, y, nNeighbours);
}

/** dWU of templates with a Gaussian trough at nt0min and a Gaussian spatial profile. */
function meanWaveforms(peaks: number[], amplitudes: number[]): MeanWaveforms {
  const values = new Float64Array(peaks.length * nt0 * nChannels);
  peaks.forEach((peak, j) => {
    const width = 1.5 + 0.5 * j;
    for (let t = 0; t < nt0; t++) {
      const shape = -Math.exp(-0.5 * ((t - nt0min) / width) ** 2) + 0.3 * Math.exp(-0.5 * ((t - nt0min - 8) / 3) ** 2);
      for (let c = 0; c < nChannels; c++) {
        values[(j * nt0 + t) * nChannels + c] = amplitudes[j]! * shape * Math.exp(-0.5 * ((c - peak) / 1.5) ** 2);
      }
    }
  });
  return { nTemplates: peaks.length, templateSamples: nt0, nChannels, values };
}

function model(): TemplateModel {
  const neighbourhoods = probe(8);
  const dwu = meanWaveforms([5, 7, 17], [12, 15, 10]);
  return factorizeTemplates(dwu, neighbourhoods, peakChannels(dwu, nt0min), DEFAULT_FACTORIZE_OPTIONS);
}

/** Σ amplitude·T_id placed at each window start. */
function render(m: TemplateModel, nSamples: number, spikes: { start: number; id: number; amplitude: number }[]) {
  const x = new Float32Array(nSamples * nChannels);
  for (const s of spikes) {
    for (let t = 0; t < nt0; t++) {
      for (let c = 0; c < nChannels; c++) {
        let v = 0;
        for (let k = 0; k < m.rank; k++) {
          v += m.temporal[(s.id * nt0 + t) * m.rank + k]! * m.spatial[(s.id * nChannels + c) * m.rank + k]!;
        }
        x[(s.start + t) * nChannels + c]! += s.amplitude * v;
      }
    }
  }
  return x;
}

test('nearestChannels lists each channel first, then its neighbours by distance', () => {
  const n = probe(3);
  assert.deepEqual(Array.from(n.channels.subarray(0, 3)), [0, 1, 2]);
  assert.deepEqual(Array.from(n.channels.subarray(30, 33)), [10, 9, 11]);
});

test('factorizeTemplates gives unit-norm templates aligned at the trough sample', () => {
  const m = model();
  assert.equal(m.nTemplates, 3);
  assert.deepEqual(Array.from(m.peakChannel), [5, 7, 17]);
  for (let j = 0; j < m.nTemplates; j++) {
    let norm2 = 0;
    for (let t = 0; t < nt0; t++) {
      for (let c = 0; c < nChannels; c++) {
        let v = 0;
        for (let k = 0; k < m.rank; k++) {
          v += m.temporal[(j * nt0 + t) * m.rank + k]! * m.spatial[(j * nChannels + c) * m.rank + k]!;
        }
        norm2 += v * v;
      }
    }
    assert.ok(Math.abs(norm2 - 1) < 1e-5, `template ${j} has squared norm ${norm2}`);
    assert.ok(m.temporal[(j * nt0 + nt0min) * m.rank]! < 0);
  }
  assert.ok(Math.abs(m.meanAmplitude[0]! - 12 * Math.sqrt(meanWaveformNorm2(0))) < 0.05 * m.meanAmplitude[0]!);
});

/** ||dWU_j|| / amplitude_j for the generator above (the spatial profile is well inside 8 channels). */
function meanWaveformNorm2(j: number): number {
  const dwu = meanWaveforms([5, 7, 17], [1, 1, 1]);
  let s = 0;
  for (let i = j * nt0 * nChannels; i < (j + 1) * nt0 * nChannels; i++) s += dwu.values[i]! ** 2;
  return s;
}

test('matchBatch recovers noiseless spikes and reports only those it owns', () => {
  const m = model();
  const mu = m.meanAmplitude;
  const planted = [
    { start: 40, id: 0, amplitude: mu[0]! }, // trough 60: in the leading halo
    { start: 200, id: 1, amplitude: 1.1 * mu[1]! },
    { start: 215, id: 2, amplitude: 0.9 * mu[2]! }, // overlaps the previous one in time, disjoint channels
    { start: 400, id: 0, amplitude: 0.95 * mu[0]! },
  ];
  const nSamples = 600;
  const samples = render(m, nSamples, planted);
  const r = matchBatch({ samples, nSamples, nChannels, haloSamples: 100, ownSamples: 450 }, m, {
    ...DEFAULT_MATCH_OPTIONS,
    threads: 1,
  });
  assert.deepEqual(Array.from(r.sample), [200 + nt0min - 100, 215 + nt0min - 100, 400 + nt0min - 100]);
  assert.deepEqual(Array.from(r.templateId), [1, 2, 0]);
  planted.slice(1).forEach((p, i) => {
    assert.ok(
      Math.abs(r.amplitude[i]! - p.amplitude) < 1e-4 * p.amplitude,
      `amplitude ${r.amplitude[i]} vs ${p.amplitude}`,
    );
  });
  assert.equal(r.spikesFound, 4);
  assert.ok(r.residual.every((v) => Math.abs(v) < 1e-3));
  assert.equal(r.snippetCounts?.length, 3);
  assert.equal(r.templateFeatures, null);
});

test('matchBatch gives the same result with exact score updates and with any thread count', () => {
  const m = model();
  const nSamples = 3000;
  const planted = Array.from({ length: 30 }, (_, i) => ({
    start: 50 + i * 95,
    id: i % 3,
    amplitude: m.meanAmplitude[i % 3]! * (0.9 + 0.05 * (i % 5)),
  }));
  const samples = render(m, nSamples, planted);
  let seed = 7;
  for (let i = 0; i < samples.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    samples[i]! += (seed / 2 ** 31 - 0.5) * 0.5;
  }
  const batch = { samples, nSamples, nChannels, haloSamples: 0, ownSamples: nSamples };
  const cor = templateCorrelations(m, DEFAULT_CORRELATION_OPTIONS);
  const options = { ...DEFAULT_MATCH_OPTIONS, similarTemplates: cor, threads: 1 };
  const one = matchBatch(batch, m, options);
  const two = matchBatch(batch, m, { ...options, threads: 2 });
  assert.deepEqual(two, one);
  const exact = matchBatch(batch, m, { ...options, crossCorrelation: cor.crossCorrelation });
  assert.deepEqual(exact.sample, one.sample);
  assert.deepEqual(exact.templateId, one.templateId);
  assert.equal(one.sample.length, 30);
  assert.equal(one.templateFeatures?.length, 30 * cor.nSimilar);
  // WtW derived by the matcher from the model is the array above, bit for bit.
  const derived = matchBatch(batch, m, { ...options, deriveCrossCorrelation: true });
  assert.deepEqual(derived, exact);
  assert.throws(
    () => matchBatch(batch, m, { ...options, crossCorrelation: cor.crossCorrelation, deriveCrossCorrelation: true }),
    /deriveCrossCorrelation.*false when options.crossCorrelation is given/,
  );
});

test('templateCorrelations are mirror-symmetric with unit self-similarity', () => {
  const m = model();
  const r = templateCorrelations(m, { nSimilarMax: 2, threads: 0 });
  assert.equal(r.nLags, 2 * nt0 - 1);
  const F = m.nTemplates;
  for (let a = 0; a < F; a++) {
    assert.ok(Math.abs(r.similarity[a * F + a]! - 1) < 1e-5);
    assert.equal(r.similar[a * 2], a);
    for (let b = 0; b < F; b++) {
      for (let l = 0; l < r.nLags; l++) {
        assert.equal(
          r.crossCorrelation[(a * F + b) * r.nLags + l],
          r.crossCorrelation[(b * F + a) * r.nLags + r.nLags - 1 - l],
        );
      }
    }
  }
  const cc = zeroLagSimilarity(m);
  assert.equal(cc[0 * F + 1], r.crossCorrelation[(0 * F + 1) * r.nLags + nt0 - 1]);
  assert.equal(cc[0 * F + 2], 0); // disjoint neighbourhoods
});

test("templateSimilarity gives templateCorrelations' similarity and lists, bit for bit, without WtW", () => {
  const m = model();
  for (const nSimilarMax of [1, 2, 32]) {
    const full = templateCorrelations(m, { nSimilarMax, threads: 0 });
    const only = templateSimilarity(m, { nSimilarMax, threads: 1 });
    assert.equal('crossCorrelation' in only, false);
    assert.equal(only.nTemplates, full.nTemplates);
    assert.equal(only.nLags, full.nLags);
    assert.equal(only.nSimilar, full.nSimilar);
    assert.deepEqual(new Uint8Array(only.similarity.buffer), new Uint8Array(full.similarity.buffer));
    assert.deepEqual(only.similar, full.similar);
    // The maximum over lags of WtW, as its definition says.
    const F = m.nTemplates;
    for (let a = 0; a < F; a++) {
      for (let b = 0; b < F; b++) {
        const lags = full.crossCorrelation.subarray((a * F + b) * full.nLags, (a * F + b + 1) * full.nLags);
        const overlap = lags.some((x) => x !== 0);
        if (overlap) assert.equal(only.similarity[a * F + b], Math.max(...lags));
      }
    }
  }
  assert.throws(() => templateSimilarity(m, { nSimilarMax: 0, threads: 0 }), RangeError);
});

test('proposeTemplates finds an isolated spike at its trough and peak channel', () => {
  const values = new Float32Array(nt0 * 2);
  for (let t = 0; t < nt0; t++) {
    values[t * 2] = -Math.exp(-0.5 * ((t - nt0min) / 1.5) ** 2) / 1.94;
    values[t * 2 + 1] = Math.exp(-0.5 * ((t - nt0min - 8) / 3) ** 2) / 2.7;
  }
  const nSamples = 500;
  const samples = new Float32Array(nSamples * nChannels);
  for (let t = 0; t < nt0; t++) {
    for (let c = 0; c < nChannels; c++) {
      samples[(250 + t) * nChannels + c] = 25 * values[t * 2]! * Math.exp(-0.5 * ((c - 11) / 1.5) ** 2);
    }
  }
  const p = proposeTemplates(
    { samples, nSamples, nChannels, haloSamples: 0, ownSamples: nSamples },
    { templateSamples: nt0, nPrototypes: 2, values },
    probe(8),
    DEFAULT_PROPOSAL_OPTIONS,
  );
  assert.deepEqual(Array.from(p.sample), [250 + nt0min]);
  assert.deepEqual(Array.from(p.channel), [11]);
  assert.equal(p.snippets.length, nt0 * nChannels);
  assert.equal(p.snippets[nt0min * nChannels + 11], samples[(250 + nt0min) * nChannels + 11]);
});

test('the bindings name the argument that is wrong', () => {
  const m = model();
  const samples = new Float32Array(100 * nChannels);
  const batch = { samples, nSamples: 100, nChannels, haloSamples: 0, ownSamples: 100 };
  assert.throws(
    () => matchBatch({ ...batch, samples: new Float32Array(10) }, m, DEFAULT_MATCH_OPTIONS),
    (e: unknown) => e instanceof RangeError && /samples: expected 2400 elements .*got 10/.test(e.message),
  );
  assert.throws(
    () =>
      matchBatch(
        batch,
        { ...m, temporal: new Float64Array(m.temporal.length) as unknown as Float32Array },
        DEFAULT_MATCH_OPTIONS,
      ),
    (e: unknown) =>
      e instanceof TypeError && /model\.temporal: expected a Float32Array, got Float64Array/.test(e.message),
  );
  assert.throws(
    () => matchBatch({ ...batch, ownSamples: 101 }, m, DEFAULT_MATCH_OPTIONS),
    (e: unknown) => e instanceof RangeError && /options\.ownSamples/.test(e.message),
  );
  assert.throws(
    () => matchBatch(batch, m, { ...DEFAULT_MATCH_OPTIONS, threshold: Number.NaN }),
    (e: unknown) => e instanceof RangeError && /options\.threshold/.test(e.message),
  );
  const raw = loadCpuBinding() as unknown as { matchBatch: (...args: unknown[]) => unknown };
  assert.throws(
    () => raw.matchBatch(samples, 100),
    (e: unknown) => e instanceof TypeError && /5 arguments/.test(e.message),
  );
  const outside = { ...m, spatial: m.spatial.slice() };
  outside.spatial[(0 * nChannels + 20) * m.rank] = 1; // channel 20 is outside template 0's neighbourhood
  assert.throws(
    () => matchBatch(batch, outside, DEFAULT_MATCH_OPTIONS),
    (e: unknown) => e instanceof RangeError && /outside the neighbourhood/.test(e.message),
  );
});

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * A small SortingResult whose parts agree with each other, for the writers' tests: unit-norm
 * templates with a trough at nt0min on their peak channel, features computed from the templates
 * and the amplitudes (plus a little noise), ascending spike samples, a symmetric and well
 * conditioned whitening matrix, Neuropixels-like positions. Random but seeded.
 */
import assert from 'node:assert/strict';
import type { ClusterLabel, SortingResult } from '../../coordinator/formats/sorting-result.js';
import { MemorySpikeFeatures, type FeatureKind, type SpikeFeatures } from '../../coordinator/formats/spike-features.js';

export interface SortingFixtureOptions {
  seed?: number;
  nChannels?: number;
  nTemplates?: number;
  nSpikes?: number;
  /** Shanks side by side (channels split evenly); 1 by default. */
  nShanks?: number;
  /** Path of the (absent) raw file. */
  datPath?: string;
}

/** mulberry32: a small seeded generator of uniform numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

export const FIXTURE_SAMPLE_RATE_HZ = 30000;
/** µV per count of every fixture channel (Neuropixels 1.0 AP band, gain 500). */
export const FIXTURE_UV_PER_COUNT = 2.34375;
const SHANK_PITCH_UM = 250;
const BATCH_SAMPLES = 6000;

export function makeSortingFixture(options: SortingFixtureOptions = {}): SortingResult {
  const seed = options.seed ?? 1;
  const C = options.nChannels ?? 8;
  const T = options.nTemplates ?? 3;
  const S = options.nSpikes ?? 300;
  const nShanks = options.nShanks ?? 1;
  const nt0 = 61;
  const nt0min = 20;
  const nPc = 3;
  const K = Math.min(T, C, 32);
  const nSamples = 2 * FIXTURE_SAMPLE_RATE_HZ;
  const rand = seededRandom(seed);
  const randn = gaussian(rand);

  // Neuropixels 1.0 staggered columns, two sites per row, 20 µm rows; shanks side by side.
  const perShank = Math.ceil(C / nShanks);
  const localPositionsUm = new Float64Array(2 * C);
  const sortingPositionsUm = new Float64Array(2 * C);
  const shanks = new Int32Array(C);
  for (let c = 0; c < C; c++) {
    const shank = Math.floor(c / perShank);
    const i = c - shank * perShank;
    shanks[c] = shank;
    localPositionsUm[2 * c] = [43, 11, 59, 27][i % 4]!;
    localPositionsUm[2 * c + 1] = 20 * Math.floor(i / 2);
    sortingPositionsUm[2 * c] = localPositionsUm[2 * c]! + SHANK_PITCH_UM * shank;
    sortingPositionsUm[2 * c + 1] = localPositionsUm[2 * c + 1]!;
  }
  // Skip one raw column half-way (a reference site), so raw indices differ from sorted ones.
  const channelMap = Int32Array.from({ length: C }, (_, c) => (c < C / 2 ? c : c + 1));
  const dist = (a: number, b: number): number =>
    Math.hypot(
      sortingPositionsUm[2 * a]! - sortingPositionsUm[2 * b]!,
      sortingPositionsUm[2 * a + 1]! - sortingPositionsUm[2 * b + 1]!,
    );

  // Symmetric and diagonally dominant: noise of ~10 counts per channel, weak neighbour coupling.
  const whitening = new Float64Array(C * C);
  for (let c = 0; c < C; c++) whitening[c * C + c] = 1 / (8 + 4 * rand());
  for (let a = 0; a < C; a++) {
    for (let b = a + 1; b < C; b++) {
      const w = dist(a, b) < 50 ? -0.01 * rand() : 0;
      whitening[a * C + b] = w;
      whitening[b * C + a] = w;
    }
  }

  const peakChannels = Array.from({ length: T }, (_, t) => Math.min(C - 1, Math.floor(((t + 0.5) * C) / T)));
  const waveforms = new Float32Array(T * nt0 * C);
  for (let t = 0; t < T; t++) {
    const width = 1.5 + rand();
    let norm2 = 0;
    const wf = new Float64Array(nt0 * C);
    for (let c = 0; c < C; c++) {
      const spatial = Math.exp(-dist(c, peakChannels[t]!) / 25);
      for (let i = 0; i < nt0; i++) {
        const trough = -Math.exp(-((i - nt0min) ** 2) / (2 * width * width));
        const rebound = 0.35 * Math.exp(-((i - nt0min - 8) ** 2) / (2 * 16));
        const v = spatial * (trough + rebound) + 0.002 * randn();
        wf[i * C + c] = v;
        norm2 += v * v;
      }
    }
    const norm = Math.sqrt(norm2);
    for (let j = 0; j < wf.length; j++) waveforms[t * nt0 * C + j] = wf[j]! / norm;
  }
  const template = (t: number, i: number, c: number): number => waveforms[(t * nt0 + i) * C + c]!;

  // Temporal PCs: a trough, its slope and a slower wave, orthonormalised.
  const pcBasis = new Float32Array(nt0 * nPc);
  const basis: Float64Array[] = [
    Float64Array.from({ length: nt0 }, (_, i) => -Math.exp(-((i - nt0min) ** 2) / 8)),
    Float64Array.from({ length: nt0 }, (_, i) => (i - nt0min) * Math.exp(-((i - nt0min) ** 2) / 8)),
    Float64Array.from({ length: nt0 }, (_, i) => Math.exp(-((i - nt0min - 8) ** 2) / 50)),
  ];
  for (let p = 0; p < nPc; p++) {
    const b = basis[p]!;
    for (let q = 0; q < p; q++) {
      let d = 0;
      for (let i = 0; i < nt0; i++) d += b[i]! * basis[q]![i]!;
      for (let i = 0; i < nt0; i++) b[i]! -= d * basis[q]![i]!;
    }
    const n = Math.hypot(...b);
    for (let i = 0; i < nt0; i++) {
      b[i]! /= n;
      pcBasis[i * nPc + p] = b[i]!;
    }
  }

  // Max over lags of the cross-correlation of unit-norm templates.
  const similarity = new Float32Array(T * T);
  for (let a = 0; a < T; a++) {
    for (let b = 0; b < T; b++) {
      let best = -Infinity;
      for (let lag = -10; lag <= 10; lag++) {
        let s = 0;
        for (let i = Math.max(0, -lag); i < Math.min(nt0, nt0 - lag); i++) {
          for (let c = 0; c < C; c++) s += template(a, i, c) * template(b, i + lag, c);
        }
        best = Math.max(best, s);
      }
      similarity[a * T + b] = best;
    }
  }
  const featureInd = new Uint32Array(T * K);
  const pcFeatureInd = new Uint32Array(T * K);
  for (let t = 0; t < T; t++) {
    const bySimilarity = Array.from({ length: T }, (_, u) => u).sort((a, b) =>
      a === t ? -1 : b === t ? 1 : similarity[t * T + b]! - similarity[t * T + a]!,
    );
    const byDistance = Array.from({ length: C }, (_, c) => c).sort(
      (a, b) => dist(a, peakChannels[t]!) - dist(b, peakChannels[t]!) || a - b,
    );
    for (let k = 0; k < K; k++) {
      featureInd[t * K + k] = bySimilarity[k]!;
      pcFeatureInd[t * K + k] = byDistance[k]!;
    }
  }

  const samples = Float64Array.from({ length: S }, () => nt0 + Math.floor(rand() * (nSamples - 2 * nt0))).sort();
  // Every template gets spikes: the first T spikes go round-robin, the rest at random.
  const spikeTemplates = Uint32Array.from({ length: S }, (_, s) => (s < T ? s : Math.floor(rand() * T)));
  const amplitudes = Float64Array.from({ length: S }, () => 10 + 20 * rand());
  const scores = Float32Array.from(amplitudes, (y) => y * (0.9 + 0.1 * rand()));
  const templateFeatures = new Float32Array(S * K);
  const pcFeatures = new Float32Array(S * nPc * K);
  for (let s = 0; s < S; s++) {
    const t = spikeTemplates[s]!;
    const y = amplitudes[s]!;
    for (let k = 0; k < K; k++) {
      const u = featureInd[t * K + k]!;
      let overlap = 0;
      for (let j = 0; j < nt0 * C; j++) overlap += waveforms[t * nt0 * C + j]! * waveforms[u * nt0 * C + j]!;
      templateFeatures[s * K + k] = y * overlap + 0.3 * randn();
      const c = pcFeatureInd[t * K + k]!;
      for (let p = 0; p < nPc; p++) {
        let proj = 0;
        for (let i = 0; i < nt0; i++) proj += template(t, i, c) * pcBasis[i * nPc + p]!;
        pcFeatures[(s * nPc + p) * K + k] = y * proj + 0.1 * randn();
      }
    }
  }

  const nBatches = Math.ceil(nSamples / BATCH_SAMPLES);
  const yMax = Math.max(...Array.from({ length: C }, (_, c) => localPositionsUm[2 * c + 1]!));
  const depthsUm = Float64Array.from([yMax / 4, (3 * yMax) / 4]);
  const labels: ClusterLabel[] = Array.from({ length: T }, (_, t) => (t % 2 === 0 ? 'good' : 'mua'));
  const contamPct = Float64Array.from({ length: T }, (_, t) => (t === T - 1 ? NaN : 40 * rand()));

  return {
    sampleRateHz: FIXTURE_SAMPLE_RATE_HZ,
    datPath: options.datPath ?? '/nonexistent/fixture_g0_t0.imec0.ap.bin',
    nChannelsDat: C + 2,
    nSamples,
    probe: {
      label: 'imec0',
      type: nShanks > 1 ? 'np2-4shank' : 'np1',
      channelMap,
      localPositionsUm,
      sortingPositionsUm,
      shanks,
      channelLabels: new Int8Array(C),
      uvPerCount: new Float64Array(C).fill(FIXTURE_UV_PER_COUNT),
    },
    nt0,
    nt0min,
    spikes: {
      samples,
      templates: spikeTemplates,
      amplitudes,
      scores,
      features: new MemorySpikeFeatures(S, templateFeatures, pcFeatures),
    },
    templates: {
      count: T,
      waveforms,
      featureInd,
      pcFeatureInd,
      similarity,
      thresholds: Float64Array.from({ length: T }, (_, t) => 8 + t),
      labels,
      contamPct,
    },
    pcBasis,
    nPc,
    nFeatures: K,
    whitening,
    drift: {
      um: Float64Array.from({ length: nBatches * depthsUm.length }, () => 5 * randn()),
      depthsUm,
      timesS: Float64Array.from({ length: nBatches }, (_, b) => ((b + 0.5) * BATCH_SAMPLES) / FIXTURE_SAMPLE_RATE_HZ),
    },
    provenance: { generator: 'sorting-fixture', seed },
  };
}

/** Every row of one kind of `features`, in spike order, as one array (tests only: small sources). */
export function allRows(features: SpikeFeatures, kind: FeatureKind): Float32Array {
  const out = new Float32Array(features.nSpikes * features.width(kind));
  let at = 0;
  features.scan(kind, null, (chunk) => {
    out.set(chunk, at);
    at += chunk.length;
  });
  assert.equal(at, out.length, `${kind} features: the scan gave ${at} values, expected ${out.length}`);
  return out;
}

/** `result`'s features replaced by in-memory copies that `edit` may change first. */
export function editFeatures(result: SortingResult, edit: (template: Float32Array, pc: Float32Array) => void): void {
  const f = result.spikes.features;
  const template = allRows(f, 'template');
  const pc = allRows(f, 'pc');
  edit(template, pc);
  result.spikes.features = new MemorySpikeFeatures(f.nSpikes, template, pc);
}

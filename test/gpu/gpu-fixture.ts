// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Shared inputs and comparisons of the GPU parity suite and the CUDA micro-benchmark: seeded
 * random batches shaped like Neuropixels data, a random local-whitening neighbourhood, a
 * near-identity kriging matrix, and error statistics between a CPU and a CUDA result.
 */
import { adcSampleShift, type DestripeOptions } from '../../native/lib/destripe.js';
import { loadCudaBinding, type CudaLoadResult } from '../../native/lib/load.js';
import {
  DEFAULT_FACTORIZE_OPTIONS,
  factorizeTemplates,
  nearestChannels,
  peakChannels,
  type TemplateModel,
} from '../../native/lib/matching.js';

const nt0 = 61;
const nt0min = 20;

/** Deterministic uniform [0, 1) generator (mulberry32). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(next: () => number): number {
  const u = Math.max(next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
}

/**
 * int16 raw block (nSamples × rowStride): per-channel offset, a slow common-mode wave, noise of
 * about 20 counts and occasional negative spikes; values outside the row's first nChannels are junk
 * that must be ignored.
 */
export function rawBlock(nSamples: number, nChannels: number, rowStride: number, seed: number): Int16Array {
  const next = random(seed);
  const out = new Int16Array(nSamples * rowStride);
  const offsets = Array.from({ length: nChannels }, () => Math.round((next() - 0.5) * 400));
  for (let t = 0; t < nSamples; t++) {
    const common = 60 * Math.sin((2 * Math.PI * t) / 3000) + 15 * Math.sin((2 * Math.PI * t) / 41);
    const spike = next() < 0.002 ? -300 * next() : 0;
    for (let c = 0; c < rowStride; c++) {
      const value =
        c < nChannels ? (offsets[c] ?? 0) + common + 20 * gaussian(next) + (c % 7 === 0 ? spike : 0) : 30000 * next();
      out[t * rowStride + c] = Math.max(-32768, Math.min(32767, Math.round(value)));
    }
  }
  return out;
}

/** Float block (nSamples × nChannels) of unit-ish noise. */
export function floatBlock(nSamples: number, nChannels: number, seed: number): Float32Array {
  const next = random(seed);
  const out = new Float32Array(nSamples * nChannels);
  for (let i = 0; i < out.length; i++) out[i] = gaussian(next);
  return out;
}

/** Per-channel gains around 2.34 µV per count. */
export function gains(nChannels: number, seed: number): Float64Array {
  const next = random(seed);
  return Float64Array.from({ length: nChannels }, () => 2.34375 * (0.9 + 0.2 * next()));
}

/** Good-channel mask with every `badEvery`-th channel bad. */
export function goodMask(nChannels: number, badEvery: number): Uint8Array {
  return Uint8Array.from({ length: nChannels }, (_, c) => (c % badEvery === badEvery - 1 ? 0 : 1));
}

/** A whitening neighbourhood: each channel itself first, then the nNearest − 1 channels closest by index. */
export function whitening(
  nChannels: number,
  nNearest: number,
  seed: number,
): { indices: Int32Array; weights: Float32Array; nNearest: number } {
  const next = random(seed);
  const indices = new Int32Array(nChannels * nNearest);
  const weights = new Float32Array(nChannels * nNearest);
  for (let j = 0; j < nChannels; j++) {
    const order = Array.from({ length: nChannels }, (_, c) => c).sort(
      (a, b) => Math.abs(a - j) - Math.abs(b - j) || a - b,
    );
    for (let k = 0; k < nNearest; k++) {
      indices[j * nNearest + k] = order[k] ?? 0;
      weights[j * nNearest + k] = k === 0 ? 1 + next() : (next() - 0.5) * 0.3;
    }
  }
  return { indices, weights, nNearest };
}

/** Row-major nChannels² matrix: identity blended with a random neighbour interpolation. */
export function krigingMatrix(nChannels: number, seed: number): Float32Array {
  const next = random(seed);
  const m = new Float32Array(nChannels * nChannels);
  for (let i = 0; i < nChannels; i++) {
    for (let j = Math.max(0, i - 6); j < Math.min(nChannels, i + 7); j++) {
      m[i * nChannels + j] = i === j ? 0.7 + 0.1 * next() : 0.05 * (next() - 0.3);
    }
  }
  return m;
}

export interface Difference {
  /** Largest |cpu − cuda|. */
  maxAbs: number;
  /** maxAbs divided by the largest |cpu| (0 when cpu is all zero). */
  maxRel: number;
  /** Elements that differ in any bit. */
  mismatches: number;
  length: number;
}

export function difference(cpu: Float32Array, cuda: Float32Array): Difference {
  if (cpu.length !== cuda.length) throw new Error(`length differs: cpu ${cpu.length}, cuda ${cuda.length}`);
  let maxAbs = 0;
  let scale = 0;
  let mismatches = 0;
  for (let i = 0; i < cpu.length; i++) {
    const a = cpu[i] ?? 0;
    const b = cuda[i] ?? 0;
    const d = Math.abs(a - b);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
    if (Math.abs(a) > scale) scale = Math.abs(a);
    if (!Object.is(a, b)) mismatches++;
  }
  return { maxAbs, maxRel: scale > 0 ? maxAbs / scale : maxAbs, mismatches, length: cpu.length };
}

/** The CUDA backend, or the reason the GPU tests skip ("skipped: no CUDA device: …"). */
export function cudaOrSkipReason(): { cuda: CudaLoadResult; skip: string | false } {
  const cuda = loadCudaBinding();
  return { cuda, skip: cuda.ok ? false : `skipped: no CUDA device (${cuda.reason})` };
}

/** A Neuropixels-like model: 4 columns, 20 µm rows; templates factorised from Gaussian mean waveforms. */
export function randomModel(nTemplates: number, nChannels: number, nNeighbours: number, seed: number): TemplateModel {
  const next = random(seed);
  const x = Float32Array.from({ length: nChannels }, (_, c) => 16 * (c % 4));
  const y = Float32Array.from({ length: nChannels }, (_, c) => 20 * Math.floor(c / 2));
  const neighbourhoods = nearestChannels(x, y, nNeighbours);
  const values = new Float64Array(nTemplates * nt0 * nChannels);
  for (let j = 0; j < nTemplates; j++) {
    const peak = Math.floor(next() * nChannels);
    const amplitude = 10 + 20 * next();
    const width = 1 + 2 * next();
    const spread = 20 + 40 * next();
    for (let t = 0; t < nt0; t++) {
      const shape = -Math.exp(-0.5 * ((t - nt0min) / width) ** 2) + 0.3 * Math.exp(-0.5 * ((t - nt0min - 8) / 3) ** 2);
      for (let c = 0; c < nChannels; c++) {
        const d2 = ((x[c] ?? 0) - (x[peak] ?? 0)) ** 2 + ((y[c] ?? 0) - (y[peak] ?? 0)) ** 2;
        values[(j * nt0 + t) * nChannels + c] = amplitude * shape * Math.exp(-0.5 * (d2 / spread ** 2));
      }
    }
  }
  const dwu = { nTemplates, templateSamples: nt0, nChannels, values };
  return factorizeTemplates(dwu, neighbourhoods, peakChannels(dwu, nt0min), DEFAULT_FACTORIZE_OPTIONS);
}

/** Neuropixels 1.0 positions: 4 staggered columns, 20 µm rows. */
export function np1Probe(nChannels: number): { xUm: Float64Array; yUm: Float64Array } {
  const xs = [43, 11, 59, 27];
  return {
    xUm: Float64Array.from({ length: nChannels }, (_, c) => xs[c % 4] ?? 0),
    yUm: Float64Array.from({ length: nChannels }, (_, c) => 20 * Math.floor(c / 2)),
  };
}

/** Generic templates of the drift detector: nPrototypes unit-norm troughs of different widths, nt0 × nPrototypes row-major. */
export function driftPrototypes(nPrototypes: number): Float32Array {
  const w = new Float32Array(nt0 * nPrototypes);
  for (let r = 0; r < nPrototypes; r++) {
    const width = 1.5 + 0.8 * r;
    let norm = 0;
    for (let t = 0; t < nt0; t++) {
      const v = -Math.exp(-0.5 * ((t - nt0min + 1) / width) ** 2) + 0.35 * Math.exp(-0.5 * ((t - nt0min - 8) / 4) ** 2);
      w[t * nPrototypes + r] = v;
      norm += v * v;
    }
    for (let t = 0; t < nt0; t++) w[t * nPrototypes + r] = (w[t * nPrototypes + r] ?? 0) / Math.sqrt(norm);
  }
  return w;
}

/** Three smooth principal components (nt0 × 3) for the feature outputs. */
export function testPcs(): { nPcs: number; values: Float32Array } {
  return { nPcs: 3, values: Float32Array.from({ length: nt0 * 3 }, (_, i) => Math.sin(0.1 * (i + 1))) };
}

/** Proposal prototypes: nPrototypes Gaussian troughs at nt0min of widening width (nt0 × nPrototypes). */
export function proposalPrototypes(nPrototypes: number): {
  templateSamples: number;
  nPrototypes: number;
  values: Float32Array;
} {
  return {
    templateSamples: nt0,
    nPrototypes,
    values: Float32Array.from({ length: nt0 * nPrototypes }, (_, i) => {
      const t = Math.floor(i / nPrototypes);
      const p = i % nPrototypes;
      return -Math.exp(-0.5 * ((t - nt0min) / (1 + 0.6 * p)) ** 2);
    }),
  };
}

/**
 * A raw batch with its preprocessing settings as preprocessDriftDetectSpikes takes it: the seeded
 * raw block (rowStride = nChannels), gains, every 13th channel bad, a 32-neighbour whitening, the
 * 300 Hz order-3 high-pass and the common reference, scaled by 1/40 (the fixture's noise is ~50 µV:
 * about unit noise, as whitening gives).
 */
export function driftTestBatch(nChannels: number, nSamples: number, seed: number) {
  const wh = whitening(nChannels, Math.min(32, nChannels), 5);
  return {
    raw: rawBlock(nSamples, nChannels, nChannels, seed),
    nSamples,
    nChannels,
    rowStride: nChannels,
    gains: gains(nChannels, 3),
    good: goodMask(nChannels, 13),
    indices: wh.indices,
    weights: wh.weights,
    nNearest: wh.nNearest,
    order: 3,
    cutoffHz: 300,
    sampleRateHz: 30_000,
    scale: 1 / 40,
    commonReference: true,
  };
}

/**
 * IBL's waveform preprocessing for nChannels channels of an NP1.0 probe (gains seeded by nChannels):
 * the ADC shift unless `shift` is false, the common reference over all channels unless `reference`
 * is false, no k-filter, no muting.
 */
export function iblWaveformOptions(
  nChannels: number,
  labels: Int32Array,
  shift = true,
  reference = true,
): DestripeOptions {
  return {
    sampleRateHz: 30000,
    cutoffHz: 300,
    order: 3,
    gains: gains(nChannels, nChannels),
    labels,
    ...np1Probe(nChannels),
    sampleShift: shift ? adcSampleShift('np1', nChannels) : null,
    kfilter: false,
    mute: false,
    commonReference: reference ? new Uint8Array(nChannels).fill(1) : null,
  };
}

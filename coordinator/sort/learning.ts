// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Global template tracking during learning (ks25-algorithm.md §4.2 steps 3–10, pooled as in
 * design.md §3): the running mean waveform of each template (dWU) is updated from each batch's
 * sufficient statistics in batch order with the annealed momentum, new templates are born from
 * de-duplicated proposals, and triage drops rare and duplicate templates. Nothing here depends
 * on which worker matched which batch.
 */
import {
  factorizeTemplates,
  poolRunningMeans,
  zeroLagSimilarity,
  type LearnBatchResult,
  type TemplateModel,
} from '../../native/lib/index.js';

export const NT0 = 61;
export const NT0MIN = 20;
export const RANK = 3;

export interface TemplateState {
  nChannels: number;
  /** Running mean waveform of each template, nt0 × nChannels (float64). */
  dWU: Float64Array[];
  /** Running spike count per batch (Kilosort nsp). */
  nsp: number[];
  /** Temporal components of each template from the last factorisation (nt0 × rank), or null for a newborn. */
  temporal: Array<Float32Array | null>;
}

export function emptyTemplates(nChannels: number): TemplateState {
  return { nChannels, dWU: [], nsp: [], temporal: [] };
}

/** Momentum of learning batch i of n: pm = exp(−1/m), m linear from `start` to `end` spikes. */
export function momentum(i: number, n: number, start: number, end: number): number {
  const m = n <= 1 ? end : start + ((end - start) * i) / (n - 1);
  return Math.exp(-1 / m);
}

/** Folds one batch's statistics into the running means (its templates are the state's, in order). */
export function applyBatchStatistics(state: TemplateState, result: LearnBatchResult, pm: number): void {
  const size = NT0 * state.nChannels;
  if (result.nTemplates !== state.dWU.length) {
    throw new RangeError(`learning statistics for ${result.nTemplates} templates, the state has ${state.dWU.length}`);
  }
  // Sums hold only the rows of the templates with spikes (`active`, ascending; the others are zero).
  if (result.sums.length !== result.active.length * size) {
    throw new RangeError(
      `learning statistics hold ${result.sums.length} sums, expected ${result.active.length} × ${NT0} × ${state.nChannels}`,
    );
  }
  // pm^n here, with Math.pow, so that the factors are the bits they always were; the ~0.1 GB of
  // sums per batch are folded natively, in parallel.
  const factors = Float64Array.from(result.active, (j) => Math.pow(pm, result.counts[j]!));
  poolRunningMeans(state.dWU, result.active, result.sums, factors, result.counts, 0);
  for (let j = 0; j < result.nTemplates; j++) state.nsp[j] = 0.95 * state.nsp[j]! + 0.05 * result.counts[j]!;
}

/** Projects each channel's trace on the temporal PCs and back (denoises a single snippet). */
export function smoothWithPcs(
  snippet: Float32Array | Float64Array,
  nChannels: number,
  pcs: Float32Array,
  nPcs: number,
): Float64Array {
  const out = new Float64Array(NT0 * nChannels);
  for (let c = 0; c < nChannels; c++) {
    for (let p = 0; p < nPcs; p++) {
      let dot = 0;
      for (let t = 0; t < NT0; t++) dot += snippet[t * nChannels + c]! * pcs[t * nPcs + p]!;
      if (dot === 0) continue;
      for (let t = 0; t < NT0; t++) out[t * nChannels + c]! += dot * pcs[t * nPcs + p]!;
    }
  }
  return out;
}

/** Σ x² of a waveform over the given channels, summed in (sample, channel) order. */
function energy(a: Float64Array, nChannels: number, channels: Int32Array): number {
  let aa = 0;
  const n = channels.length;
  for (let t = 0; t < NT0; t++) {
    const row = t * nChannels;
    for (let i = 0; i < n; i++) {
      const x = a[row + channels[i]!]!;
      aa += x * x;
    }
  }
  return aa;
}

/**
 * Correlation and norm ratio of two waveforms over the given channels; `aa` = energy(a) (one
 * proposal meets many templates, so its own sum is taken once, with the bits of a joint loop).
 */
function similarity(
  a: Float64Array,
  aa: number,
  b: Float64Array,
  nChannels: number,
  channels: Int32Array,
): { cc: number; ratio: number } {
  let ab = 0;
  let bb = 0;
  const n = channels.length;
  for (let t = 0; t < NT0; t++) {
    const row = t * nChannels;
    for (let i = 0; i < n; i++) {
      const c = row + channels[i]!;
      const x = a[c]!;
      const y = b[c]!;
      ab += x * y;
      bb += y * y;
    }
  }
  if (aa === 0 || bb === 0) return { cc: 0, ratio: 0 };
  return { cc: ab / Math.sqrt(aa * bb), ratio: Math.sqrt(Math.min(aa, bb) / Math.max(aa, bb)) };
}

export interface BirthOptions {
  /** Temporal PCs (nt0 × nPcs) used to denoise proposals. */
  pcs: Float32Array;
  nPcs: number;
  /** Channel neighbourhoods (iC), nChannels × nNeighbours. */
  neighbourhoods: Int32Array;
  nNeighbours: number;
  /** nsp given to a newborn (m0 = minFR · NT / fs). */
  initialNsp: number;
  maxTemplates: number;
}

/**
 * Adds the proposals of a round (in batch order) as new templates, skipping those that repeat an
 * earlier proposal or an existing template: the same neuron proposed by several batches of one
 * round (correlation > 0.9 and amplitudes within a factor 1.25) is born once.
 */
export function addBirths(state: TemplateState, results: readonly LearnBatchResult[], options: BirthOptions): number {
  const { nChannels } = state;
  // peakChannels' rule, read in place: handing it the templates meant copying them all (~0.2 GB).
  const existing = state.dWU.map((d) => ({ wave: d, peak: peakChannelOf(d, nChannels) }));
  let born = 0;
  for (const r of results) {
    const n = r.proposalChannels.length;
    for (let i = 0; i < n; i++) {
      if (state.dWU.length >= options.maxTemplates) return born;
      const snippet = r.proposals.subarray(i * NT0 * nChannels, (i + 1) * NT0 * nChannels);
      const wave = smoothWithPcs(snippet, nChannels, options.pcs, options.nPcs);
      const peak = r.proposalChannels[i]!;
      const hood = options.neighbourhoods.subarray(peak * options.nNeighbours, (peak + 1) * options.nNeighbours);
      const near = new Set(hood);
      const aa = energy(wave, nChannels, hood);
      const duplicate = existing.some((e) => {
        if (!near.has(e.peak)) return false;
        const s = similarity(wave, aa, e.wave, nChannels, hood);
        return s.cc > 0.9 && s.ratio > 0.8;
      });
      if (duplicate) continue;
      state.dWU.push(wave);
      state.nsp.push(options.initialNsp);
      state.temporal.push(null);
      existing.push({ wave, peak });
      born++;
    }
  }
  return born;
}

/** The channel of largest |value| at the trough sample, the first on ties (as native peakChannels). */
export function peakChannelOf(wave: Float64Array, nChannels: number): number {
  const row = NT0MIN * nChannels;
  let best = 0;
  for (let c = 1; c < nChannels; c++) if (Math.abs(wave[row + c]!) > Math.abs(wave[row + best]!)) best = c;
  return best;
}

/** Low-rank factorisation of the current running means (warm-started from the last one). */
export function factorize(
  state: TemplateState,
  neighbourhoods: Int32Array,
  nNeighbours: number,
  initialTemporal: Float32Array,
): TemplateModel {
  const nChannels = state.nChannels;
  const f = state.dWU.length;
  // The running means are handed over as they are held, one array per template: joining them into
  // one block copied ~0.2 GB twice per learning round.
  const mean = { nTemplates: f, templateSamples: NT0, nChannels, rows: state.dWU };
  const previous = new Float32Array(f * NT0 * RANK);
  state.temporal.forEach((w, j) => previous.set(w ?? initialTemporal, j * NT0 * RANK));
  const model = factorizeTemplates(
    mean,
    { nChannels, nNeighbours, channels: neighbourhoods },
    Int32Array.from(state.dWU, (d) => peakChannelOf(d, nChannels)),
    {
      troughSample: NT0MIN,
      rank: RANK,
      powerIterations: 100,
      upsampleFactor: 10,
      kernelSigmaSamples: 1,
      previousTemporal: f > 0 ? previous : null,
      threads: 0,
    },
  );
  for (let j = 0; j < f; j++) state.temporal[j] = model.temporal.slice(j * NT0 * RANK, (j + 1) * NT0 * RANK);
  return model;
}

export interface TriageOptions {
  /** Templates with nsp below this are dropped (m0). */
  minNsp: number;
  /** Zero-lag similarity above which the rarer of two templates is dropped... */
  maxSimilarity: number;
  /** ...when their mean amplitudes differ by less than this (σ). */
  amplitudeGap: number;
}

/** Indices of the templates that survive triage (ks25-algorithm.md §4.6), ascending. */
export function triage(state: TemplateState, model: TemplateModel, options: TriageOptions): number[] {
  const f = state.dWU.length;
  if (f === 0) return [];
  const cc = zeroLagSimilarity(model);
  const keep: number[] = [];
  for (let a = 0; a < f; a++) {
    if (state.nsp[a]! < options.minNsp) continue;
    let duplicate = false;
    for (let b = 0; b < f && !duplicate; b++) {
      if (b === a) continue;
      if (
        cc[a * f + b]! > options.maxSimilarity &&
        Math.abs(model.meanAmplitude[a]! - model.meanAmplitude[b]!) < options.amplitudeGap &&
        (state.nsp[a]! < state.nsp[b]! || (state.nsp[a] === state.nsp[b] && a > b))
      ) {
        duplicate = true;
      }
    }
    if (!duplicate) keep.push(a);
  }
  return keep;
}

export function selectTemplates(state: TemplateState, keep: readonly number[]): void {
  state.dWU = keep.map((j) => state.dWU[j]!);
  state.nsp = keep.map((j) => state.nsp[j]!);
  state.temporal = keep.map((j) => state.temporal[j]!);
}

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
  selectBirths,
  triageTemplates,
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
 * round (correlation > 0.9 and amplitudes within a factor 1.25 over the proposal's neighbourhood)
 * is born once. Each newborn is its proposal smoothed on the temporal PCs. Native and threaded
 * (selectBirths); the bits are those of the serial TypeScript loop it replaced.
 */
export function addBirths(state: TemplateState, results: readonly LearnBatchResult[], options: BirthOptions): number {
  const { nChannels } = state;
  const maxBirths = options.maxTemplates - state.dWU.length;
  if (maxBirths <= 0) return 0;
  const { waves } = selectBirths(
    state.dWU,
    nChannels,
    results.map((r) => r.proposals),
    results.map((r) => r.proposalChannels),
    { nPcs: options.nPcs, values: options.pcs },
    { nChannels, nNeighbours: options.nNeighbours, channels: options.neighbourhoods },
    {
      templateSamples: NT0,
      troughSample: NT0MIN,
      maxCorrelation: 0.9,
      minAmplitudeRatio: 0.8,
      maxBirths,
      threads: 0,
    },
  );
  for (const wave of waves) {
    state.dWU.push(wave);
    state.nsp.push(options.initialNsp);
    state.temporal.push(null);
  }
  return waves.length;
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

/**
 * Indices of the templates that survive triage (ks25-algorithm.md §4.6), ascending: native and
 * threaded (triageTemplates), with the comparisons of the TypeScript loop it replaced.
 */
export function triage(state: TemplateState, model: TemplateModel, options: TriageOptions): number[] {
  if (state.dWU.length === 0) return [];
  const keep = triageTemplates(model, Float64Array.from(state.nsp), { ...options, threads: 0 });
  return Array.from(keep);
}

export function selectTemplates(state: TemplateState, keep: readonly number[]): void {
  state.dWU = keep.map((j) => state.dWU[j]!);
  state.nsp = keep.map((j) => state.nsp[j]!);
  state.temporal = keep.map((j) => state.temporal[j]!);
}

/**
 * The templates `keep` (ascending) of a factorisation, as Kilosort indexes W, U and mu after triage
 * instead of factorising again: each template's factors depend on its own running mean only, so
 * these are the survivors' factors. (Factorising the survivors again, warm-started from these, ran
 * 100 more power iterations per template for the same subspace: about a third of the global step.)
 */
export function selectModelTemplates(model: TemplateModel, keep: readonly number[]): TemplateModel {
  const { templateSamples: nt0, rank, nChannels } = model;
  const temporal = new Float32Array(keep.length * nt0 * rank);
  const spatial = new Float32Array(keep.length * nChannels * rank);
  keep.forEach((j, k) => {
    temporal.set(model.temporal.subarray(j * nt0 * rank, (j + 1) * nt0 * rank), k * nt0 * rank);
    spatial.set(model.spatial.subarray(j * nChannels * rank, (j + 1) * nChannels * rank), k * nChannels * rank);
  });
  return {
    ...model,
    nTemplates: keep.length,
    temporal,
    spatial,
    meanAmplitude: Float32Array.from(keep, (j) => model.meanAmplitude[j]!),
    peakChannel: Int32Array.from(keep, (j) => model.peakChannel[j]!),
  };
}

/**
 * Triage (from the second round on) and the survivors' factors: the round's model. `state` keeps
 * only the survivors.
 */
export function triageAndSelect(state: TemplateState, model: TemplateModel, options: TriageOptions): TemplateModel {
  const keep = triage(state, model, options);
  if (keep.length === state.dWU.length) return model;
  selectTemplates(state, keep);
  return selectModelTemplates(model, keep);
}

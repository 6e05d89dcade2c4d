// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Template matching of Kilosort 2.5 (learnAndSolve8b's per-batch kernels), typed: channel
 * neighbourhoods, low-rank template factorisation, template cross-correlations, matching pursuit of
 * one batch and new-template proposals. All calls are synchronous (see binding-matching.ts),
 * deterministic, and give bitwise the same result for any thread count.
 *
 * Units: samples are whitened (unit noise), so thresholds and amplitudes are in noise standard
 * deviations (σ). Arrays are row-major; a batch is sample-major (`samples[t * nChannels + c]`).
 * Glossary of Kilosort's symbols: nt0 = templateSamples, nt0min = troughSample, W = temporal,
 * U = spatial, mu = meanAmplitude, iW = peakChannel, iC = neighbours, dWU = mean waveforms,
 * WtW = crossCorrelation, simScore = similarity, iList = similar, wPCA = pcs, wTEMP = prototypes.
 */
import { loadCpuBinding } from './load.js';
import type { MatchingBinding, RawMatchOptions } from './binding-matching.js';

/** A value that may be absent. Option fields are always present: absent means `null`. */
export type Option<T> = T | null;

/**
 * Templates of one probe. Template j is `T_j[tau, c] = Σ_k temporal[j, tau, k]·spatial[j, c, k]`,
 * of unit Frobenius norm; `meanAmplitude[j]·T_j` approximates its mean spike waveform (whitened).
 */
export interface TemplateModel {
  nTemplates: number;
  nChannels: number;
  /** Samples per template window (nt0). @default 61 */
  templateSamples: number;
  /** Index of the trough inside the window (nt0min); a spike's time is its window start + this. @default 20 */
  troughSample: number;
  /** Temporal components per template. @default 3 */
  rank: number;
  /** Channels per neighbourhood. @default 32 */
  nNeighbours: number;
  /** W, nTemplates × templateSamples × rank; the columns of each template are orthonormal. */
  temporal: Float32Array;
  /** U, nTemplates × nChannels × rank; zero outside the neighbourhood of the template's peak channel. */
  spatial: Float32Array;
  /** mu, nTemplates, in σ. */
  meanAmplitude: Float32Array;
  /** iW, nTemplates: the template lives on the channels `neighbours[peakChannel[j] * nNeighbours + i]`. */
  peakChannel: Int32Array;
  /** iC, nChannels × nNeighbours: nearest channels of each channel, self first. */
  neighbours: Int32Array;
}

/** iC: for each channel its nNeighbours nearest channels (by position), self first. */
export interface ChannelNeighbourhoods {
  nChannels: number;
  nNeighbours: number;
  /** nChannels × nNeighbours channel indices. */
  channels: Int32Array;
}

/** dWU: running mean waveforms, nTemplates × templateSamples × nChannels (float64, sample-major). */
export interface MeanWaveforms {
  nTemplates: number;
  templateSamples: number;
  nChannels: number;
  values: Float64Array;
}

/** dWU with each template's mean waveform (templateSamples × nChannels) in its own array. */
export interface MeanWaveformRows {
  nTemplates: number;
  templateSamples: number;
  nChannels: number;
  rows: readonly Float64Array[];
}

export interface FactorizeOptions {
  /** nt0min: the trough of component 0 is aligned to this sample. @default 20 */
  troughSample: number;
  /** @default 3 */
  rank: number;
  /** Power iterations per component. @default 100 */
  powerIterations: number;
  /** Sub-sample alignment resolution (positions per sample; 0 = integer alignment only). @default 10 */
  upsampleFactor: number;
  /** Width of the interpolation kernel, in samples. @default 1 */
  kernelSigmaSamples: number;
  /** The previous model's temporal components (warm start; keeps component signs stable), or null. */
  previousTemporal: Option<Float32Array>;
  /** Threads; 0 = the default (all cores or setThreads). @default 0 */
  threads: number;
}

export const DEFAULT_FACTORIZE_OPTIONS: Readonly<FactorizeOptions> = Object.freeze({
  troughSample: 20,
  rank: 3,
  powerIterations: 100,
  upsampleFactor: 10,
  kernelSigmaSamples: 1,
  previousTemporal: null,
  threads: 0,
});

/** iList: for each template the nSimilar most similar ones (itself first). */
export interface SimilarTemplates {
  nSimilar: number;
  /** nTemplates × nSimilar template indices. */
  similar: Int32Array;
}

export interface TemplateCorrelations extends SimilarTemplates {
  nTemplates: number;
  /** 2·templateSamples − 1. */
  nLags: number;
  /**
   * WtW, nTemplates × nTemplates × nLags: `Σ_tau Σ_c T_a[tau, c]·T_b[tau + ℓ, c]` at index
   * `ℓ + templateSamples − 1`, ℓ = −(templateSamples − 1) … templateSamples − 1.
   */
  crossCorrelation: Float32Array;
  /** simScore, nTemplates × nTemplates: the maximum over lags (1 on the diagonal). */
  similarity: Float32Array;
}

export interface CorrelationOptions {
  /** Length of the most-similar lists (capped at nTemplates). @default 32 */
  nSimilarMax: number;
  /** @default 0 */
  threads: number;
}

export const DEFAULT_CORRELATION_OPTIONS: Readonly<CorrelationOptions> = Object.freeze({ nSimilarMax: 32, threads: 0 });

/**
 * One batch of whitened samples: `ownSamples` samples that belong to it, preceded by `haloSamples`
 * and followed by whatever remains of `nSamples` (the halos, read from the neighbouring batches).
 */
export interface Batch {
  /** nSamples × nChannels, sample-major, float32, whitened. */
  samples: Float32Array;
  nSamples: number;
  nChannels: number;
  haloSamples: number;
  ownSamples: number;
}

/** wPCA: temporal principal components, templateSamples × nPcs. */
export interface TemporalPcs {
  nPcs: number;
  values: Float32Array;
}

export interface MatchOptions {
  /** Th: a spike needs a score above this, in σ (learning 6, extraction 3). */
  threshold: number;
  /** lam: weight of the amplitude prior. @default 10 */
  amplitudePrior: number;
  /** Spikes scoring above this enter the snippet sums (Kilosort Th[0]). @default 6 */
  learnThreshold: number;
  /** @default 60 */
  innerIterations: number;
  /** Cap on spikes found in the buffer, halos included; `capped` reports hitting it. @default 100000 */
  maxSpikes: number;
  /** Return snippetSums / snippetCounts (the template-update statistics). @default true */
  snippetSums: boolean;
  /** iList: return template features on these templates, or null. */
  similarTemplates: Option<SimilarTemplates>;
  /** wPCA: return PC features, or null. */
  pcs: Option<TemporalPcs>;
  /** WtW of this model: update scores exactly from it instead of re-filtering the residual, or null. */
  crossCorrelation: Option<Float32Array>;
  /**
   * Exact score updates with WtW derived from the model where the match runs (crossCorrelation must
   * be null): the CUDA backend computes it on the device and keeps it there with a keyed model; the
   * CPU computes it on every call, so CPU callers that match many batches pass the array instead.
   * @default false
   */
  deriveCrossCorrelation?: boolean;
  /** @default 0 */
  threads: number;
}

export const DEFAULT_MATCH_OPTIONS: Readonly<MatchOptions> = Object.freeze({
  threshold: 6,
  amplitudePrior: 10,
  learnThreshold: 6,
  innerIterations: 60,
  maxSpikes: 100_000,
  snippetSums: true,
  similarTemplates: null,
  pcs: null,
  crossCorrelation: null,
  threads: 0,
});

/** Spikes owned by the batch (trough in its own samples), sorted by (sample, template, amplitude). */
export interface MatchResult {
  /** Trough sample relative to the batch's first own sample, in [0, ownSamples). */
  sample: Int32Array;
  templateId: Int32Array;
  /** y: projection of the data on the unit-norm template, in σ. */
  amplitude: Float32Array;
  /** x = sqrt(E): the prior-weighted score compared with the threshold. */
  score: Float32Array;
  /** The batch with every found spike (halos included) subtracted, nSamples × nChannels. */
  residual: Float32Array;
  /**
   * Per template, the sum over owned spikes scoring above learnThreshold of `residual snippet +
   * y·T` (nTemplates × templateSamples × nChannels, float64); null unless requested.
   */
  snippetSums: Option<Float64Array>;
  /** Spikes in each template's snippet sum; null unless requested. */
  snippetCounts: Option<Int32Array>;
  /** Per spike, projections of the spike alone on its similar templates (spikes × nSimilar). */
  templateFeatures: Option<Float32Array>;
  /** Per spike, PC projections on its template's channels (spikes × nPcs × nNeighbours). */
  pcFeatures: Option<Float32Array>;
  /** Spikes found in the whole buffer, halos included. */
  spikesFound: number;
  /** Inner iterations that found spikes. */
  iterations: number;
  capped: boolean;
}

/** wTEMP: temporal prototypes used to propose templates, templateSamples × nPrototypes. */
export interface ProposalPrototypes {
  templateSamples: number;
  nPrototypes: number;
  values: Float32Array;
}

export interface ProposalOptions {
  /** nt0min. @default 20 */
  troughSample: number;
  /** Nearest channels summed in the score (Kilosort Nsum). @default 7 */
  neighboursSummed: number;
  /** Spatial suppression radius, in channel indices. @default 4 */
  channelRadius: number;
  /** In σ (Kilosort Th[0]). @default 6 */
  threshold: number;
  /** @default 5000 */
  maxProposals: number;
  /** @default 0 */
  threads: number;
}

export const DEFAULT_PROPOSAL_OPTIONS: Readonly<ProposalOptions> = Object.freeze({
  troughSample: 20,
  neighboursSummed: 7,
  channelRadius: 4,
  threshold: 6,
  maxProposals: 5000,
  threads: 0,
});

/** Peaks of the residual that no template explains, sorted by (sample, channel). */
export interface Proposals {
  /** Trough sample relative to the batch's first own sample. */
  sample: Int32Array;
  channel: Int32Array;
  /** Square root of the best prototype score, in σ. */
  score: Float32Array;
  /** Full-channel snippets, proposals × templateSamples × nChannels. */
  snippets: Float32Array;
  capped: boolean;
}

/** Whatever runs matching pursuit: the CPU binding, or a CUDA binding that has matchBatch. */
export type BatchMatcher = Pick<MatchingBinding, 'matchBatch'>;

function binding(): MatchingBinding {
  return loadCpuBinding();
}

/** iC from channel positions (µm): nearest by Euclidean distance, self first, ties by index. */
export function nearestChannels(xUm: Float32Array, yUm: Float32Array, nNeighbours: number): ChannelNeighbourhoods {
  const channels = binding().nearestChannels(xUm, yUm, nNeighbours);
  return { nChannels: xUm.length, nNeighbours, channels };
}

/** iW: the channel of largest |dWU| at the trough sample, per template. */
export function peakChannels(meanWaveforms: MeanWaveforms, troughSample: number, threads = 0): Int32Array {
  const { values, nTemplates, templateSamples, nChannels } = meanWaveforms;
  return binding().peakChannels(values, nTemplates, templateSamples, nChannels, troughSample, threads);
}

/**
 * Factorises mean waveforms into a template model (Kilosort's mexSVDsmall2, with its sub-sample
 * alignment fixed and no sign inversion of W against U): blank outside the peak channel's
 * neighbourhood, `rank` components by power iteration, joint unit-norm normalisation into
 * meanAmplitude, trough alignment to `troughSample` (integer, then sub-sample).
 */
export function factorizeTemplates(
  meanWaveforms: MeanWaveforms | MeanWaveformRows,
  neighbourhoods: ChannelNeighbourhoods,
  peakChannel: Int32Array,
  options: FactorizeOptions,
): TemplateModel {
  if (neighbourhoods.nChannels !== meanWaveforms.nChannels) {
    throw new RangeError(
      `factorizeTemplates: neighbourhoods.nChannels: expected ${meanWaveforms.nChannels} (meanWaveforms.nChannels), got ${neighbourhoods.nChannels}`,
    );
  }
  return binding().factorizeTemplates(
    'rows' in meanWaveforms ? meanWaveforms.rows : meanWaveforms.values,
    meanWaveforms.nTemplates,
    meanWaveforms.nChannels,
    neighbourhoods.channels,
    neighbourhoods.nNeighbours,
    peakChannel,
    options.previousTemporal,
    {
      templateSamples: meanWaveforms.templateSamples,
      troughSample: options.troughSample,
      rank: options.rank,
      powerIterations: options.powerIterations,
      upsampleFactor: options.upsampleFactor,
      kernelSigmaSamples: options.kernelSigmaSamples,
      threads: options.threads,
    },
  );
}

/** WtW, simScore and iList of a model (Kilosort's getMeWtW); symmetric: WtW[a, b, ℓ] = WtW[b, a, −ℓ]. */
export function templateCorrelations(model: TemplateModel, options: CorrelationOptions): TemplateCorrelations {
  return binding().templateCorrelations(model, options.nSimilarMax, options.threads);
}

/**
 * templateCorrelations without WtW: the same similarity and most-similar lists, bit for bit,
 * without making or holding the nTemplates² × nLags table (0.8 GB at 1 300 templates), for callers
 * that need only the similarity (the engine derives WtW itself where it matches).
 */
export function templateSimilarity(
  model: TemplateModel,
  options: CorrelationOptions,
): Omit<TemplateCorrelations, 'crossCorrelation'> {
  return binding().templateSimilarity(model, options.nSimilarMax, options.threads);
}

/** ⟨T_a, T_b⟩ at zero lag, nTemplates × nTemplates (the triage similarity). */
export function zeroLagSimilarity(model: TemplateModel, threads = 0): Float32Array {
  return binding().zeroLagSimilarity(model, threads);
}

/**
 * Folds one learning batch's snippet sums into the running means (dWU), in place and in parallel:
 * `means[active[k]][i] = f·m + ((1 − f)·sums[k·size + i]) / counts[active[k]]` with `f = factors[k]`
 * (pm^count, computed by the caller) and `size = sums.length / active.length` (nt0 × nChannels).
 * `active` ascending; every active mean has its own memory.
 */
export function poolRunningMeans(
  means: readonly Float64Array[],
  active: Int32Array,
  sums: Float64Array,
  factors: Float64Array,
  counts: Int32Array,
  threads = 0,
): void {
  binding().poolRunningMeans(means, active, sums, factors, counts, threads);
}

/** The rule of triageTemplates. */
export interface TriageOptions {
  /** Templates whose running spike count (nsp) is below this are dropped. */
  minNsp: number;
  /** Of two templates with zero-lag similarity above this... */
  maxSimilarity: number;
  /** ...and mean amplitudes less than this apart (σ), the one with the smaller nsp is dropped (the later on ties). */
  amplitudeGap: number;
  /** 0 = the default thread count. */
  threads: number;
}

/**
 * Triage of a learning round (ks25-algorithm.md §4.6): the indices of the templates kept,
 * ascending. `nsp` holds each template's running spike count. Uses zeroLagSimilarity's values;
 * each template's verdict is its own row's, so the answer does not depend on the thread count.
 */
export function triageTemplates(model: TemplateModel, nsp: Float64Array, options: TriageOptions): Int32Array {
  return binding().triageTemplates(model, nsp, options);
}

/** The rule and limits of selectBirths. */
export interface SelectBirthsOptions {
  /** nt0. */
  templateSamples: number;
  /** nt0min: the sample whose largest |value| names a template's peak channel. */
  troughSample: number;
  /** A proposal repeats a waveform when their correlation over its neighbourhood is above this... */
  maxCorrelation: number;
  /** ...and the smaller of their norms over it is above this fraction of the larger. */
  minAmplitudeRatio: number;
  /** Births allowed (the template limit less the templates already held). */
  maxBirths: number;
  /** 0 = the default thread count. */
  threads: number;
}

/** What selectBirths found: the proposals born and their smoothed waveforms. */
export interface Births {
  /** Indices of the born proposals over all batches, in batch order, ascending. */
  born: Int32Array;
  /** The smoothed waveform of each born proposal, templateSamples × nChannels (float64). */
  waves: Float64Array[];
}

/**
 * The births of a learning round (ks25-algorithm.md §4.2): each proposal (batch `b`'s snippet `i`,
 * templateSamples × nChannels, peak channel `proposalChannels[b][i]`) is smoothed by projecting
 * each channel's trace on the temporal `pcs` (templateSamples × nPcs) and back, and is born unless
 * a template of `means` (peak channel: largest |value| at the trough) or an earlier born proposal
 * has its peak channel in the proposal's neighbourhood and repeats it there (correlation and norm
 * ratio above the options'). Proposals are smoothed and compared with the templates in parallel;
 * every sum keeps a serial loop's order, so the bits do not depend on the thread count.
 */
export function selectBirths(
  means: readonly Float64Array[],
  nChannels: number,
  proposals: readonly Float32Array[],
  proposalChannels: readonly Int32Array[],
  pcs: TemporalPcs,
  neighbourhoods: ChannelNeighbourhoods,
  options: SelectBirthsOptions,
): Births {
  if (neighbourhoods.nChannels !== nChannels) {
    throw new RangeError(
      `selectBirths: neighbourhoods.nChannels: expected ${nChannels} (nChannels), got ${neighbourhoods.nChannels}`,
    );
  }
  return binding().selectBirths(
    means,
    nChannels,
    proposals,
    proposalChannels,
    pcs.values,
    pcs.nPcs,
    neighbourhoods.channels,
    neighbourhoods.nNeighbours,
    options,
  );
}

/**
 * Matching pursuit of one batch (Kilosort's mexMPnu8): finds spikes as scaled templates, subtracts
 * them, and reports those whose trough lies in the batch's own samples, so adjacent batches whose
 * halos overlap report every spike exactly once. `matcher` runs it (default: the CPU binding; the
 * CUDA binding's matchBatch has the same shapes).
 */
export function matchBatch(
  batch: Batch,
  model: TemplateModel,
  options: MatchOptions,
  matcher: BatchMatcher = binding(),
): MatchResult {
  return matcher.matchBatch(batch.samples, batch.nSamples, batch.nChannels, model, rawMatchOptions(batch, options));
}

/** The binding's options object of matchBatch (shared by the CPU and CUDA backends). */
export function rawMatchOptions(
  batch: Pick<Batch, 'haloSamples' | 'ownSamples'>,
  options: MatchOptions,
): RawMatchOptions {
  return {
    threshold: options.threshold,
    amplitudePrior: options.amplitudePrior,
    learnThreshold: options.learnThreshold,
    innerIterations: options.innerIterations,
    haloSamples: batch.haloSamples,
    ownSamples: batch.ownSamples,
    maxSpikes: options.maxSpikes,
    snippetSums: options.snippetSums,
    similarTemplates: options.similarTemplates
      ? { nSimilar: options.similarTemplates.nSimilar, similar: options.similarTemplates.similar }
      : null,
    pcs: options.pcs ? { nPcs: options.pcs.nPcs, values: options.pcs.values } : null,
    crossCorrelation: options.crossCorrelation,
    deriveCrossCorrelation: options.deriveCrossCorrelation ?? false,
    threads: options.threads,
  };
}

/**
 * New-template proposals on a residual (Kilosort's mexGetSpikes2): prototype-filtered neighbour
 * sums, temporal and spatial peak suppression, full-channel snippets of the surviving peaks whose
 * trough lies in the batch's own samples.
 */
export function proposeTemplates(
  batch: Batch,
  prototypes: ProposalPrototypes,
  neighbourhoods: ChannelNeighbourhoods,
  options: ProposalOptions,
): Proposals {
  if (neighbourhoods.nChannels !== batch.nChannels) {
    throw new RangeError(
      `proposeTemplates: neighbourhoods.nChannels: expected ${batch.nChannels} (batch.nChannels), got ${neighbourhoods.nChannels}`,
    );
  }
  return binding().proposeTemplates(
    batch.samples,
    batch.nSamples,
    batch.nChannels,
    prototypes.values,
    prototypes.nPrototypes,
    neighbourhoods.channels,
    neighbourhoods.nNeighbours,
    {
      templateSamples: prototypes.templateSamples,
      troughSample: options.troughSample,
      neighboursSummed: options.neighboursSummed,
      channelRadius: options.channelRadius,
      threshold: options.threshold,
      haloSamples: batch.haloSamples,
      ownSamples: batch.ownSamples,
      maxProposals: options.maxProposals,
      threads: options.threads,
    },
  );
}

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Raw bindings of the matching area of the native core (native/src/addon/matching.cc): channel
 * neighbourhoods, template factorisation, template correlations, new-template proposals and
 * matching pursuit (Kilosort 2.5 learnAndSolve8b's per-batch kernels).
 *
 * Every function is [sync]: it runs on the calling thread and blocks the event loop while the
 * kernel runs (the kernel itself is multithreaded). A matching-pursuit batch of 384 channels and
 * 300 templates takes on the order of a second, so callers that must stay responsive (the worker's
 * gRPC server) should call these from a worker thread until async variants exist.
 *
 * All of them throw TypeError when an argument has the wrong type and RangeError when a size or
 * value is out of range; the message names the argument, what was expected and what was found.
 * Arrays are row-major; layouts are documented in native/include/spikeshard/templates.h and on the
 * typed wrappers in matching.ts.
 */

/** A template model as it crosses the boundary (see TemplateModel in matching.ts). */
export interface RawTemplateModel {
  nTemplates: number;
  nChannels: number;
  templateSamples: number;
  troughSample: number;
  rank: number;
  nNeighbours: number;
  temporal: Float32Array;
  spatial: Float32Array;
  meanAmplitude: Float32Array;
  peakChannel: Int32Array;
  neighbours: Int32Array;
}

export interface RawFactorizeOptions {
  templateSamples: number;
  troughSample: number;
  rank: number;
  powerIterations: number;
  upsampleFactor: number;
  kernelSigmaSamples: number;
  threads: number;
}

export interface RawTemplateCorrelations {
  nTemplates: number;
  nLags: number;
  nSimilar: number;
  crossCorrelation: Float32Array;
  similarity: Float32Array;
  similar: Int32Array;
}

export interface RawMatchOptions {
  threshold: number;
  amplitudePrior: number;
  learnThreshold: number;
  innerIterations: number;
  haloSamples: number;
  ownSamples: number;
  maxSpikes: number;
  snippetSums: boolean;
  similarTemplates: { nSimilar: number; similar: Int32Array } | null;
  pcs: { nPcs: number; values: Float32Array } | null;
  crossCorrelation: Float32Array | null;
  /** Exact score updates with WtW derived from the model where the match runs (crossCorrelation null). */
  deriveCrossCorrelation?: boolean;
  threads: number;
}

export interface RawMatchResult {
  sample: Int32Array;
  templateId: Int32Array;
  amplitude: Float32Array;
  score: Float32Array;
  residual: Float32Array;
  snippetSums: Float64Array | null;
  snippetCounts: Int32Array | null;
  templateFeatures: Float32Array | null;
  pcFeatures: Float32Array | null;
  spikesFound: number;
  iterations: number;
  capped: boolean;
}

export interface RawProposalOptions {
  templateSamples: number;
  troughSample: number;
  neighboursSummed: number;
  channelRadius: number;
  threshold: number;
  haloSamples: number;
  ownSamples: number;
  maxProposals: number;
  threads: number;
}

export interface RawProposals {
  sample: Int32Array;
  channel: Int32Array;
  score: Float32Array;
  snippets: Float32Array;
  capped: boolean;
}

export interface RawTriageOptions {
  minNsp: number;
  maxSimilarity: number;
  amplitudeGap: number;
  threads: number;
}

export interface RawBirthOptions {
  templateSamples: number;
  troughSample: number;
  maxCorrelation: number;
  minAmplitudeRatio: number;
  maxBirths: number;
  threads: number;
}

export interface RawBirths {
  born: Int32Array;
  waves: Float64Array[];
}

export interface MatchingBinding {
  /** [sync] iC: nChannels × nNeighbours nearest channels (self first). */
  nearestChannels(xUm: Float32Array, yUm: Float32Array, nNeighbours: number): Int32Array;
  /** [sync] iW: argmax over channels of |dWU| at the trough sample. */
  peakChannels(
    meanWaveforms: Float64Array,
    nTemplates: number,
    templateSamples: number,
    nChannels: number,
    troughSample: number,
    threads: number,
  ): Int32Array;
  /** [sync] Low-rank factorisation of mean waveforms dWU into a template model. */
  factorizeTemplates(
    meanWaveforms: Float64Array | readonly Float64Array[],
    nTemplates: number,
    nChannels: number,
    neighbours: Int32Array,
    nNeighbours: number,
    peakChannel: Int32Array,
    previousTemporal: Float32Array | null,
    options: RawFactorizeOptions,
  ): RawTemplateModel;
  /** [sync] Full-lag cross-correlations WtW, similarity (simScore) and most-similar lists (iList). */
  templateCorrelations(model: RawTemplateModel, nSimilarMax: number, threads: number): RawTemplateCorrelations;
  /** [sync] templateCorrelations' similarity and most-similar lists (the same bits), without WtW. */
  templateSimilarity(
    model: RawTemplateModel,
    nSimilarMax: number,
    threads: number,
  ): Omit<RawTemplateCorrelations, 'crossCorrelation'>;
  /** [sync] Zero-lag similarity ⟨T_a, T_b⟩, nTemplates × nTemplates. */
  zeroLagSimilarity(model: RawTemplateModel, threads: number): Float32Array;
  poolRunningMeans(
    means: readonly Float64Array[],
    active: Int32Array,
    sums: Float64Array,
    factors: Float64Array,
    counts: Int32Array,
    threads: number,
  ): void;
  /** [sync] The templates that survive triage, ascending. */
  triageTemplates(model: RawTemplateModel, nsp: Float64Array, options: RawTriageOptions): Int32Array;
  /** [sync] The proposals of a learning round that become templates, and their smoothed waveforms. */
  selectBirths(
    means: readonly Float64Array[],
    nChannels: number,
    proposals: readonly Float32Array[],
    proposalChannels: readonly Int32Array[],
    pcs: Float32Array,
    nPcs: number,
    neighbours: Int32Array,
    nNeighbours: number,
    options: RawBirthOptions,
  ): RawBirths;
  /** [sync] Matching pursuit of one batch. */
  matchBatch(
    samples: Float32Array,
    nSamples: number,
    nChannels: number,
    model: RawTemplateModel,
    options: RawMatchOptions,
  ): RawMatchResult;
  /** [sync] New-template proposals on a residual. */
  proposeTemplates(
    samples: Float32Array,
    nSamples: number,
    nChannels: number,
    prototypes: Float32Array,
    nPrototypes: number,
    neighbours: Int32Array,
    nNeighbours: number,
    options: RawProposalOptions,
  ): RawProposals;
}

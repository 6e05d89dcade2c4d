// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Rounds 3 and 4, per batch: matching pursuit of a whitened, drift-corrected batch against the
 * current templates. Learning returns the sufficient statistics of the template update (per
 * template snippet sums and counts) and proposals for new templates from the residual;
 * extraction returns the spikes with their template and PC features.
 */
import {
  matchBatch,
  templateCorrelations,
  type BatchMatcher,
  type MatchOptions,
  proposeTemplates,
  type ProposalPrototypes,
  type SimilarTemplates,
  type TemplateModel,
  type TemporalPcs,
} from '../matching.js';
import type { DeviceProposalRequest, FusedMatchResult } from '../backend.js';
import type { FloatBlock } from '../preprocess.js';

/** The frozen state a match needs. */
export interface MatchModel {
  model: TemplateModel;
  /** WtW of `model` (exact score updates), or null to re-filter the residual. */
  crossCorrelation: Float32Array | null;
  /**
   * Exact score updates with WtW derived from `model` where the batches are matched
   * (crossCorrelation null): on the device for the CUDA backend, which keeps it with the resident
   * model, once per model on the host for the CPU. The coordinator then never holds the F² × 121
   * floats (0.8 GB at 1 300 templates) nor sends them to workers.
   */
  deriveCrossCorrelation?: boolean;
  /** Extraction only: iList and wPCA for the features. */
  similar: SimilarTemplates | null;
  pcs: TemporalPcs | null;
  /** wTEMP for proposals (learning only). */
  prototypes: ProposalPrototypes;
  /** Channel neighbourhoods (iC), nChannels × nNeighbours. */
  neighbourhoods: Int32Array;
  nNeighbours: number;
}

export interface MatchParams {
  learnThreshold: number;
  extractThreshold: number;
  amplitudePrior: number;
}

export interface LearnBatchResult {
  nTemplates: number;
  /** Templates with spikes in their snippet sums (`counts > 0`), ascending. */
  active: Int32Array;
  /**
   * (active.length × nt0 × nChannels) sums of the isolated waveforms of spikes above the learning
   * threshold, row k for template `active[k]` (the other templates' sums are zero and left out).
   */
  sums: Float64Array;
  /** (nTemplates) spikes in each template's sums. */
  counts: Int32Array;
  /** Proposals for new templates from the residual, (n × nt0 × nChannels), in (time, channel) order. */
  proposals: Float32Array;
  proposalChannels: Int32Array;
  proposalScores: Float32Array;
  spikes: number;
}

export interface ExtractBatchResult {
  /** Absolute trough samples, ascending. */
  samples: Float64Array;
  templates: Int32Array;
  amplitudes: Float32Array;
  scores: Float32Array;
  /** (S × nSimilar) */
  templateFeatures: Float32Array;
  /** (S × nPcs × nNeighbours) */
  pcFeatures: Float32Array;
  capped: boolean;
}

/** Where a batch's own samples lie in its block (halos on either side). */
export interface BatchGeometry {
  nSamples: number;
  nChannels: number;
  haloSamples: number;
  ownSamples: number;
}

/**
 * One matching-pursuit run of a batch against `match.model`: the CPU or CUDA `matchBatch` on a
 * whitened block ({@link blockMatchRun}) or the device's fused raw-to-spikes chain. Snippet sums
 * come back compact and the residual only when asked for.
 */
export type BatchMatchRun = ((
  options: MatchOptions,
  returnResidual: boolean,
  proposals?: DeviceProposalRequest,
) => FusedMatchResult) & {
  /** The run computes `proposals` itself (on the device) when asked: no residual needs to come back. */
  readonly proposesOnDevice?: boolean;
};

/** {@link BatchMatchRun} of `matchBatch` on a whitened block (compacting the snippet sums). */
export function blockMatchRun(
  block: FloatBlock,
  haloSamples: number,
  ownSamples: number,
  model: TemplateModel,
  matcher?: BatchMatcher,
): BatchMatchRun {
  return (options, returnResidual) => {
    const host = !matcher && options.deriveCrossCorrelation === true;
    const matchOptions = host
      ? { ...options, crossCorrelation: hostCrossCorrelation(model), deriveCrossCorrelation: false }
      : options;
    const r = matchBatch(batchOf(block, haloSamples, ownSamples), model, matchOptions, matcher);
    let snippetTemplates: Int32Array | null = null;
    let snippetSums = r.snippetSums;
    if (r.snippetSums !== null && r.snippetCounts !== null) {
      const size = model.templateSamples * block.nChannels;
      const active: number[] = [];
      r.snippetCounts.forEach((n, j) => (n > 0 ? active.push(j) : undefined));
      const full = r.snippetSums;
      snippetSums = new Float64Array(active.length * size);
      active.forEach((j, k) => snippetSums!.set(full.subarray(j * size, (j + 1) * size), k * size));
      snippetTemplates = Int32Array.from(active);
    }
    return { ...r, residual: returnResidual ? r.residual : null, snippetTemplates, snippetSums };
  };
}

const derived = new WeakMap<TemplateModel, Float32Array>();

/**
 * WtW of `model` for the CPU matcher, computed once per model object: a round's batches share one
 * (a model is never modified once built), and it goes with the model.
 */
function hostCrossCorrelation(model: TemplateModel): Float32Array {
  let wtw = derived.get(model);
  if (wtw === undefined) {
    wtw = templateCorrelations(model, { nSimilarMax: 1, threads: 0 }).crossCorrelation;
    derived.set(model, wtw);
  }
  return wtw;
}

function batchOf(block: FloatBlock, haloSamples: number, ownSamples: number) {
  return { samples: block.data, nSamples: block.nSamples, nChannels: block.nChannels, haloSamples, ownSamples };
}

function learnOptions(match: MatchModel, params: MatchParams): MatchOptions {
  return {
    threshold: params.learnThreshold,
    amplitudePrior: params.amplitudePrior,
    learnThreshold: params.learnThreshold,
    innerIterations: 60,
    maxSpikes: 100_000,
    snippetSums: true,
    similarTemplates: null,
    pcs: null,
    ...crossCorrelationOptions(match),
    threads: 0,
  };
}

function crossCorrelationOptions(match: MatchModel): Pick<MatchOptions, 'crossCorrelation' | 'deriveCrossCorrelation'> {
  if (match.deriveCrossCorrelation === true) {
    if (match.crossCorrelation !== null) {
      throw new RangeError('MatchModel: deriveCrossCorrelation needs crossCorrelation to be null (given both)');
    }
    return { crossCorrelation: null, deriveCrossCorrelation: match.model.nTemplates > 0 };
  }
  return { crossCorrelation: match.crossCorrelation };
}

export function learnBatch(
  block: FloatBlock,
  haloSamples: number,
  ownSamples: number,
  match: MatchModel,
  params: MatchParams,
  matcher?: BatchMatcher,
): LearnBatchResult {
  const geometry = { nSamples: block.nSamples, nChannels: block.nChannels, haloSamples, ownSamples };
  if (match.model.nTemplates > 0) {
    return learnWith(blockMatchRun(block, haloSamples, ownSamples, match.model, matcher), geometry, match, params);
  }
  return withProposals(block.data, geometry, match, params, {
    active: new Int32Array(0),
    sums: new Float64Array(0),
    counts: new Int32Array(0),
    spikes: 0,
  });
}

/** Learning statistics and proposals of one batch from a matching-pursuit run (templates > 0). */
export function learnWith(
  run: BatchMatchRun,
  geometry: BatchGeometry,
  match: MatchModel,
  params: MatchParams,
): LearnBatchResult {
  if (run.proposesOnDevice) {
    const request = proposalRequest(geometry, match, params);
    const r = run(learnOptions(match, params), false, request);
    if (!r.proposals || r.snippetSums === null || r.snippetCounts === null || r.snippetTemplates === null) {
      throw new RangeError('learnWith: the device run returned no proposals or no snippet sums');
    }
    return {
      nTemplates: match.model.nTemplates,
      active: r.snippetTemplates,
      sums: r.snippetSums,
      counts: r.snippetCounts,
      spikes: r.sample.length,
      proposals: r.proposals.snippets,
      proposalChannels: r.proposals.channel,
      proposalScores: r.proposals.score,
    };
  }
  const r = run(learnOptions(match, params), true);
  if (r.residual === null || r.snippetSums === null || r.snippetCounts === null || r.snippetTemplates === null) {
    throw new RangeError('learnWith: the matcher returned no residual or no snippet sums');
  }
  return withProposals(r.residual, geometry, match, params, {
    active: r.snippetTemplates,
    sums: r.snippetSums,
    counts: r.snippetCounts,
    spikes: r.sample.length,
  });
}

/** The proposals of a learning batch: prototypes, neighbourhoods and options (one place for both paths). */
function proposalRequest(geometry: BatchGeometry, match: MatchModel, params: MatchParams): DeviceProposalRequest {
  return {
    prototypes: match.prototypes,
    neighbourhoods: { nChannels: geometry.nChannels, nNeighbours: match.nNeighbours, channels: match.neighbourhoods },
    options: {
      troughSample: 20,
      neighboursSummed: 7,
      channelRadius: 4,
      threshold: params.learnThreshold,
      maxProposals: 5000,
      threads: 0,
    },
  };
}

function withProposals(
  residual: Float32Array,
  geometry: BatchGeometry,
  match: MatchModel,
  params: MatchParams,
  stats: Pick<LearnBatchResult, 'active' | 'sums' | 'counts' | 'spikes'>,
): LearnBatchResult {
  const request = proposalRequest(geometry, match, params);
  const proposals = proposeTemplates(
    { ...geometry, samples: residual },
    request.prototypes,
    request.neighbourhoods,
    request.options,
  );
  return {
    nTemplates: match.model.nTemplates,
    ...stats,
    proposals: proposals.snippets,
    proposalChannels: proposals.channel,
    proposalScores: proposals.score,
  };
}

export function extractBatch(
  block: FloatBlock,
  firstOwnSample: number,
  haloSamples: number,
  ownSamples: number,
  match: MatchModel,
  params: MatchParams,
  matcher?: BatchMatcher,
): ExtractBatchResult {
  return extractWith(
    blockMatchRun(block, haloSamples, ownSamples, match.model, matcher),
    firstOwnSample,
    match,
    params,
  );
}

/** Spikes and features of one batch from a matching-pursuit run (no residual asked for). */
export function extractWith(
  run: BatchMatchRun,
  firstOwnSample: number,
  match: MatchModel,
  params: MatchParams,
): ExtractBatchResult {
  if (match.similar === null || match.pcs === null) {
    throw new RangeError('extractBatch: the model needs similar templates and PCs for extraction');
  }
  const r = run(
    {
      threshold: params.extractThreshold,
      amplitudePrior: params.amplitudePrior,
      learnThreshold: params.learnThreshold,
      innerIterations: 60,
      maxSpikes: 100_000,
      snippetSums: false,
      similarTemplates: match.similar,
      pcs: match.pcs,
      ...crossCorrelationOptions(match),
      threads: 0,
    },
    false,
  );
  return {
    samples: Float64Array.from(r.sample, (s) => s + firstOwnSample),
    templates: r.templateId,
    amplitudes: r.amplitude,
    scores: r.score,
    templateFeatures: r.templateFeatures ?? new Float32Array(0),
    pcFeatures: r.pcFeatures ?? new Float32Array(0),
    capped: r.capped,
  };
}

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Rounds 3 and 4, per batch: matching pursuit of a whitened, drift-corrected batch against the
 * current templates. Learning returns the sufficient statistics of the template update (per
 * template snippet sums and counts) and proposals for new templates from the residual;
 * extraction returns the spikes with their template and PC features.
 */
import {
  matchBatch,
  type BatchMatcher,
  proposeTemplates,
  type ProposalPrototypes,
  type SimilarTemplates,
  type TemplateModel,
  type TemporalPcs,
} from '../matching.js';
import type { FloatBlock } from '../preprocess.js';

/** The frozen state a match needs. */
export interface MatchModel {
  model: TemplateModel;
  /** WtW of `model` (exact score updates), or null to re-filter the residual. */
  crossCorrelation: Float32Array | null;
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
  /** (F × nt0 × nChannels) sums of the isolated waveforms of spikes above the learning threshold. */
  sums: Float64Array;
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

function batchOf(block: FloatBlock, haloSamples: number, ownSamples: number) {
  return { samples: block.data, nSamples: block.nSamples, nChannels: block.nChannels, haloSamples, ownSamples };
}

export function learnBatch(
  block: FloatBlock,
  haloSamples: number,
  ownSamples: number,
  match: MatchModel,
  params: MatchParams,
  matcher?: BatchMatcher,
): LearnBatchResult {
  const batch = batchOf(block, haloSamples, ownSamples);
  const nt0 = match.prototypes.templateSamples;
  let residual: Float32Array = block.data;
  let sums: Float64Array = new Float64Array(0);
  let counts: Int32Array = new Int32Array(0);
  let spikes = 0;
  if (match.model.nTemplates > 0) {
    const r = matchBatch(
      batch,
      match.model,
      {
        threshold: params.learnThreshold,
        amplitudePrior: params.amplitudePrior,
        learnThreshold: params.learnThreshold,
        innerIterations: 60,
        maxSpikes: 100_000,
        snippetSums: true,
        similarTemplates: null,
        pcs: null,
        crossCorrelation: match.crossCorrelation,
        threads: 0,
      },
      matcher,
    );
    residual = r.residual;
    sums = r.snippetSums ?? new Float64Array(match.model.nTemplates * nt0 * block.nChannels);
    counts = r.snippetCounts ?? new Int32Array(match.model.nTemplates);
    spikes = r.sample.length;
  }
  const proposals = proposeTemplates(
    { ...batch, samples: residual },
    match.prototypes,
    { nChannels: block.nChannels, nNeighbours: match.nNeighbours, channels: match.neighbourhoods },
    {
      troughSample: 20,
      neighboursSummed: 7,
      channelRadius: 4,
      threshold: params.learnThreshold,
      maxProposals: 5000,
      threads: 0,
    },
  );
  return {
    nTemplates: match.model.nTemplates,
    sums,
    counts,
    proposals: proposals.snippets,
    proposalChannels: proposals.channel,
    proposalScores: proposals.score,
    spikes,
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
  if (match.similar === null || match.pcs === null) {
    throw new RangeError('extractBatch: the model needs similar templates and PCs for extraction');
  }
  const r = matchBatch(
    batchOf(block, haloSamples, ownSamples),
    match.model,
    {
      threshold: params.extractThreshold,
      amplitudePrior: params.amplitudePrior,
      learnThreshold: params.learnThreshold,
      innerIterations: 60,
      maxSpikes: 100_000,
      snippetSums: false,
      similarTemplates: match.similar,
      pcs: match.pcs,
      crossCorrelation: match.crossCorrelation,
      threads: 0,
    },
    matcher,
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

// SPDX-License-Identifier: GPL-3.0-or-later
/** The engine's public face: everything outside native/ imports from here. */
export { loadCpuBinding, packageRoot, NativeLoadError } from './load.js';
export type { NativeDescription } from './binding.js';
export {
  nearestChannels,
  peakChannels,
  factorizeTemplates,
  templateCorrelations,
  zeroLagSimilarity,
  matchBatch,
  proposeTemplates,
  DEFAULT_FACTORIZE_OPTIONS,
  DEFAULT_CORRELATION_OPTIONS,
  DEFAULT_MATCH_OPTIONS,
  DEFAULT_PROPOSAL_OPTIONS,
} from './matching.js';
export type {
  Option,
  TemplateModel,
  ChannelNeighbourhoods,
  MeanWaveforms,
  FactorizeOptions,
  SimilarTemplates,
  TemplateCorrelations,
  CorrelationOptions,
  Batch,
  TemporalPcs,
  MatchOptions,
  MatchResult,
  Prototypes,
  ProposalOptions,
  Proposals,
} from './matching.js';

// SPDX-License-Identifier: GPL-3.0-or-later
export type {
  ProbeSetup,
  ChannelState,
  DriftState,
  RawBlock,
  BatchRange,
  BatchSpan,
  StatisticsWindow,
  OwnerSegment,
} from './types.js';
export { BatchEngine, engineBackend } from './batch-engine.js';
export type { BatchEngineOptions, EngineBackend, EngineBackendSummary, PrefetchRequest } from './batch-engine.js';
export { ownerSegments } from './requests.js';
export type { ProbeWork, StatisticsRequest, SnippetsRequest, DriftDetectRequest, MatchRequest } from './requests.js';
export { windowStatistics, reduceStatistics } from './statistics.js';
export type { StatisticsParams, WindowStatistics } from './statistics.js';
export { whitenBlock, shiftBlock, cudaWhitenShiftBlock } from './batch.js';
export type { PreprocessParams, ShiftParams, BlockShift, CudaPreprocessBinding } from './batch.js';
export { prototypeSnippets, driftBatch } from './drift-round.js';
export type { DriftBatchResult } from './drift-round.js';
export { learnBatch, extractBatch } from './match-round.js';
export type { MatchModel, MatchParams, LearnBatchResult, ExtractBatchResult } from './match-round.js';
export { deviceModelKey } from './model-key.js';

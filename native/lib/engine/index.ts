// SPDX-License-Identifier: GPL-3.0-or-later
export type { ProbeSetup, ChannelState, DriftState, RawBlock, BatchRange } from './types.js';
export { windowStatistics, reduceStatistics } from './statistics.js';
export type { StatisticsParams, WindowStatistics } from './statistics.js';
export { whitenBlock, shiftBlock } from './batch.js';
export type { PreprocessParams, ShiftParams } from './batch.js';
export { prototypeSnippets, driftBatch } from './drift-round.js';
export type { DriftBatchResult } from './drift-round.js';
export { learnBatch, extractBatch } from './match-round.js';
export type { MatchModel, MatchParams, LearnBatchResult, ExtractBatchResult } from './match-round.js';

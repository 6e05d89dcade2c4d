// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The requests of the five per-batch operations, as plain data: the same objects are handed to the
 * in-process engine and encoded for a worker (proto/wire.ts). Each holds everything its operation
 * needs, so a request can be retried or sent to another process without changing the result.
 */
import type { SortParams } from '../../../proto/params.js';
import type { MatchModel } from './match-round.js';
import type { BatchSpan, ChannelState, DriftState, OwnerSegment, ProbeSetup, StatisticsWindow } from './types.js';

/** One probe's sort as the per-batch work sees it. */
export interface ProbeWork {
  /** e.g. 'imec0'. */
  probe: string;
  /** The recording (.bin, .meta or plain .json); whoever runs the work opens it. */
  recordingPath: string;
  allowPartialSample: boolean;
  setup: ProbeSetup;
  params: SortParams;
}

export interface StatisticsRequest {
  work: ProbeWork;
  window: StatisticsWindow;
}

export interface SnippetsRequest {
  work: ProbeWork;
  batch: BatchSpan;
  channels: ChannelState;
}

export interface DriftDetectRequest {
  work: ProbeWork;
  batch: BatchSpan;
  channels: ChannelState;
  /** (61 × nPrototypes) prototype waveforms of the generic detector. */
  wTemp: Float32Array;
}

/** Learning and extraction: matching pursuit of the drift-corrected batch. */
export interface MatchRequest {
  work: ProbeWork;
  batch: BatchSpan;
  /** Owner of each stretch of the batch's read range (its own range and its neighbours' halos). */
  segments: OwnerSegment[];
  channels: ChannelState;
  drift: DriftState | null;
  model: MatchModel;
}

/** The owner segments of a batch's read range, from the batch plan. */
export function ownerSegments(batches: readonly BatchSpan[], batch: BatchSpan): OwnerSegment[] {
  return batches
    .filter((b) => b.ownEnd > batch.readStart && b.ownStart < batch.readEnd)
    .map((b) => ({ batch: b.index, start: b.ownStart, end: b.ownEnd }));
}

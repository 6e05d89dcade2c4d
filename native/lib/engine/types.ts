// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The state each round's per-batch work needs. Every field is a plain number or typed array, so
 * the same objects cross process boundaries (gRPC, issue 4) unchanged. Each round's work is a
 * pure function of (raw samples of the batch plus halo, this state).
 */
import type { LocalWhitening } from '../preprocess.js';
import type { ProbeType } from '../recording/probe-table.js';

/** Fixed per probe, from the recording. Positions are the sorter's (shanks side by side). */
export interface ProbeSetup {
  nChannels: number;
  sampleRateHz: number;
  xUm: Float64Array;
  yUm: Float64Array;
  /** µV per ADC count of each channel. */
  uvPerCount: Float64Array;
  /** 0 for reference sites that carry no signal (SpikeGLX "used" flag). */
  used: Uint8Array;
  /** The probe family (ADC sample shifts and full scale of `preprocessing: 'ibl'`); default custom. */
  probeType?: ProbeType | 'custom';
  /** Shank of each channel (the ibl k-filter runs per shank); default one shank. */
  shank?: Int32Array;
}

/** After the statistics round. */
export interface ChannelState {
  /** 0 good, 1 dead, 2 noisy, 3 outside the brain (unused sites are labelled dead). */
  labels: Int32Array;
  /** 1 for channels that are sorted and enter the common reference. */
  good: Uint8Array;
  /** µV per count for good channels, 0 for the others: bad channels contribute nothing. */
  gains: Float64Array;
  whitening: LocalWhitening;
}

/** After the drift round. */
export interface DriftState {
  nBatches: number;
  nBlocks: number;
  /** (nBatches × nBlocks) µm. */
  dshiftUm: Float64Array;
  /** (nBlocks,) µm. */
  yBlockUm: Float64Array;
}

/** Raw samples of a batch plus halo: (nSamples × nChannels) int16, sample-major, neural channels only. */
export interface RawBlock {
  data: Int16Array;
  /** Absolute index of the first sample. */
  firstSample: number;
  nSamples: number;
}

/** A batch as the engine sees it: which absolute samples it owns. */
export interface BatchRange {
  index: number;
  ownStart: number;
  ownEnd: number;
}

/** A planned batch: the half-open sample range it owns and the range it reads (own plus halo, clipped). */
export interface BatchSpan {
  index: number;
  /** First sample owned by this batch. */
  ownStart: number;
  /** One past the last owned sample. */
  ownEnd: number;
  /** First sample read (ownStart − halo, clipped at 0). */
  readStart: number;
  /** One past the last sample read (ownEnd + halo, clipped at the end). */
  readEnd: number;
}

/** One window of the statistics round, in samples: the window plus a margin on each side. */
export interface StatisticsWindow {
  readStart: number;
  readEnd: number;
  marginSamples: number;
}

/** The stretch of a block owned by one batch (absolute, half-open samples): shifted with that batch's drift. */
export interface OwnerSegment {
  batch: number;
  start: number;
  end: number;
}

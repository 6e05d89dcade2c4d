// SPDX-License-Identifier: GPL-3.0-or-later
import type { ProbeGeometry } from './geometry.js';
import type { ProbeType } from './probe-table.js';

/** What a description file (`.meta` or `.json`) says about the columns of its `.bin`. */
export interface RecordingLayout {
  /** `custom` for plain-format recordings that do not name a Neuropixels type. */
  readonly probeType: ProbeType | 'custom';
  /** `imDatPrb_type` (0 for NP1.0 and 3A); `null` for plain-format recordings. */
  readonly probeTypeCode: number | null;
  /** Human name, e.g. 'Neuropixels 2.0 four-shank'. */
  readonly probeName: string;
  /** int16 columns per sample in the `.bin`. */
  readonly nSavedChannels: number;
  /** The column of each neural channel, in channel order. */
  readonly neuralColumns: Int32Array;
  readonly syncColumn: number | null;
  readonly sampleRateHz: number;
  /** µV per int16 count, per neural channel. */
  readonly uvPerCount: Float64Array;
  readonly geometry: ProbeGeometry;
  /** The `.bin` size the description states, if it states one (`fileSizeBytes`). */
  readonly declaredFileBytes: number | undefined;
  /** Non-fatal findings, each a sentence for the user. */
  readonly problems: string[];
}

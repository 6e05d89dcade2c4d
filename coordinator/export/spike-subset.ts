// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Raw-data waveforms of a subset of spikes (`_phy_spikes_subset.*`, formats.md §4.2): what phy
 * shows as individual waveforms, read back from the raw recording as params.py describes it
 * (int16, interleaved, `n_channels_dat` columns, no offset), unfiltered, in volts.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { InputError, expected } from '../../proto/errors.js';
import type { SortingResult } from '../formats/sorting-result.js';

/** Samples per subset waveform: 41 before the spike's trough sample and 41 from it on (phy's 82). */
export const SUBSET_SAMPLES = 82;
const SUBSET_BEFORE = 41;

/**
 * Spike indices (ascending) of the subset: all spikes of a template with at most
 * `maxPerTemplate`, otherwise `maxPerTemplate` of them spread evenly over its spikes in time
 * (the k-th is its spike ⌊k · n / maxPerTemplate⌋).
 */
export function selectSubsetSpikes(spikeTemplates: Uint32Array, nTemplates: number, maxPerTemplate: number): number[] {
  if (!Number.isInteger(maxPerTemplate) || maxPerTemplate < 1) {
    throw new RangeError(`spike subset: maxPerTemplate ${expected('an integer ≥ 1', maxPerTemplate)}`);
  }
  // Each template's spikes, ascending, as one counting sort into typed arrays (no per-spike push).
  const start = new Int32Array(nTemplates + 1);
  for (let s = 0; s < spikeTemplates.length; s++) {
    const t = spikeTemplates[s]!;
    if (t >= nTemplates)
      throw new RangeError(`spike subset: spike ${s} ${expected(`a template below ${nTemplates}`, t)}`);
    start[t + 1]!++;
  }
  for (let t = 0; t < nTemplates; t++) start[t + 1]! += start[t]!;
  const members = new Int32Array(spikeTemplates.length);
  const next = start.slice(0, nTemplates);
  for (let s = 0; s < spikeTemplates.length; s++) members[next[spikeTemplates[s]!]!++] = s;
  let nPicked = 0;
  for (let t = 0; t < nTemplates; t++) nPicked += Math.min(maxPerTemplate, start[t + 1]! - start[t]!);
  const picked = new Int32Array(nPicked);
  let at = 0;
  for (let t = 0; t < nTemplates; t++) {
    const m = members.subarray(start[t], start[t + 1]);
    if (m.length <= maxPerTemplate) {
      picked.set(m, at);
      at += m.length;
    } else for (let k = 0; k < maxPerTemplate; k++) picked[at++] = m[Math.floor((k * m.length) / maxPerTemplate)]!;
  }
  return Array.from(picked.sort());
}

export interface SpikeSubset {
  /** (n,) spike indices, ascending. */
  spikes: number[];
  /** (n, W) sorted-channel indices of each spike's waveform: its template's waveform channels. */
  channels: Int32Array;
  /** (n, SUBSET_SAMPLES, W) V; samples outside the recording are 0. */
  waveformsV: Float32Array;
  nWaveformChannels: number;
}

/**
 * Reads the raw waveforms of `spikes` on their template's channels (`templateChannels`, (T, W)
 * sorted-channel indices, e.g. the ALF waveform channels) from `result.datPath`, one read per
 * spike window. Raw counts × the channel's V per count; nothing is filtered or re-referenced.
 */
export function extractSpikeSubset(
  result: SortingResult,
  spikes: number[],
  templateChannels: Int32Array,
  nWaveformChannels: number,
): SpikeSubset {
  const W = nWaveformChannels;
  const n = spikes.length;
  const columns = result.nChannelsDat;
  const file = path.resolve(result.datPath);
  const channels = new Int32Array(n * W);
  const waveformsV = new Float32Array(n * SUBSET_SAMPLES * W);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new InputError(file, `cannot read the raw recording for the spike subset: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    const fileSamples = Math.floor(fstatSync(fd).size / (2 * columns));
    if (fileSamples < result.nSamples) {
      throw new InputError(
        file,
        `raw recording ${expected(`at least ${result.nSamples} samples of ${columns} int16 columns`, `${fileSamples} samples`)}`,
      );
    }
    const window = Buffer.alloc(SUBSET_SAMPLES * columns * 2);
    for (let i = 0; i < n; i++) {
      const s = spikes[i]!;
      const t = result.spikes.templates[s]!;
      const first = result.spikes.samples[s]! - SUBSET_BEFORE;
      const lo = Math.max(0, first);
      const hi = Math.min(result.nSamples, first + SUBSET_SAMPLES);
      const bytes = (hi - lo) * columns * 2;
      let got = 0;
      while (got < bytes) {
        const r = readSync(fd, window, got, bytes - got, lo * columns * 2 + got);
        if (r === 0) throw new InputError(file, `ended early while reading samples ${lo}–${hi}`);
        got += r;
      }
      for (let k = 0; k < W; k++) {
        const c = templateChannels[t * W + k]!;
        channels[i * W + k] = c;
        const column = result.probe.channelMap[c]!;
        const vPerCount = result.probe.uvPerCount[c]! * 1e-6;
        for (let j = lo; j < hi; j++) {
          const value = window.readInt16LE(((j - lo) * columns + column) * 2);
          waveformsV[(i * SUBSET_SAMPLES + (j - first)) * W + k] = value * vPerCount;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return { spikes, channels, waveformsV, nWaveformChannels: W };
}

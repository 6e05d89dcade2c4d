// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * IBL's waveform extraction (`waveforms.*`, formats.md §4.2; ibldsp `extract_wfs_cbin` as ibllib's
 * spike-sorting task runs it): up to 256 spikes of every cluster cut from the lightly
 * preprocessed raw recording, 128 samples with the trough at sample 42, on the ~40 channels
 * within 200 µm of the cluster's peak channel, in volts; their per-cluster median
 * (`waveforms.templates`); a table saying which spike each waveform is; the channels of each.
 *
 * The preprocessing, chunk by chunk with a halo, is IBL's list: zero-phase Butterworth high-pass
 * (300 Hz, order 3), ADC sample-shift correction, interpolation of dead and noisy channels, and a
 * common median reference over all channels. Differences from ibldsp are in docs/outputs.md.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import {
  CbinReader,
  adcSampleShift,
  commonMedianReference,
  destripeBatch,
  type FloatBlock,
} from '../../native/lib/index.js';
import { InputError, ParameterError, expected } from '../../proto/errors.js';
import type { SortingResult } from '../formats/sorting-result.js';
import { deriveTemplates, whiteningInverse } from './derived.js';
import { validateSortingResult } from './validate.js';

/** Options of {@link extractIblWaveforms}; IBL's values are the defaults (in brackets). */
export interface IblWaveformOptions {
  /** Waveforms per cluster, M. [256] */
  maxPerCluster?: number;
  /** Samples before the spike's trough sample. [42] */
  troughOffsetSamples?: number;
  /** Samples per waveform, L. [128] */
  lengthSamples?: number;
  /** Channels within this distance (µm, sorting positions) of the peak channel. [200] */
  radiusUm?: number;
  /** Apply IBL's preprocessing; false: raw counts × V per count (unfiltered). [true] */
  preprocess?: boolean;
  /** Samples preprocessed at a time (IBL's chunk size). [30000] */
  chunkSamples?: number;
}

/** What {@link extractIblWaveforms} returns: the contents of the four `waveforms.*` files. */
export interface IblWaveforms {
  /** (U,) the clusters that have spikes, ascending: row u of traces and templates is cluster clusterIds[u]. */
  clusterIds: Int32Array;
  maxPerCluster: number;
  /** N: channels per waveform (the largest neighbourhood; shorter ones are padded). */
  nChannels: number;
  lengthSamples: number;
  /** (U, M, N, L) V; NaN on padding channels and for the missing waveforms of clusters with fewer than M. */
  traces: Float32Array;
  /** (U, N, L) V: per sample and channel, the median over the cluster's waveforms; NaN where it has none and on padding channels. */
  templates: Float32Array;
  /** U·M rows, by cluster then sample; missing waveforms last in their cluster with NaN sample, index and channel. */
  table: {
    /** Position of the waveform among all extracted ones in time order. */
    index: Float64Array;
    /** Trough sample in the raw file (spikes.samples). */
    sample: Float64Array;
    cluster: Float64Array;
    /** The cluster's peak channel (clusters.channels). */
    peakChannel: Float64Array;
  };
  /** (U·M, N) int16 channel indices of each waveform, in table order; C (one past the last channel) pads a neighbourhood; −1 rows for missing waveforms. */
  channels: Int16Array;
}

const BUTTERWORTH_HZ = 300;
const BUTTERWORTH_ORDER = 3;
// Enough for the zero-phase high-pass (its impulse response decays within ~200 samples at
// 300 Hz) and the 33-tap sample-shift filter to see real data on both sides of every waveform.
const HALO_SAMPLES = 1024;

function count(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ParameterError(`IBL waveforms: ${name} ${expected(`an integer >= ${min}`, value)}`);
  }
  return value;
}

/**
 * (C, N) ibldsp's channel index: row c holds the channels within `radiusUm` (Euclidean, in the
 * given positions) of channel c in ascending order, padded with C; N is the largest count.
 */
export function channelNeighbourhoods(
  positionsUm: ArrayLike<number>,
  radiusUm: number,
): { index: Int32Array; width: number } {
  const C = positionsUm.length / 2;
  const rows: number[][] = [];
  for (let c = 0; c < C; c++) {
    const row: number[] = [];
    for (let k = 0; k < C; k++) {
      const d = Math.hypot(
        positionsUm[2 * k]! - positionsUm[2 * c]!,
        positionsUm[2 * k + 1]! - positionsUm[2 * c + 1]!,
      );
      if (d <= radiusUm) row.push(k);
    }
    rows.push(row);
  }
  const width = Math.max(1, ...rows.map((r) => r.length));
  const index = new Int32Array(C * width).fill(C);
  rows.forEach((r, c) => index.set(r, c * width));
  return { index, width };
}

/**
 * The spikes whose waveforms are cut, per cluster with spikes (ascending ids): those whose whole
 * window lies inside the recording (trough sample in (troughOffset, nSamples − (length −
 * troughOffset)), IBL's bounds), all of them when at most `maxPerCluster`, otherwise
 * `maxPerCluster` spread evenly in time (the k-th of m is the cluster's ⌊k·n/m⌋-th eligible spike).
 */
export function selectWaveformSpikes(
  samples: ArrayLike<number>,
  clusters: ArrayLike<number>,
  nSamples: number,
  maxPerCluster: number,
  troughOffsetSamples: number,
  lengthSamples: number,
): { clusterIds: Int32Array; picked: number[][] } {
  const eligible = new Map<number, number[]>();
  for (let s = 0; s < clusters.length; s++) {
    const id = clusters[s]!;
    if (!eligible.has(id)) eligible.set(id, []);
    const t = samples[s]!;
    if (t > troughOffsetSamples && t < nSamples - (lengthSamples - troughOffsetSamples)) eligible.get(id)!.push(s);
  }
  const clusterIds = Int32Array.from([...eligible.keys()].sort((a, b) => a - b));
  const picked = Array.from(clusterIds, (id) => {
    const m = eligible.get(id)!;
    if (m.length <= maxPerCluster) return m;
    return Array.from({ length: maxPerCluster }, (_, k) => m[Math.floor((k * m.length) / maxPerCluster)]!);
  });
  return { clusterIds, picked };
}

/** Reads all columns of samples [a, b) of the raw recording (.bin as params.py describes it, or .cbin). */
interface RawSource {
  read(a: number, b: number): Promise<Int16Array>;
  close(): Promise<void>;
}

async function openRaw(result: SortingResult): Promise<RawSource> {
  const file = path.resolve(result.datPath);
  const columns = result.nChannelsDat;
  if (file.endsWith('.cbin')) {
    const reader = await CbinReader.open(file);
    if (reader.header.nChannels !== columns || reader.header.nSamples < result.nSamples) {
      await reader.close();
      throw new InputError(
        file,
        `compressed recording ${expected(`${columns} columns and at least ${result.nSamples} samples`, `${reader.header.nChannels} columns, ${reader.header.nSamples} samples`)}`,
      );
    }
    return {
      read: async (a, b) => {
        const out = new Int16Array((b - a) * columns);
        await reader.readRows(a, b, out);
        return out;
      },
      close: () => reader.close(),
    };
  }
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new InputError(file, `cannot read the raw recording for the waveforms: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const fileSamples = Math.floor(fstatSync(fd).size / (2 * columns));
  if (fileSamples < result.nSamples) {
    closeSync(fd);
    throw new InputError(
      file,
      `raw recording ${expected(`at least ${result.nSamples} samples of ${columns} int16 columns`, `${fileSamples} samples`)}`,
    );
  }
  return {
    read: (a, b) => {
      const bytes = Buffer.alloc((b - a) * columns * 2);
      let got = 0;
      while (got < bytes.length) {
        const r = readSync(fd, bytes, got, bytes.length - got, a * columns * 2 + got);
        if (r === 0) throw new InputError(file, `ended early while reading samples ${a}–${b}`);
        got += r;
      }
      return Promise.resolve(new Int16Array(bytes.buffer, bytes.byteOffset, (b - a) * columns));
    },
    close: () => {
      closeSync(fd);
      return Promise.resolve();
    },
  };
}

/** Samples [a, b) of the sorted channels as a (samples × C) block in µV, preprocessed or not. */
function preprocessBlock(
  result: SortingResult,
  raw: Int16Array,
  nSamples: number,
  preprocess: boolean,
  shift: Float64Array,
): FloatBlock {
  const { probe, nChannelsDat } = result;
  const C = probe.channelMap.length;
  const counts = new Int16Array(nSamples * C);
  for (let t = 0; t < nSamples; t++) {
    for (let c = 0; c < C; c++) counts[t * C + c] = raw[t * nChannelsDat + probe.channelMap[c]!]!;
  }
  if (!preprocess) {
    const data = new Float32Array(nSamples * C);
    for (let t = 0; t < nSamples; t++)
      for (let c = 0; c < C; c++) data[t * C + c] = counts[t * C + c]! * probe.uvPerCount[c]!;
    return { data, nSamples, nChannels: C };
  }
  const pos = probe.sortingPositionsUm;
  const filtered = destripeBatch(
    { data: counts, nChannels: C },
    {
      sampleRateHz: result.sampleRateHz,
      cutoffHz: BUTTERWORTH_HZ,
      order: BUTTERWORTH_ORDER,
      gains: probe.uvPerCount,
      labels: Int32Array.from(probe.channelLabels),
      xUm: Float64Array.from({ length: C }, (_, c) => pos[2 * c]!),
      yUm: Float64Array.from({ length: C }, (_, c) => pos[2 * c + 1]!),
      shank: probe.shanks,
      sampleShift: shift,
      kfilter: false,
      mute: false,
    },
  );
  return commonMedianReference(filtered, new Uint8Array(C).fill(1));
}

/**
 * Cuts IBL's waveforms (`waveforms.*`) of `result` from its raw recording (`result.datPath`, .bin
 * or .cbin). Reads and preprocesses only the chunks that hold a selected spike; an unreadable or
 * short recording is an InputError before anything is returned.
 */
export async function extractIblWaveforms(
  result: SortingResult,
  options: IblWaveformOptions = {},
): Promise<IblWaveforms> {
  const dims = validateSortingResult(result);
  const M = count('maxPerCluster', options.maxPerCluster ?? 256, 1);
  const L = count('lengthSamples', options.lengthSamples ?? 128, 1);
  const before = count('troughOffsetSamples', options.troughOffsetSamples ?? 42, 0);
  if (before >= L)
    throw new ParameterError(`IBL waveforms: troughOffsetSamples ${expected(`< lengthSamples = ${L}`, before)}`);
  const chunkSamples = count('chunkSamples', options.chunkSamples ?? 30000, 1);
  const radiusUm = options.radiusUm ?? 200;
  if (!(radiusUm >= 0)) throw new ParameterError(`IBL waveforms: radiusUm ${expected('a distance >= 0', radiusUm)}`);
  const preprocess = options.preprocess ?? true;

  const C = dims.nChannels;
  const { peakChannels } = deriveTemplates(result, dims, whiteningInverse(result, dims));
  const { index: neighbours, width: N } = channelNeighbourhoods(result.probe.sortingPositionsUm, radiusUm);
  const { samples, templates: spikeClusters } = result.spikes;
  const { clusterIds, picked } = selectWaveformSpikes(samples, spikeClusters, result.nSamples, M, before, L);
  const U = clusterIds.length;

  // Every picked spike with its slot (u, k), in time order: IBL's chronological "index".
  const slots: { spike: number; u: number; k: number }[] = [];
  picked.forEach((spikes, u) => spikes.forEach((spike, k) => slots.push({ spike, u, k })));
  slots.sort((a, b) => samples[a.spike]! - samples[b.spike]! || a.spike - b.spike);

  const traces = new Float32Array(U * M * N * L).fill(NaN);
  const probeType = result.probe.type;
  const fullShift = adcSampleShift(
    probeType === 'np1' || probeType === 'np2' || probeType === 'np2-4shank' ? probeType : 'custom',
    Math.max(...result.probe.channelMap) + 1,
  );
  const shift = Float64Array.from(result.probe.channelMap, (c) => fullShift[c]!);

  const source = slots.length > 0 ? await openRaw(result) : null;
  try {
    let i = 0;
    while (i < slots.length) {
      const chunk = Math.floor(samples[slots[i]!.spike]! / chunkSamples);
      let j = i;
      while (j < slots.length && Math.floor(samples[slots[j]!.spike]! / chunkSamples) === chunk) j++;
      const first = samples[slots[i]!.spike]! - before;
      const last = samples[slots[j - 1]!.spike]! - before + L;
      const a = Math.max(0, first - HALO_SAMPLES);
      const b = Math.min(result.nSamples, last + HALO_SAMPLES);
      const block = preprocessBlock(result, await source!.read(a, b), b - a, preprocess, shift);
      for (let q = i; q < j; q++) {
        const { spike, u, k } = slots[q]!;
        const peak = peakChannels[clusterIds[u]!]!;
        const start = samples[spike]! - before - a;
        for (let n = 0; n < N; n++) {
          const c = neighbours[peak * N + n]!;
          if (c === C) continue;
          const out = ((u * M + k) * N + n) * L;
          for (let t = 0; t < L; t++) traces[out + t] = block.data[(start + t) * C + c]! * 1e-6;
        }
      }
      i = j;
    }
  } finally {
    await source?.close();
  }

  const templates = new Float32Array(U * N * L).fill(NaN);
  const values = new Float64Array(M);
  for (let u = 0; u < U; u++) {
    const m = picked[u]!.length;
    for (let n = 0; n < N; n++) {
      for (let t = 0; t < L; t++) {
        let filled = 0;
        for (let k = 0; k < m; k++) {
          const v = traces[((u * M + k) * N + n) * L + t]!;
          if (!Number.isNaN(v)) values[filled++] = v;
        }
        if (filled > 0) templates[(u * N + n) * L + t] = median(values.subarray(0, filled));
      }
    }
  }

  const rows = U * M;
  const order = new Map(slots.map((s, idx) => [s.spike, idx]));
  const table = {
    index: new Float64Array(rows).fill(NaN),
    sample: new Float64Array(rows).fill(NaN),
    cluster: new Float64Array(rows),
    peakChannel: new Float64Array(rows).fill(NaN),
  };
  const channels = new Int16Array(rows * N).fill(-1);
  picked.forEach((spikes, u) => {
    const peak = peakChannels[clusterIds[u]!]!;
    for (let k = 0; k < M; k++) {
      const row = u * M + k;
      table.cluster[row] = clusterIds[u]!;
      if (k >= spikes.length) continue;
      table.index[row] = order.get(spikes[k]!)!;
      table.sample[row] = samples[spikes[k]!]!;
      table.peakChannel[row] = peak;
      channels.set(neighbours.subarray(peak * N, (peak + 1) * N), row * N);
    }
  });
  return { clusterIds, maxPerCluster: M, nChannels: N, lengthSamples: L, traces, templates, table, channels };
}

/** Median of values (sorted in place); the mean of the two middle values for an even count. */
function median(values: Float64Array): number {
  values.sort();
  const h = values.length >> 1;
  return values.length % 2 === 1 ? values[h]! : (values[h - 1]! + values[h]!) / 2;
}

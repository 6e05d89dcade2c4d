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
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  read,
  renameSync,
  rmSync,
  write,
  writeSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import {
  CbinReader,
  adcSampleShift,
  cudaDestripeCutWaveformsAsync,
  cutWaveforms,
  destripeBatch,
  finishIblWaveformsAsync,
  type DestripeOptions,
  type FloatBlock,
  type NativeCudaBinding,
} from '../../native/lib/index.js';
import { InputError, ParameterError, expected } from '../../proto/errors.js';
import { encodeNpyHeader } from '../formats/npy.js';
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
  /**
   * Preprocess and cut each chunk on this CUDA backend instead of the CPU (the sort passes its own
   * when it runs on CUDA): the raw chunk goes to the device, only its waveforms come back, bitwise
   * the CPU path's. A device error fails the extraction (no fallback). Ignored when `preprocess`
   * is false (nothing to compute). [the CPU]
   */
  cuda?: Pick<NativeCudaBinding, 'destripeCutWaveformsAsync'>;
  /**
   * Receives the seconds of each part: read (waiting for the raw chunks: each is read while the one
   * before is preprocessed and cut), preprocess, cut (waveforms into the scratch file), finish
   * (medians and the float16 traces file). With `cuda`, preprocess is the wait for the device
   * (preprocessing and cutting; the next chunk is read and the previous one written meanwhile)
   * and cut the writing.
   */
  timings?: Record<string, number>;
}

/**
 * What {@link extractIblWaveforms} returns: the contents of the four `waveforms.*` files, the
 * traces as a finished file (they are too large to hold in memory: 5.2 MB per cluster as float32).
 */
export interface IblWaveforms {
  /** (U,) the clusters that have spikes, ascending: row u of traces and templates is cluster clusterIds[u]. */
  clusterIds: Int32Array;
  maxPerCluster: number;
  /** N: channels per waveform (the largest neighbourhood; shorter ones are padded). */
  nChannels: number;
  lengthSamples: number;
  /**
   * `waveforms.traces.npy`, complete, in the folder given to extractIblWaveforms: (U, M, N, L)
   * float16 V; NaN on padding channels and for the missing waveforms of clusters with fewer than M.
   */
  tracesFile: string;
  /** (U, N, L) V: per sample and channel, the median over the cluster's float32 waveforms (before their rounding to float16); NaN where it has none and on padding channels. */
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
  const fits = (t: number): boolean => t > troughOffsetSamples && t < nSamples - (lengthSamples - troughOffsetSamples);
  // Two passes over the spikes with per-cluster counters, so that memory grows with the clusters
  // and the picks, not with the recording's spikes.
  let maxId = -1;
  for (let s = 0; s < clusters.length; s++) {
    const id = clusters[s]!;
    if (!Number.isSafeInteger(id) || id < 0) throw new RangeError(`spike ${s}: cluster ${expected('an id >= 0', id)}`);
    if (id > maxId) maxId = id;
  }
  const present = new Uint8Array(maxId + 1);
  const eligible = new Float64Array(maxId + 1);
  for (let s = 0; s < clusters.length; s++) {
    present[clusters[s]!] = 1;
    if (fits(samples[s]!)) eligible[clusters[s]!]!++;
  }
  const clusterIds = Int32Array.from(Array.from({ length: maxId + 1 }, (_, id) => id).filter((id) => present[id]));
  const picked = Array.from(clusterIds, (): number[] => []);
  const row = new Int32Array(maxId + 1);
  clusterIds.forEach((id, u) => (row[id] = u));
  const seen = new Float64Array(maxId + 1);
  for (let s = 0; s < clusters.length; s++) {
    if (!fits(samples[s]!)) continue;
    const id = clusters[s]!;
    const n = eligible[id]!;
    const rank = seen[id]!++;
    const mine = picked[row[id]!]!;
    const k = mine.length;
    if (n <= maxPerCluster || (k < maxPerCluster && rank === Math.floor((k * n) / maxPerCluster))) mine.push(s);
  }
  return { clusterIds, picked };
}

/** Reads all columns of samples [a, b) of the raw recording (.bin as params.py describes it, or .cbin) into `out` ((b − a) rows). */
interface RawSource {
  read(a: number, b: number, out: Int16Array): Promise<void>;
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
      read: (a, b, out) => reader.readRows(a, b, out),
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
    // Asynchronous (libuv's thread pool), so that the next chunk is read while this one is preprocessed.
    read: async (a, b, out) => {
      const bytes = new Uint8Array(out.buffer, out.byteOffset, (b - a) * columns * 2);
      let got = 0;
      while (got < bytes.length) {
        const r = await new Promise<number>((resolve, reject) =>
          read(fd, bytes, got, bytes.length - got, a * columns * 2 + got, (err, n) => (err ? reject(err) : resolve(n))),
        );
        if (r === 0) throw new InputError(file, `ended early while reading samples ${a}–${b}`);
        got += r;
      }
    },
    close: () => {
      closeSync(fd);
      return Promise.resolve();
    },
  };
}

/**
 * Samples [a, b) of the sorted channels: the raw chunk as the destriping reads it (in place with the
 * file's row stride for the usual map, the first C columns in order, e.g. all but SpikeGLX's sync
 * channel; a gathered copy otherwise).
 */
function sortedCounts(
  result: SortingResult,
  raw: Int16Array,
  nSamples: number,
): { data: Int16Array; rowStride: number } {
  const { probe, nChannelsDat } = result;
  const C = probe.channelMap.length;
  const map = probe.channelMap;
  if (map.every((column, c) => column === c)) return { data: raw, rowStride: nChannelsDat };
  const counts = new Int16Array(nSamples * C);
  for (let t = 0; t < nSamples; t++) {
    const row = t * nChannelsDat;
    for (let c = 0; c < C; c++) counts[t * C + c] = raw[row + map[c]!]!;
  }
  return { data: counts, rowStride: C };
}

/** IBL's preprocessing as destripeBatch options (the same on the CPU and the device). */
function destripeOptions(result: SortingResult, shift: Float64Array): DestripeOptions {
  const { probe } = result;
  const C = probe.channelMap.length;
  const pos = probe.sortingPositionsUm;
  return {
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
    // The common median reference over all channels, in the interpolation's pass over the samples.
    commonReference: new Uint8Array(C).fill(1),
  };
}

/** Samples [a, b) of the sorted channels as a (samples × C) block in µV, preprocessed or not, in `data` (nSamples·C values). */
function preprocessBlock(
  result: SortingResult,
  raw: Int16Array,
  nSamples: number,
  preprocess: boolean,
  options: DestripeOptions,
  data: Float32Array,
): FloatBlock {
  const { probe } = result;
  const C = probe.channelMap.length;
  const counts = sortedCounts(result, raw, nSamples);
  if (!preprocess) {
    for (let t = 0; t < nSamples; t++)
      for (let c = 0; c < C; c++) data[t * C + c] = counts.data[t * counts.rowStride + c]! * probe.uvPerCount[c]!;
    return { data, nSamples, nChannels: C };
  }
  return destripeBatch({ data: counts.data, nChannels: C, rowStride: counts.rowStride }, options, data);
}

/**
 * Cuts IBL's waveforms (`waveforms.*`) of `result` from its raw recording (`result.datPath`, .bin
 * or .cbin) and writes `waveforms.traces.npy` into `dir` (created if missing; put it on the file
 * system of the ALF output so that `writeAlf` can hard-link the file instead of copying it). Reads
 * and preprocesses only the chunks that hold a selected spike; an unreadable or short recording is
 * an InputError and leaves no traces file.
 *
 * Memory is one preprocessed chunk (with up to three raw chunks: the next one, read meanwhile, and
 * on the device the one in flight) plus one cluster's waveforms per engine thread, whatever the
 * number of clusters: each chunk's waveforms go, in one write, to a float32 scratch file in `dir`
 * (in time order); then, one cluster per thread at a time, a cluster's rows are read back for the
 * median template and written as float16 to the traces file, which is renamed into place when
 * complete. The scratch file is removed; `dir` needs ~6 bytes per trace value meanwhile
 * (U·M·N·L·2 for the traces, and 4 per value of the waveforms actually cut).
 */
export async function extractIblWaveforms(
  result: SortingResult,
  dir: string,
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

  const { peakChannels } = deriveTemplates(result, dims, whiteningInverse(result, dims));
  const { index: neighbours, width: N } = channelNeighbourhoods(result.probe.sortingPositionsUm, radiusUm);
  const { samples, templates: spikeClusters } = result.spikes;
  const { clusterIds, picked } = selectWaveformSpikes(samples, spikeClusters, result.nSamples, M, before, L);
  const U = clusterIds.length;

  // Every picked spike with its slot (u, k), in time order: IBL's chronological "index".
  const slots: { spike: number; u: number; k: number }[] = [];
  picked.forEach((spikes, u) => spikes.forEach((spike, k) => slots.push({ spike, u, k })));
  slots.sort((a, b) => samples[a.spike]! - samples[b.spike]! || a.spike - b.spike);

  const probeType = result.probe.type;
  const fullShift = adcSampleShift(
    probeType === 'np1' || probeType === 'np2' || probeType === 'np2-4shank' ? probeType : 'custom',
    Math.max(...result.probe.channelMap) + 1,
  );
  const shift = Float64Array.from(result.probe.channelMap, (c) => fullShift[c]!);

  // The scratch file holds the waveforms actually cut in the order they are cut (time order): row q
  // is slot q, N·L float32 values, so that each chunk's waveforms go out in one write. Cluster u's
  // waveform k is row rows[firstRow[u] + k]; the finish gathers them per cluster.
  const firstRow = new Float64Array(U + 1);
  picked.forEach((spikes, u) => (firstRow[u + 1] = firstRow[u]! + spikes.length));
  if (slots.length > 0xffffffff) {
    throw new ParameterError(`IBL waveforms: ${expected('at most 2^32 − 1 waveforms', slots.length)}`);
  }
  const scratchRows = new Uint32Array(slots.length);
  slots.forEach(({ u, k }, q) => (scratchRows[firstRow[u]! + k] = q));
  const rowBytes = N * L * 4;

  mkdirSync(dir, { recursive: true });
  const tracesFile = path.join(dir, 'waveforms.traces.npy');
  const tag = `${process.pid}.${randomBytes(4).toString('hex')}`;
  const scratchFile = path.join(dir, `.waveforms.float32.${tag}.tmp`);
  const partialFile = path.join(dir, `.waveforms.traces.npy.${tag}.tmp`);
  const templates = new Float32Array(U * N * L);
  const spent = { read: 0, preprocess: 0, cut: 0, finish: 0 };
  let clock = performance.now();
  const lap = (part: keyof typeof spent): void => {
    const now = performance.now();
    spent[part] += (now - clock) / 1000;
    clock = now;
  };
  const scratch = openSync(scratchFile, 'w+');
  let scratchOpen = true;
  try {
    // The chunks holding a selected spike (only those are read): slots [i, j), samples [a, b).
    const chunks: { i: number; j: number; a: number; b: number }[] = [];
    for (let i = 0; i < slots.length;) {
      const chunk = Math.floor(samples[slots[i]!.spike]! / chunkSamples);
      let j = i;
      while (j < slots.length && Math.floor(samples[slots[j]!.spike]! / chunkSamples) === chunk) j++;
      const first = samples[slots[i]!.spike]! - before;
      const last = samples[slots[j - 1]!.spike]! - before + L;
      chunks.push({ i, j, a: Math.max(0, first - HALO_SAMPLES), b: Math.min(result.nSamples, last + HALO_SAMPLES) });
      i = j;
    }
    const source = chunks.length > 0 ? await openRaw(result) : null;
    const destripe = destripeOptions(result, shift);
    const C = result.probe.channelMap.length;
    // Buffers reused across chunks rather than made per chunk (their garbage collection and page
    // faults cost more than the copies): the raw chunks in turn (one read ahead, one on the device,
    // one in hand), and on the CPU the preprocessed chunk and two waveform buffers in turn (one
    // written to the scratch file while the next is cut).
    const rawValues = Math.max(0, ...chunks.map(({ a, b }) => (b - a) * result.nChannelsDat));
    const rawBuffers: Int16Array[] = [];
    const rawBuffer = (n: number): Int16Array => {
      const { a, b } = chunks[n]!;
      rawBuffers[n % 3] ??= new Int16Array(rawValues);
      return rawBuffers[n % 3]!.subarray(0, (b - a) * result.nChannelsDat);
    };
    const waveValues = Math.max(0, ...chunks.map(({ i, j }) => (j - i) * N * L));
    const waveBuffers: Float32Array[] = [];
    let blockBuffer: Float32Array | undefined; // the preprocessed chunk, on the CPU
    // The windows of chunk n: first samples relative to the chunk, channel rows of each waveform.
    const windows = (n: number): { starts: Int32Array; channels: Int32Array; nRows: number; length: number } => {
      const { i, j, a } = chunks[n]!;
      const starts = new Int32Array(j - i);
      const channels = new Int32Array((j - i) * N);
      for (let q = i; q < j; q++) {
        const { spike, u } = slots[q]!;
        const peak = peakChannels[clusterIds[u]!]!;
        starts[q - i] = samples[spike]! - before - a;
        channels.set(neighbours.subarray(peak * N, (peak + 1) * N), (q - i) * N);
      }
      return { starts, channels, nRows: N, length: L };
    };
    // Chunk n's waveforms (slots [i, j) in order) to rows [i, j) of the scratch file, off the
    // JavaScript thread; one write at a time in flight (memory: its waveforms).
    let writing: Promise<void> | null = null;
    const store = async (n: number, waves: Float32Array): Promise<void> => {
      const { i, j } = chunks[n]!;
      const pending = writing;
      writing = null;
      await pending;
      writing = writeAt(scratch, new Uint8Array(waves.buffer, waves.byteOffset, (j - i) * rowBytes), i * rowBytes);
      // Awaited at the next store or after the loop: marked handled meanwhile (it still rejects that await).
      writing.catch(() => undefined);
    };
    const cuda = preprocess ? options.cuda : undefined;
    // One chunk read ahead; its promise is always awaited before the source closes. On the
    // device, one chunk in flight while the previous one's waveforms are written.
    let next: Promise<void> | null = null;
    let inFlight: { n: number; waves: Promise<Float32Array> } | null = null;
    try {
      for (let n = 0; n < chunks.length; n++) {
        const { i, j, a, b } = chunks[n]!;
        clock = performance.now();
        const raw = rawBuffer(n);
        await (next ?? source!.read(a, b, raw));
        next = n + 1 < chunks.length ? source!.read(chunks[n + 1]!.a, chunks[n + 1]!.b, rawBuffer(n + 1)) : null;
        lap('read');
        if (cuda !== undefined) {
          const counts = sortedCounts(result, raw, b - a);
          const launched = {
            n,
            waves: cudaDestripeCutWaveformsAsync(
              cuda,
              { data: counts.data, nChannels: C, rowStride: counts.rowStride },
              destripe,
              windows(n),
              1e-6,
            ),
          };
          // Awaited below, after the next read: marked handled now so that a device error that
          // arrives meanwhile is not an unhandled rejection (it still rejects the await).
          launched.waves.catch(() => undefined);
          if (inFlight !== null) {
            const done = inFlight;
            inFlight = null;
            const cut = await done.waves;
            lap('preprocess');
            await store(done.n, cut);
            lap('cut');
          }
          inFlight = launched;
          continue;
        }
        blockBuffer ??= new Float32Array(Math.max(...chunks.map((c) => (c.b - c.a) * C)));
        const block = preprocessBlock(result, raw, b - a, preprocess, destripe, blockBuffer.subarray(0, (b - a) * C));
        lap('preprocess');
        const count = j - i;
        waveBuffers[n % 2] ??= new Float32Array(waveValues);
        const waves = waveBuffers[n % 2]!.subarray(0, count * N * L);
        cutWaveforms(block, windows(n), 1e-6, waves);
        await store(n, waves);
        lap('cut');
      }
      if (inFlight !== null) {
        const done = inFlight;
        inFlight = null;
        clock = performance.now();
        const cut = await done.waves;
        lap('preprocess');
        await store(done.n, cut);
        lap('cut');
      }
      // store() sets `writing`, which TypeScript's narrowing of the loop does not see.
      const last = writing as Promise<void> | null;
      writing = null;
      await last;
      lap('cut');
    } finally {
      await inFlight?.waves.catch(() => undefined);
      await next?.catch(() => undefined);
      await (writing as Promise<void> | null)?.catch(() => undefined);
      await source?.close();
    }

    // Per cluster, its rows read back for the median template and written as float16 to the traces
    // file (renamed into place when complete): on the engine's threads, clusters in parallel.
    clock = performance.now();
    const out = openSync(partialFile, 'w');
    try {
      const header = encodeNpyHeader([U, M, N, L], '<f2');
      writeAll(out, header, 0);
      await finishIblWaveformsAsync(
        {
          scratchFd: scratch,
          tracesFd: out,
          tracesOffset: header.length,
          rows: scratchRows,
          firstRow,
          maxPerCluster: M,
          nValues: N * L,
        },
        templates,
      );
      // The scratch file is done with: freeing its blocks (as long as writing them, for a large
      // file) runs on libuv's pool while the traces are flushed.
      scratchOpen = false;
      closeSync(scratch);
      const removal = rm(scratchFile, { force: true });
      try {
        fsyncSync(out);
      } finally {
        await removal;
      }
    } finally {
      closeSync(out);
    }
    renameSync(partialFile, tracesFile);
    lap('finish');
  } catch (err) {
    rmSync(partialFile, { force: true });
    throw err;
  } finally {
    if (scratchOpen) closeSync(scratch);
    rmSync(scratchFile, { force: true });
  }

  if (options.timings !== undefined) Object.assign(options.timings, spent);
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
  return { clusterIds, maxPerCluster: M, nChannels: N, lengthSamples: L, tracesFile, templates, table, channels };
}

/** Writes all of `bytes` at `position` of `fd`; returns the position after them. */
function writeAll(fd: number, bytes: Uint8Array, position: number): number {
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, position + written);
  return position + bytes.length;
}

/** Writes all of `bytes` at `position` of `fd` on libuv's thread pool. */
async function writeAt(fd: number, bytes: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await new Promise<number>((resolve, reject) =>
      write(fd, bytes, written, bytes.length - written, position + written, (err, n) =>
        err ? reject(err) : resolve(n),
      ),
    );
  }
}

/**
 * Median of values (reordered in place); the mean of the two middle values for an even count.
 * The extraction's templates come from the native `waveformMedians`; this is its reference in
 * the tests (numpy's rule, −0 before 0).
 */
export function median(values: Float64Array): number {
  return medianOfFirst(values, values.length);
}

/** {@link median} of values[0, n). */
function medianOfFirst(values: Float64Array, n: number): number {
  const h = n >> 1;
  const upper = selectRank(values, n, h);
  // The rank h − 1 value is the largest of those the selection left below rank h.
  let lower = upper;
  if (n % 2 === 0) {
    lower = values[0]!;
    for (let i = 1; i < h; i++) if (values[i]! > lower) lower = values[i]!;
  }
  if (upper === 0 || lower === 0) {
    // The selection does not tell −0 from 0; the sort orders −0 first, as numpy does.
    const sorted = values.subarray(0, n).sort();
    return n % 2 === 1 ? sorted[h]! : (sorted[h - 1]! + sorted[h]!) / 2;
  }
  return n % 2 === 1 ? upper : (lower + upper) / 2;
}

/** The value of rank k (0-based) of v[0, n), NaN-free; afterwards v[0, k) ≤ v[k] ≤ v(k, n) (Hoare's selection). */
function selectRank(v: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    // Median of three as the pivot: sorted input (common: slowly varying traces) stays linear.
    const mid = (lo + hi) >> 1;
    if (v[mid]! < v[lo]!) swap(v, mid, lo);
    if (v[hi]! < v[lo]!) swap(v, hi, lo);
    if (v[hi]! < v[mid]!) swap(v, hi, mid);
    const pivot = v[mid]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (v[i]! < pivot) i++;
      while (v[j]! > pivot) j--;
      if (i <= j) swap(v, i++, j--);
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return v[k]!;
}

function swap(v: Float64Array, a: number, b: number): void {
  const x = v[a]!;
  v[a] = v[b]!;
  v[b] = x;
}

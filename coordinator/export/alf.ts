// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The IBL ALF collection of one probe (`alf/probe00/`, docs/outputs.md lists every dataset): what
 * ibllib's `ks2_to_alf` produces from a phy folder, computed here directly from the result. SI
 * units as the attribute names say: s, V, µm, ms.
 */
import { closeSync, copyFileSync, fstatSync, linkSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { InputError, ParameterError, expected } from '../../proto/errors.js';
import { writeFileAtomic } from '../formats/atomic.js';
import { encodeNpyHeader, writeNpy } from '../formats/npy.js';
import { writeNpz } from '../formats/npz.js';
import { writeParquet, type ParquetColumn } from '../formats/parquet.js';
import type { SortingResult } from '../formats/sorting-result.js';
import { UNIT_METRIC_COLUMNS, unitMetrics, type UnitMetrics } from '../postprocess/metrics.js';
import {
  ALF_WAVEFORM_CHANNELS,
  PHY_LEADING_ZEROS,
  deriveTemplates,
  meanPerTemplate,
  nearestChannels,
  peakToTroughMs,
  spikeAmplitudes,
  spikeDepthsUm,
  templateWaveformsVolts,
  whiteningInverse,
} from './derived.js';
import type { IblWaveforms } from './ibl-waveforms.js';
import { SUBSET_SAMPLES, extractSpikeSubset, selectSubsetSpikes } from './spike-subset.js';
import { writeFolderStaged, type StagedFolderOptions } from './staged-folder.js';
import { clusterTsv, clusterUuids, paramsPy } from './text-files.js';
import { as, int64From, uint64From } from './typed.js';
import { validateSortingResult } from './validate.js';

export interface AlfOptions extends StagedFolderOptions {
  /** Seed of the cluster UUIDs (e.g. the run id): the same seed gives the same UUIDs. */
  runId: string;
  /** Optional sorter sub-collection, e.g. 'spikeshard' for `alf/probe00/spikeshard/`. */
  sorter?: string;
  /**
   * Raw waveforms of up to this many spikes per template (`_phy_spikes_subset.*`, read from
   * `result.datPath`); 0 or absent: not written. phy and IBL use 500 (≈ 5 MB per template).
   */
  spikeSubsetPerTemplate?: number;
  /**
   * IBL's waveform extraction (`waveforms.traces/templates/table/channels`), made beforehand by
   * `extractIblWaveforms` (ibl-waveforms.ts) from the same result (it reads the raw recording, asynchronously);
   * its traces file is hard-linked into the collection (copied across file systems) and stays
   * where it is; absent: not written.
   */
  waveforms?: IblWaveforms;
  /** Receives the seconds of each part: derive (templates, amplitudes, depths), metrics, write. */
  timings?: Record<string, number>;
  /** Called as each part ends, after its timing (benchmarks sample memory there). */
  onPart?: (part: string) => void;
}

/** ALF collection name of a probe label: 'imec0' → 'probe00', 'imec1a' → 'probe01a' (split shanks); 'probe00' is kept. */
export function alfProbeCollection(label: string): string {
  const m = /^(?:imec|probe)(\d+)([a-z]?)$/.exec(label);
  if (m === null) throw new ParameterError(`probe label ${expected("'imecN' or 'probeNN' (e.g. 'imec0')", label)}`);
  return `probe${m[1]!.padStart(2, '0')}${m[2]!}`;
}

/**
 * Spike → cluster/template row indices as uint16 when every id fits (T ≤ 65536, as IBL's
 * compress_spikes_dtypes stores them), uint32 otherwise.
 */
export function compactIds(ids: Uint32Array, nIds: number): Uint16Array | Uint32Array {
  return nIds <= 0x10000 ? Uint16Array.from(ids) : Uint32Array.from(ids);
}

/**
 * Writes the ALF collection of `result`'s probe under the ALF folder `alfDir` and returns its
 * path (`alfDir/probe00[/sorter]`). The result is validated first (RangeError before any file
 * exists); the collection appears complete or not at all; an existing one is refused unless
 * `options.overwrite`.
 */
export function writeAlf(alfDir: string, result: SortingResult, options: AlfOptions): string {
  const dims = validateSortingResult(result);
  const probeCollection = alfProbeCollection(result.probe.label);
  if (options.sorter !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(options.sorter)) {
    throw new ParameterError(`ALF sorter collection ${expected('letters, digits, _ or -', options.sorter)}`);
  }
  const target = path.resolve(alfDir, probeCollection, ...(options.sorter === undefined ? [] : [options.sorter]));
  const { nTemplates: T, nChannels: C, nBatches: B, nBlocks } = dims;
  const { spikes, probe, drift } = result;

  let partStart = performance.now();
  const partDone = (part: string): void => {
    const now = performance.now();
    if (options.timings !== undefined) options.timings[part] = (now - partStart) / 1000;
    options.onPart?.(part);
    partStart = performance.now();
  };
  const winv = whiteningInverse(result, dims);
  const derived = deriveTemplates(result, dims, winv);
  const ampsV = spikeAmplitudes(result, derived.p2pVolts);
  const templateAmpsV = meanPerTemplate(ampsV, spikes.templates, T);
  const meanY = meanPerTemplate(spikes.amplitudes, spikes.templates, T);
  const depthsUm = spikeDepthsUm(result, dims, derived.peakDepthsUm);
  const channels = nearestChannels(result, dims, derived.peakChannels);
  const nWf = Math.min(C, ALF_WAVEFORM_CHANNELS);
  const waveforms = templateWaveformsVolts(result, dims, derived.unwhitenedCounts, meanY, channels);
  const waveformShape = [T, PHY_LEADING_ZEROS + dims.nt0, nWf];
  const uuids = clusterUuids(options.runId, probeCollection, T);
  const timesS = new Float64Array(spikes.samples.length);
  for (let i = 0; i < timesS.length; i++) timesS[i] = spikes.samples[i]! / result.sampleRateHz;
  partDone('derive');
  const metrics = unitMetrics({
    timesS,
    clusters: spikes.templates,
    ampsV,
    depthsUm,
    nClusters: T,
    ks2Labels: result.templates.labels,
  });
  partDone('metrics');
  const noiseV = channelNoiseVolts(result, winv, C);
  // Read before anything is written, so that a missing or short raw file leaves no collection.
  const perTemplate = options.spikeSubsetPerTemplate ?? 0;
  const subset =
    perTemplate > 0
      ? extractSpikeSubset(result, selectSubsetSpikes(spikes.templates, T, perTemplate), channels, nWf)
      : null;
  const iblWaveforms = options.waveforms;
  if (iblWaveforms !== undefined) checkIblWaveforms(iblWaveforms, T, C);

  writeFolderStaged(target, options, (dir) => {
    const file = (name: string): string => path.join(dir, name);
    writeNpy(file('spikes.times.npy'), timesS);
    writeNpy(file('spikes.samples.npy'), uint64From(spikes.samples));
    writeNpy(file('spikes.clusters.npy'), compactIds(spikes.templates, T));
    writeNpy(file('spikes.templates.npy'), compactIds(spikes.templates, T));
    writeNpy(file('spikes.amps.npy'), Float32Array.from(ampsV));
    writeNpy(file('spikes.depths.npy'), Float32Array.from(depthsUm));

    // Clusters are the templates (no curation yet), so both objects hold the same rows.
    writeNpy(file('clusters.channels.npy'), int64From(derived.peakChannels));
    writeNpy(file('clusters.depths.npy'), derived.peakDepthsUm);
    writeNpy(file('clusters.amps.npy'), templateAmpsV);
    writeNpy(file('clusters.peakToTrough.npy'), peakToTroughMs(result, dims, derived.peakChannels));
    writeNpy(file('clusters.waveforms.npy'), waveforms, waveformShape);
    writeNpy(file('clusters.waveformsChannels.npy'), channels, [T, nWf]);
    writeFileAtomic(file('clusters.uuids.csv'), ['uuids', ...uuids, ''].join('\n'));
    writeParquet(file('clusters.metrics.pqt'), metricsColumns(metrics));
    writePassingSpikes(file('passingSpikes.table.pqt'), result, metrics, timesS, ampsV, depthsUm, T);
    writeNpy(file('templates.waveforms.npy'), waveforms, waveformShape);
    writeNpy(file('templates.waveformsChannels.npy'), channels, [T, nWf]);
    writeNpy(file('templates.amps.npy'), templateAmpsV);

    writeNpy(file('channels.localCoordinates.npy'), as(Float64Array, probe.localPositionsUm), [C, 2]);
    writeNpy(file('channels.rawInd.npy'), int64From(probe.channelMap));
    writeNpy(file('channels.labels.npy'), as(Int8Array, probe.channelLabels));
    writeNpy(file('_spikeshard_channels.noiseRms.npy'), noiseV);

    writeNpy(file('drift.um.npy'), as(Float64Array, drift.um), [B, nBlocks]);
    writeNpy(file('drift.times.npy'), as(Float64Array, drift.timesS));
    writeNpy(file('drift_depths.um.npy'), as(Float64Array, drift.depthsUm), [1, nBlocks]);
    writeNpy(file('_kilosort_whitening.matrix.npy'), as(Float64Array, result.whitening), [C, C]);

    if (subset !== null) {
      const n = subset.spikes.length;
      writeNpy(file('_phy_spikes_subset.spikes.npy'), int64From(subset.spikes));
      writeNpy(file('_phy_spikes_subset.channels.npy'), subset.channels, [n, nWf]);
      writeNpy(file('_phy_spikes_subset.waveforms.npy'), subset.waveformsV, [n, SUBSET_SAMPLES, nWf]);
    }
    if (iblWaveforms !== undefined) {
      const { clusterIds, maxPerCluster: M, nChannels: N, lengthSamples: L, table } = iblWaveforms;
      const U = clusterIds.length;
      placeFile(iblWaveforms.tracesFile, file('waveforms.traces.npy'));
      writeNpy(file('waveforms.templates.npy'), iblWaveforms.templates, [U, N, L]);
      writeParquet(file('waveforms.table.pqt'), [
        { name: 'index', type: 'double', values: table.index },
        { name: 'sample', type: 'double', values: table.sample },
        { name: 'cluster', type: 'int64', values: table.cluster },
        { name: 'peak_channel', type: 'double', values: table.peakChannel },
      ]);
      writeNpz(file('waveforms.channels.npz'), [{ name: 'channels', data: iblWaveforms.channels, shape: [U * M, N] }]);
    }
    writeFileAtomic(file('cluster_KSLabel.tsv'), clusterTsv('KSLabel', result.templates.labels));
    writeFileAtomic(file('params.py'), paramsPy(result, target));
  });
  partDone('write');
  return target;
}

/** Throws a RangeError when `w` does not fit a result of T clusters and C channels (e.g. made from another result). */
function checkIblWaveforms(w: IblWaveforms, T: number, C: number): void {
  const { clusterIds, maxPerCluster: M, nChannels: N, lengthSamples: L } = w;
  const U = clusterIds.length;
  const bad = (what: string, want: string, got: unknown): never => {
    throw new RangeError(`IBL waveforms ${what}: ${expected(want, got)}`);
  };
  clusterIds.forEach((id, u) => {
    if (id < 0 || id >= T || (u > 0 && id <= clusterIds[u - 1]!))
      bad(`clusterIds[${u}]`, `ascending ids < T = ${T}`, id);
  });
  if (w.templates.length !== U * N * L) bad('templates length', `U·N·L = ${U * N * L}`, w.templates.length);
  if (w.channels.length !== U * M * N) bad('channels length', `U·M·N = ${U * M * N}`, w.channels.length);
  for (const [name, column] of Object.entries(w.table)) {
    if (column.length !== U * M) bad(`table.${name} length`, `U·M = ${U * M}`, column.length);
  }
  w.channels.forEach((c, i) => {
    if (c < -1 || c > C) bad(`channels[${i}]`, `a channel in [0, ${C}], or -1`, c);
  });
  checkTracesFile(w.tracesFile, [U, M, N, L]);
}

/**
 * Throws an InputError unless `file` is an `.npy` of float16 with exactly this shape (its header
 * as encodeNpyHeader writes it, then the data, nothing after), without reading the data.
 */
function checkTracesFile(file: string, shape: number[]): void {
  const header = encodeNpyHeader(shape, '<f2');
  const size = header.length + shape.reduce((a, b) => a * b, 1) * 2;
  let found: Buffer;
  let bytes: number;
  try {
    const fd = openSync(file, 'r');
    try {
      bytes = fstatSync(fd).size;
      found = Buffer.alloc(header.length);
      readSync(fd, found, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new InputError(file, `cannot read the IBL waveform traces: ${(err as Error).message}`, { cause: err });
  }
  if (bytes !== size || !found.equals(header)) {
    throw new InputError(
      file,
      `IBL waveform traces ${expected(`a float16 npy of shape (${shape.join(', ')}), ${size} bytes`, `${bytes} bytes, header ${JSON.stringify(found.toString('latin1').slice(10).trim())}`)}`,
    );
  }
}

/**
 * Puts the finished file `from` at `to` (in the staging folder) as a hard link, which costs no
 * copy and leaves `from` for its owner to remove; a copy where the file system refuses links
 * (another device, or no link support).
 */
function placeFile(from: string, to: string): void {
  try {
    linkSync(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    copyFileSync(from, to);
  }
}

/** clusters.metrics.pqt's columns in IBL's order: ids int64, bitwise_fail uint8, ks2_label text, the rest double. */
export function metricsColumns(m: UnitMetrics): ParquetColumn[] {
  return UNIT_METRIC_COLUMNS.map((name): ParquetColumn => {
    if (name === 'cluster_id') return { name, type: 'int64', values: m.cluster_id };
    if (name === 'bitwise_fail') return { name, type: 'uint8', values: m.bitwise_fail };
    if (name === 'ks2_label') return { name, type: 'string', values: m.ks2_label };
    return { name, type: 'double', values: m[name] };
  });
}

/**
 * passingSpikes.table.pqt: the spikes of the clusters that pass every metric (bitwise_fail 0),
 * with IBL's spike attributes (ids uint16 when they fit, int64 otherwise), streamed from the
 * per-spike arrays through a row selection: no column is copied for the table.
 */
function writePassingSpikes(
  file: string,
  result: SortingResult,
  metrics: UnitMetrics,
  timesS: Float64Array,
  ampsV: Float64Array,
  depthsUm: Float64Array,
  nTemplates: number,
): void {
  const ids = result.spikes.templates;
  let n = 0;
  for (let s = 0; s < ids.length; s++) if (metrics.bitwise_fail[ids[s]!] === 0) n++;
  const rows = new Int32Array(n);
  for (let s = 0, at = 0; s < ids.length; s++) if (metrics.bitwise_fail[ids[s]!] === 0) rows[at++] = s;
  const idType = nTemplates <= 0x10000 ? 'uint16' : 'int64';
  const columns: ParquetColumn[] = [
    { name: 'times', type: 'double', values: timesS },
    { name: 'clusters', type: idType, values: ids },
    { name: 'amps', type: 'float', values: ampsV },
    { name: 'depths', type: 'float', values: depthsUm },
    { name: 'templates', type: idType, values: ids },
    { name: 'samples', type: 'int64', values: result.spikes.samples },
  ];
  writeParquet(file, columns, {}, rows);
}

/**
 * (C,) V: each channel's noise standard deviation implied by the whitening. Whitened data have
 * unit covariance, so raw = whitened · W⁺ has covariance W⁺ᵀ W⁺, whose diagonal is the variance
 * of each channel (in counts², then × V per count). Zero on a channel the whitening ignores.
 */
export function channelNoiseVolts(result: SortingResult, winv: Float64Array, nChannels: number): Float64Array {
  const out = new Float64Array(nChannels);
  for (let c = 0; c < nChannels; c++) {
    let variance = 0;
    for (let k = 0; k < nChannels; k++) variance += winv[k * nChannels + c]! ** 2;
    out[c] = Math.sqrt(variance) * result.probe.uvPerCount[c]! * 1e-6;
  }
  return out;
}

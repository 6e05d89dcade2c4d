// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The IBL ALF collection of one probe (`alf/probe00/`, docs/outputs.md lists every dataset): what
 * ibllib's `ks2_to_alf` produces from a phy folder, computed here directly from the result. SI
 * units as the attribute names say: s, V, µm, ms.
 */
import path from 'node:path';
import { ParameterError, expected } from '../../proto/errors.js';
import { writeFileAtomic } from '../formats/atomic.js';
import { writeNpy } from '../formats/npy.js';
import type { SortingResult } from '../formats/sorting-result.js';
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
import { writeFolderStaged, type StagedFolderOptions } from './staged-folder.js';
import { clusterTsv, clusterUuids, paramsPy } from './text-files.js';
import { as, int64From, uint64From } from './typed.js';
import { validateSortingResult } from './validate.js';

export interface AlfOptions extends StagedFolderOptions {
  /** Seed of the cluster UUIDs (e.g. the run id): the same seed gives the same UUIDs. */
  runId: string;
  /** Optional sorter sub-collection, e.g. 'spikeshard' for `alf/probe00/spikeshard/`. */
  sorter?: string;
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

  writeFolderStaged(target, options, (dir) => {
    const file = (name: string): string => path.join(dir, name);
    writeNpy(
      file('spikes.times.npy'),
      Float64Array.from(spikes.samples, (v) => v / result.sampleRateHz),
    );
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
    writeNpy(file('templates.waveforms.npy'), waveforms, waveformShape);
    writeNpy(file('templates.waveformsChannels.npy'), channels, [T, nWf]);
    writeNpy(file('templates.amps.npy'), templateAmpsV);

    writeNpy(file('channels.localCoordinates.npy'), as(Float64Array, probe.localPositionsUm), [C, 2]);
    writeNpy(file('channels.rawInd.npy'), int64From(probe.channelMap));
    writeNpy(file('channels.labels.npy'), as(Int8Array, probe.channelLabels));

    writeNpy(file('drift.um.npy'), as(Float64Array, drift.um), [B, nBlocks]);
    writeNpy(file('drift.times.npy'), as(Float64Array, drift.timesS));
    writeNpy(file('drift_depths.um.npy'), as(Float64Array, drift.depthsUm), [1, nBlocks]);
    writeNpy(file('_kilosort_whitening.matrix.npy'), as(Float64Array, result.whitening), [C, C]);

    writeFileAtomic(file('cluster_KSLabel.tsv'), clusterTsv('KSLabel', result.templates.labels));
    writeFileAtomic(file('params.py'), paramsPy(result, target));
  });
  return target;
}

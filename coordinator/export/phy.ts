// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The phy / Kilosort output folder (docs/outputs.md lists every file): what phy opens for manual
 * curation and what IBL's converters read. Files, dtypes and shapes follow pykilosort, except
 * templates_ind.npy, which holds the channel indices its name promises.
 */
import path from 'node:path';
import { writeFileAtomic } from '../formats/atomic.js';
import { writeNpy, writeNpyChunks } from '../formats/npy.js';
import { as, int64From, uint64From } from './typed.js';
import type { SortingResult } from '../formats/sorting-result.js';
import {
  PHY_LEADING_ZEROS,
  deriveTemplates,
  meanPerTemplate,
  spikeAmplitudes,
  whiteningInverse,
  type TemplateDerived,
} from './derived.js';
import { writeFolderStaged, type StagedFolderOptions } from './staged-folder.js';
import { clusterTsv, fixed1, paramsPy } from './text-files.js';
import { validateSortingResult, type SortingDims } from './validate.js';

export type PhyOptions = StagedFolderOptions;

/**
 * Writes the phy folder `dir` for `result`. The result is validated first (RangeError before any
 * file exists); the folder appears complete or not at all; an existing `dir` is refused unless
 * `options.overwrite`.
 */
export function writePhy(dir: string, result: SortingResult, options: PhyOptions = {}): void {
  const dims = validateSortingResult(result);
  const winv = whiteningInverse(result, dims);
  const derived = deriveTemplates(result, dims, winv);
  writeFolderStaged(dir, options, (staging) => {
    writePhyFiles(staging, path.resolve(dir), result, dims, winv, derived);
  });
}

/** (T, PHY_LEADING_ZEROS + nt0, C) float32: the whitened templates after 21 zero samples. */
export function paddedTemplates(result: SortingResult, dims: SortingDims): Float32Array {
  const { nTemplates: T, nt0, nChannels: C } = dims;
  const nSamples = PHY_LEADING_ZEROS + nt0;
  const out = new Float32Array(T * nSamples * C);
  for (let t = 0; t < T; t++) {
    const src = result.templates.waveforms.subarray(t * nt0 * C, (t + 1) * nt0 * C);
    out.set(src, (t * nSamples + PHY_LEADING_ZEROS) * C);
  }
  return out;
}

function writePhyFiles(
  dir: string,
  finalDir: string,
  result: SortingResult,
  dims: SortingDims,
  winv: Float64Array,
  derived: TemplateDerived,
): void {
  const { nSpikes: S, nTemplates: T, nChannels: C, nt0, nPc, nFeatures: K, nBatches: B, nBlocks } = dims;
  const { spikes, templates, probe, drift } = result;
  const file = (name: string): string => path.join(dir, name);

  writeNpy(file('spike_times.npy'), uint64From(spikes.samples));
  writeNpy(file('spike_templates.npy'), as(Uint32Array, spikes.templates));
  writeNpy(file('spike_clusters.npy'), as(Uint32Array, spikes.templates));
  writeNpy(file('amplitudes.npy'), as(Float64Array, spikes.amplitudes));

  writeNpy(file('templates.npy'), paddedTemplates(result, dims), [T, PHY_LEADING_ZEROS + nt0, C]);
  const templatesInd = int64From(Array.from({ length: T * C }, (_, k) => k % C));
  writeNpy(file('templates_ind.npy'), templatesInd, [T, C]);

  // The feature files are most of the folder (~0.5 kB per spike): streamed from the source.
  writeNpyChunks(file('template_features.npy'), [S, K], '<f4', (write) =>
    spikes.features.scan('template', null, write),
  );
  writeNpy(file('template_feature_ind.npy'), as(Uint32Array, templates.featureInd), [T, K]);
  writeNpyChunks(file('pc_features.npy'), [S, nPc, K], '<f4', (write) => spikes.features.scan('pc', null, write));
  writeNpy(file('pc_feature_ind.npy'), as(Uint32Array, templates.pcFeatureInd), [T, K]);
  writeNpy(file('spike_pc_components.npy'), as(Float32Array, result.pcBasis), [nt0, nPc]);

  writeNpy(file('whitening_mat.npy'), as(Float64Array, result.whitening), [C, C]);
  writeNpy(file('whitening_mat_inv.npy'), winv, [C, C]);

  writeNpy(file('channel_map.npy'), as(Int32Array, probe.channelMap));
  writeNpy(file('channel_positions.npy'), as(Float32Array, probe.localPositionsUm), [C, 2]);
  writeNpy(file('channel_shanks.npy'), as(Int8Array, probe.shanks));
  writeNpy(file('channel_labels.npy'), as(Int8Array, probe.channelLabels));

  writeNpy(file('similar_templates.npy'), as(Float32Array, templates.similarity), [T, T]);
  writeNpy(file('thresholds.npy'), as(Float64Array, templates.thresholds));
  writeNpy(file('drift.um.npy'), as(Float64Array, drift.um), [B, nBlocks]);
  writeNpy(file('drift_depths.um.npy'), as(Float64Array, drift.depthsUm), [1, nBlocks]);
  writeNpy(file('drift.times.npy'), as(Float64Array, drift.timesS));

  writeFileAtomic(file('cluster_KSLabel.tsv'), clusterTsv('KSLabel', templates.labels));
  writeFileAtomic(file('cluster_group.tsv'), clusterTsv('group', templates.labels));
  const contam = Array.from(templates.contamPct, (x) => fixed1(Number.isNaN(x) ? 100 : x));
  writeFileAtomic(file('cluster_ContamPct.tsv'), clusterTsv('ContamPct', contam));
  const amplitudeCounts = meanPerTemplate(spikeAmplitudes(result, derived.p2pCounts), spikes.templates, T);
  writeFileAtomic(file('cluster_Amplitude.tsv'), clusterTsv('Amplitude', Array.from(amplitudeCounts, fixed1)));

  writeFileAtomic(file('params.py'), paramsPy(result, finalDir));
}

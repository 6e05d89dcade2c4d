// SPDX-License-Identifier: GPL-3.0-or-later
import type { SpikeFeatures } from './spike-features.js';

/**
 * A finished sorting of one probe, in memory (its per-spike feature rows excepted: they are read
 * from a SpikeFeatures source, usually extraction's checkpoint records): what the engine produces and what the phy and ALF
 * writers consume. Shapes are given as (rows, columns, ...) in C order; T = templates (which are
 * also the clusters: spikeshard writes clusters = templates, as Kilosort does), S = spikes,
 * C = sorted channels, nt0 = template samples (61), nPc = 3 PCs, K = feature neighbourhood (32).
 *
 * "Whitened units": the sorter's whitened space, where the noise has unit variance. The whitening
 * matrix maps raw ADC counts to it (`whitened = raw · whitening`), so its inverse brings templates
 * back to counts, and `uvPerCount` to µV.
 */

export type ClusterLabel = 'good' | 'mua';

export interface SortingProbe {
  /** e.g. 'imec0'; also names the ALF collection (probe00, ...). */
  label: string;
  /** 'np1' | 'np2' | 'np2-4shank' | 'raw' */
  type: string;
  /** (C,) column of each sorted channel in the raw file. */
  channelMap: Int32Array;
  /** (C, 2) x, y µm within the shank (x from the shank's edge), as users see them. */
  localPositionsUm: Float64Array;
  /** (C, 2) x, y µm as the sorter used them (shanks side by side). */
  sortingPositionsUm: Float64Array;
  /** (C,) shank index. */
  shanks: Int32Array;
  /** (C,) 0 good, 1 dead, 2 noisy, 3 outside the brain. */
  channelLabels: Int8Array;
  /** (C,) µV per ADC count. */
  uvPerCount: Float64Array;
}

export interface SortingResult {
  sampleRateHz: number;
  /**
   * Path of the raw recording (.bin / .cbin); a relative path is taken from the working directory.
   * The phy and ALF writers store it in params.py's dat_path relative to their own folder.
   */
  datPath: string;
  /** Columns of the raw file, sync channel included (params.py n_channels_dat). */
  nChannelsDat: number;
  /** Samples in the recording. */
  nSamples: number;
  probe: SortingProbe;
  /** Template length (61) and the 0-based index of the trough within it (20). */
  nt0: number;
  nt0min: number;
  spikes: {
    /** (S,) trough sample index, ascending. */
    samples: Float64Array;
    /** (S,) template id (= cluster id). */
    templates: Uint32Array;
    /** (S,) projection amplitude on the unit-norm template, whitened units. */
    amplitudes: Float64Array;
    /** (S,) matching score sqrt(E) used by the cut-off. */
    scores: Float32Array;
    /**
     * The feature rows of the S spikes, read on demand: 'template' rows (S, K), projections on
     * the K most similar templates (templates.featureInd); 'pc' rows (S, nPc, K), PC projections
     * on the template's K channels (templates.pcFeatureInd). Widths K and nPc·K.
     */
    features: SpikeFeatures;
  };
  templates: {
    count: number;
    /** (T, nt0, C) unit-norm templates in whitened units. */
    waveforms: Float32Array;
    /** (T, K) most similar templates, self first. */
    featureInd: Uint32Array;
    /** (T, K) channels of the PC features, peak channel first. */
    pcFeatureInd: Uint32Array;
    /** (T, T) max over lags of the normalised cross-correlation. */
    similarity: Float32Array;
    /** (T,) final amplitude cut-off threshold (score units). */
    thresholds: Float64Array;
    /** (T,) 'good' or 'mua' from refractory-period contamination. */
    labels: ClusterLabel[];
    /** (T,) estimated contamination, percent. */
    contamPct: Float64Array;
  };
  /** (nt0, nPc) temporal PCs of the PC features. */
  pcBasis: Float32Array;
  nPc: number;
  /** K: features per spike. */
  nFeatures: number;
  /** (C, C) raw counts → whitened units. */
  whitening: Float64Array;
  drift: {
    /** (B, nBlocks) µm estimated shift of each batch and depth block. */
    um: Float64Array;
    /** (nBlocks,) µm, centre depth of each block. */
    depthsUm: Float64Array;
    /** (B,) s, centre time of each batch. */
    timesS: Float64Array;
  };
  /** Resolved parameters and versions, for provenance (params.json / ALF). */
  provenance: Record<string, unknown>;
}

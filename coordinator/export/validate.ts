// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Checks a SortingResult before any file is written: every array length must agree with the
 * dimensions it implies, and every index must point inside the object it indexes. The writers
 * then trust the result, so a bad one never leaves a half-written folder behind.
 */
import { expected } from '../../proto/errors.js';
import type { SortingResult } from '../formats/sorting-result.js';

/** The dimensions of a validated SortingResult. */
export interface SortingDims {
  /** S: spikes. */
  nSpikes: number;
  /** T: templates (= clusters). */
  nTemplates: number;
  /** C: sorted channels. */
  nChannels: number;
  /** Samples per template (61). */
  nt0: number;
  nPc: number;
  /** K: features per spike. */
  nFeatures: number;
  /** B: drift batches. */
  nBatches: number;
  /** Drift depth blocks. */
  nBlocks: number;
}

type Indexable = ArrayLike<number> | readonly unknown[];

function fail(what: string, want: string, got: unknown): never {
  throw new RangeError(`SortingResult ${what}: ${expected(want, got)}`);
}

function checkLength(what: string, arr: Indexable, want: number, formula: string): void {
  if (arr.length !== want) fail(`${what} length`, `${formula} = ${want}`, arr.length);
}

function checkCount(what: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) fail(what, `an integer >= ${min}`, value);
}

function checkFinite(what: string, arr: ArrayLike<number>): void {
  for (let i = 0; i < arr.length; i++) {
    if (!Number.isFinite(arr[i]!)) fail(`${what}[${i}]`, 'a finite number', arr[i]);
  }
}

function checkIndices(what: string, arr: ArrayLike<number>, limit: number, limitName: string): void {
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= limit)
      fail(`${what}[${i}]`, `an index in [0, ${limitName} = ${limit})`, v);
  }
}

/** Throws a RangeError naming the first inconsistent field; returns the dimensions otherwise. */
export function validateSortingResult(result: SortingResult): SortingDims {
  const { probe, spikes, templates, drift } = result;
  if (!Number.isFinite(result.sampleRateHz) || result.sampleRateHz <= 0) {
    fail('sampleRateHz', 'a positive number', result.sampleRateHz);
  }
  checkCount('nSamples', result.nSamples, 0);
  if (result.datPath === '') fail('datPath', 'a path', result.datPath);

  const C = probe.channelMap.length;
  checkCount('probe channel count (channelMap length)', C, 1);
  checkCount('nChannelsDat', result.nChannelsDat, C);
  checkIndices('probe.channelMap', probe.channelMap, result.nChannelsDat, 'nChannelsDat');
  checkLength('probe.localPositionsUm', probe.localPositionsUm, 2 * C, '2C');
  checkLength('probe.sortingPositionsUm', probe.sortingPositionsUm, 2 * C, '2C');
  checkLength('probe.shanks', probe.shanks, C, 'C');
  checkLength('probe.channelLabels', probe.channelLabels, C, 'C');
  checkLength('probe.uvPerCount', probe.uvPerCount, C, 'C');
  checkFinite('probe.localPositionsUm', probe.localPositionsUm);
  checkFinite('probe.sortingPositionsUm', probe.sortingPositionsUm);
  checkIndices('probe.shanks', probe.shanks, 128, 'an int8 shank limit');
  checkIndices('probe.channelLabels', probe.channelLabels, 4, 'labels 0..3');
  for (let c = 0; c < C; c++) {
    const g = probe.uvPerCount[c]!;
    if (!Number.isFinite(g) || g <= 0) fail(`probe.uvPerCount[${c}]`, 'a positive number of µV per count', g);
  }

  checkCount('nt0', result.nt0, 1);
  if (!Number.isInteger(result.nt0min) || result.nt0min < 0 || result.nt0min >= result.nt0) {
    fail('nt0min', `an index in [0, nt0 = ${result.nt0})`, result.nt0min);
  }
  checkCount('nPc', result.nPc, 1);
  checkCount('nFeatures', result.nFeatures, 1);
  const { nt0, nPc, nFeatures: K } = result;

  const T = templates.count;
  checkCount('templates.count', T, 0);
  checkLength('templates.waveforms', templates.waveforms, T * nt0 * C, 'T·nt0·C');
  checkFinite('templates.waveforms', templates.waveforms);
  checkLength('templates.featureInd', templates.featureInd, T * K, 'T·K');
  checkIndices('templates.featureInd', templates.featureInd, T, 'T');
  checkLength('templates.pcFeatureInd', templates.pcFeatureInd, T * K, 'T·K');
  checkIndices('templates.pcFeatureInd', templates.pcFeatureInd, C, 'C');
  checkLength('templates.similarity', templates.similarity, T * T, 'T·T');
  checkLength('templates.thresholds', templates.thresholds, T, 'T');
  checkLength('templates.labels', templates.labels, T, 'T');
  templates.labels.forEach((label, t) => {
    if (label !== 'good' && label !== 'mua') fail(`templates.labels[${t}]`, "'good' or 'mua'", label);
  });
  checkLength('templates.contamPct', templates.contamPct, T, 'T');

  const S = spikes.samples.length;
  checkLength('spikes.templates', spikes.templates, S, 'S');
  checkLength('spikes.amplitudes', spikes.amplitudes, S, 'S');
  checkLength('spikes.scores', spikes.scores, S, 'S');
  if (spikes.features.nSpikes !== S) fail('spikes.features.nSpikes', `S = ${S}`, spikes.features.nSpikes);
  // A source without spikes may not know its widths; its files are empty whatever they are.
  if (S > 0 && spikes.features.width('template') !== K) {
    fail("spikes.features.width('template')", `K = ${K}`, spikes.features.width('template'));
  }
  if (S > 0 && spikes.features.width('pc') !== nPc * K) {
    fail("spikes.features.width('pc')", `nPc·K = ${nPc * K}`, spikes.features.width('pc'));
  }
  checkIndices('spikes.templates', spikes.templates, T, 'T');
  checkFinite('spikes.amplitudes', spikes.amplitudes);
  let previous = 0;
  for (let s = 0; s < S; s++) {
    const v = spikes.samples[s]!;
    if (!Number.isSafeInteger(v) || v < previous) {
      fail(`spikes.samples[${s}]`, `an integer sample >= ${previous} (ascending, non-negative)`, v);
    }
    if (v >= result.nSamples) fail(`spikes.samples[${s}]`, `a sample < nSamples = ${result.nSamples}`, v);
    previous = v;
  }

  checkLength('pcBasis', result.pcBasis, nt0 * nPc, 'nt0·nPc');
  checkLength('whitening', result.whitening, C * C, 'C·C');
  checkFinite('whitening', result.whitening);

  const B = drift.timesS.length;
  const nBlocks = drift.depthsUm.length;
  checkLength('drift.um', drift.um, B * nBlocks, 'B·nBlocks');

  return { nSpikes: S, nTemplates: T, nChannels: C, nt0, nPc, nFeatures: K, nBatches: B, nBlocks };
}

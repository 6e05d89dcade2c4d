// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The `preprocessing: 'ibl'` chain of the engine rounds: IBL destriping (native/lib/destripe.ts)
 * in place of Kilosort 2.5's high-pass + common median reference, then the same local whitening.
 * Bad channels are interpolated for the spatial filter and then zeroed like in the ks25 chain,
 * since the whitening leaves them out.
 */
import { adcFullScaleCounts, adcSampleShift, destripeBatch } from '../destripe.js';
import { applyWhitening, channelCovariance, type FloatBlock } from '../preprocess.js';
import type { ChannelState, ProbeSetup, RawBlock } from './types.js';

export interface DestripeParams {
  highpassHz: number;
  highpassOrder: number;
}

interface ProbeConstants {
  sampleShift: Float64Array;
  maxCount: number;
}

const constantsCache = new WeakMap<ProbeSetup, ProbeConstants>();

function probeConstants(setup: ProbeSetup): ProbeConstants {
  let c = constantsCache.get(setup);
  if (c === undefined) {
    const type = setup.probeType ?? 'custom';
    c = { sampleShift: adcSampleShift(type, setup.nChannels), maxCount: adcFullScaleCounts(type) };
    constantsCache.set(setup, c);
  }
  return c;
}

/** Destriped µV block of a raw block, given the channel labels (one window's or the final ones). */
export function destripedBlock(
  raw: RawBlock,
  setup: ProbeSetup,
  labels: Int32Array,
  params: DestripeParams,
): FloatBlock {
  const { sampleShift, maxCount } = probeConstants(setup);
  return destripeBatch(
    { data: raw.data, nChannels: setup.nChannels },
    {
      sampleRateHz: setup.sampleRateHz,
      cutoffHz: params.highpassHz,
      order: params.highpassOrder,
      gains: setup.uvPerCount,
      labels,
      xUm: setup.xUm,
      yUm: setup.yUm,
      ...(setup.shank !== undefined ? { shank: setup.shank } : {}),
      sampleShift: sampleShift.some((s) => s !== 0) ? sampleShift : null,
      saturationMaxCount: maxCount,
    },
  );
}

/** The ibl counterpart of whitenBlock: destriped, bad channels zeroed, whitened (unit noise). */
export function iblWhitenBlock(
  raw: RawBlock,
  setup: ProbeSetup,
  channels: ChannelState,
  params: DestripeParams,
): FloatBlock {
  const block = destripedBlock(raw, setup, channels.labels, params);
  const nC = setup.nChannels;
  const data = block.data;
  for (let c = 0; c < nC; c++) {
    if (channels.good[c]) continue;
    for (let i = c; i < data.length; i += nC) data[i] = 0;
  }
  return applyWhitening(block, channels.whitening);
}

/**
 * The ibl counterpart of the statistics window's covariance: XᵀX / n of the destriped window
 * (with this window's labels) without its margins.
 */
export function iblWindowCovariance(
  raw: RawBlock,
  marginSamples: number,
  setup: ProbeSetup,
  labels: Int32Array,
  params: DestripeParams,
): Float64Array {
  const nC = setup.nChannels;
  const block = destripedBlock(raw, setup, labels, params);
  const inner = Math.max(0, raw.nSamples - 2 * marginSamples);
  const start = inner > 0 ? marginSamples : 0;
  const length = inner > 0 ? inner : raw.nSamples;
  return channelCovariance({
    data: block.data.subarray(start * nC, (start + length) * nC),
    nSamples: length,
    nChannels: nC,
  });
}

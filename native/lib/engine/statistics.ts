// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Round 1, per window: bad-channel labels and the channel covariance (ks25-algorithm.md §2.2,
 * §2.4). The reduction (label mode over windows, median covariance, local whitening) is in
 * `reduceStatistics`.
 */
import {
  badChannelFeatures,
  channelCovariance,
  channelLabelMode,
  commonMedianReference,
  highpass,
  labelBadChannels,
  localWhitening,
  whiteningCovariance,
} from '../preprocess.js';
import { iblWindowCovariance } from './destripe-batch.js';
import type { ChannelState, ProbeSetup, RawBlock } from './types.js';

export interface StatisticsParams {
  highpassHz: number;
  highpassOrder: number;
  commonReference: 'median' | 'none';
  detectBadChannels: boolean;
  whiteningChannels: number;
  /** 'ibl': the covariance is taken of the destriped window (native/lib/engine/destripe-batch.ts). */
  preprocessing?: 'ks25' | 'ibl';
}

export interface WindowStatistics {
  /** (nChannels,) labels of this window. */
  labels: Int32Array;
  /** (nChannels²) covariance of the high-passed, referenced window, µV². */
  covariance: Float64Array;
}

/**
 * @param raw the window plus a margin on each side (the margin absorbs the filter's edges)
 * @param marginSamples samples at each end left out of the covariance
 */
export function windowStatistics(
  raw: RawBlock,
  marginSamples: number,
  setup: ProbeSetup,
  params: StatisticsParams,
): WindowStatistics {
  const { nChannels } = setup;
  const block = { data: raw.data, nChannels };
  let labels: Int32Array;
  if (params.detectBadChannels) {
    const features = badChannelFeatures(block, { sampleRateHz: setup.sampleRateHz, gainsUvPerUnit: setup.uvPerCount });
    labels = labelBadChannels(features);
  } else {
    labels = new Int32Array(nChannels);
  }
  for (let c = 0; c < nChannels; c++) if (!setup.used[c]) labels[c] = 1;
  if (params.preprocessing === 'ibl')
    return { labels, covariance: iblWindowCovariance(raw, marginSamples, setup, labels, params) };
  const filtered = highpass(block, {
    sampleRateHz: setup.sampleRateHz,
    cutoffHz: params.highpassHz,
    order: params.highpassOrder,
    gains: setup.uvPerCount,
  });
  const good = Uint8Array.from(labels, (l) => (l === 0 ? 1 : 0));
  const referenced =
    params.commonReference === 'median' && good.some((g) => g === 1) ? commonMedianReference(filtered, good) : filtered;
  const inner = Math.max(0, raw.nSamples - 2 * marginSamples);
  const start = inner > 0 ? marginSamples : 0;
  const length = inner > 0 ? inner : raw.nSamples;
  const covariance = channelCovariance({
    data: referenced.data.subarray(start * nChannels, (start + length) * nChannels),
    nSamples: length,
    nChannels,
  });
  return { labels, covariance };
}

/** Labels by majority over windows, then the local whitening of the median covariance. */
export function reduceStatistics(
  windows: readonly WindowStatistics[],
  setup: ProbeSetup,
  params: StatisticsParams,
): ChannelState {
  // Unused sites are labelled dead in every window, so the mode keeps them dead.
  const labels = channelLabelMode(windows.map((w) => w.labels));
  const good = Uint8Array.from(labels, (l) => (l === 0 ? 1 : 0));
  const covariance = whiteningCovariance(
    windows.map((w) => w.covariance),
    labels,
  );
  const whitening = localWhitening(covariance, {
    xUm: setup.xUm,
    yUm: setup.yUm,
    labels,
    nNearest: Math.min(params.whiteningChannels, setup.nChannels),
  });
  const gains = Float64Array.from(setup.uvPerCount, (g, c) => (good[c] ? g : 0));
  return { labels, good, gains, whitening };
}

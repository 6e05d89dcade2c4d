// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Sets the true units' amplitudes from their target SNRs, with SNR defined as the sorter sees it:
 * the deepest spike-band trough over the live channels, divided by that channel's spike-band
 * noise RMS. Both are measured after the same zero-phase 3rd-order Butterworth high-pass at 300 Hz
 * — the noise on the probe's actual first chunk synthesised without the true units (so it holds
 * the channel noise, common mode, hash, LFP residue and quantisation), the trough on the unit's
 * template rendered at its position at t = 0.
 */
import {
  SIM_SPIKE,
  simHighpass,
  simRenderSpikes,
  simSpikeBandRms,
  simSynthesizeChunk,
  simInitState,
} from '../../native/lib/index.js';
import { MAX_SPIKE_SCALE, SIM_CHUNK_SAMPLES, putSpike, renderRadius, type ProbePlan } from './probe-plan.js';
import { SPIKE_BAND_CUTOFF_HZ } from './noise-model.js';
import type { ChunkSpikes } from './chunks.js';

/** Template window stored in the truth around the trough sample, ms. */
export const TEMPLATE_PRE_MS = 1.0;
export const TEMPLATE_POST_MS = 2.0;
/** Zero padding around a rendered template, so the high-pass settles before and after it. */
const TEMPLATE_PAD_MS = 10;

export interface UnitCalibration {
  /** µV per table unit for a spike of scale 1. */
  gain: number;
  peakChannel: number;
  /** Spike-band trough depth on the peak channel, µV. */
  amplitudeUv: number;
  snr: number;
  /** Trough time on the peak channel minus the soma time, samples. */
  troughOffsetSamples: number;
  /** Sites farther than this never see the unit above the render floor. */
  radiusUm: number;
  /** Spike-band template, µV, (samples × channels), trough at index templatePre. */
  template: Float32Array;
}

export interface Calibration {
  /** Spike-band RMS of the background of each channel, µV (0 on dead channels). */
  noiseRmsUv: Float32Array;
  units: UnitCalibration[];
  templatePre: number;
  templateSamples: number;
}

/** Spike-band noise of the first chunk's background (everything but the true units). */
export function measureNoise(plan: ProbePlan, spikes: ChunkSpikes): Float32Array {
  const n = Math.min(SIM_CHUNK_SAMPLES, plan.nSamples);
  const nSaved = plan.nChannels + 1;
  const out = new Int16Array(n * nSaved);
  const state = simInitState(plan.setup);
  simSynthesizeChunk(plan.setup, 0, 0, n, spikes.forChunk(0, 0, n, { includeTrue: false }), state, out);
  return simSpikeBandRms(
    out,
    nSaved,
    plan.nChannels,
    plan.setup.sampleRateHz,
    plan.uvPerCount,
    SPIKE_BAND_CUTOFF_HZ,
    plan.setup.threads,
  );
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Each unit's gain so that its spike-band trough is snrTarget × the noise RMS of its peak channel
 * (or of the median good channel when the peak channel is a noisy one: a unit does not grow
 * because its site is noisy); its reported SNR is then measured against the peak channel.
 */
export function calibrateUnits(plan: ProbePlan, noiseRmsUv: Float32Array): Calibration {
  const fs = plan.setup.sampleRateHz;
  const nCh = plan.nChannels;
  const pad = Math.ceil((TEMPLATE_PAD_MS * fs) / 1000);
  const soma = pad + plan.grid.preSamples;
  const nT = soma + plan.grid.postSamples + pad + 1;
  const templatePre = Math.round((TEMPLATE_PRE_MS * fs) / 1000);
  const templateSamples = templatePre + Math.round((TEMPLATE_POST_MS * fs) / 1000) + 1;
  const siteXy = new Float64Array(2 * nCh);
  for (let c = 0; c < nCh; c++) {
    siteXy[2 * c] = plan.sites.xUm[c]!;
    siteXy[2 * c + 1] = plan.sites.yUm[c]!;
  }
  const live = plan.channels.state.map((s) => s !== 'dead');
  const goodMedian = median(plan.channels.state.flatMap((s, c) => (s === 'good' ? [noiseRmsUv[c]!] : [])));
  const one = new Float64Array(SIM_SPIKE.fields);
  const units = plan.units.map((u, i): UnitCalibration => {
    putSpike(one, 0, {
      time: soma,
      table: i,
      gain: 1,
      alpha: u.shape.alpha,
      x: u.xUm,
      y: u.yUm,
      z: u.zUm,
      radiusUm: 1e9,
    });
    const wave = simRenderSpikes(plan.grid, plan.tables, one, siteXy, nT, plan.setup.threads);
    simHighpass(wave, nCh, nT, fs, SPIKE_BAND_CUTOFF_HZ, plan.setup.threads);
    let peakChannel = -1;
    let trough = 0;
    let troughAt = soma;
    for (let c = 0; c < nCh; c++) {
      if (!live[c]) continue;
      for (let j = 0; j < nT; j++) {
        const v = wave[c * nT + j]!;
        if (v < trough) {
          trough = v;
          troughAt = j;
          peakChannel = c;
        }
      }
    }
    if (peakChannel < 0) throw new RangeError(`unit ${u.id}: its template has no trough on a live channel`);
    const reference = plan.channels.state[peakChannel] === 'noisy' ? goodMedian : noiseRmsUv[peakChannel]!;
    const amplitudeUv = u.snrTarget * reference;
    const gain = amplitudeUv / -trough;
    const template = new Float32Array(templateSamples * nCh);
    for (let j = 0; j < templateSamples; j++) {
      const src = troughAt - templatePre + j;
      if (src < 0 || src >= nT) continue;
      for (let c = 0; c < nCh; c++) template[j * nCh + c] = gain * wave[c * nT + src]!;
    }
    return {
      gain,
      peakChannel,
      amplitudeUv,
      snr: amplitudeUv / noiseRmsUv[peakChannel]!,
      troughOffsetSamples: troughAt - soma,
      radiusUm: renderRadius(plan.grid, plan.tableRowPeak, i, gain * MAX_SPIKE_SCALE),
      template,
    };
  });
  return { noiseRmsUv, units, templatePre, templateSamples };
}

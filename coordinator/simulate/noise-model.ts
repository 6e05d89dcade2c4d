// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The background of a simulated probe: per-channel coloured noise (white through a 10 kHz
 * anti-alias pole, plus a 1/f part made of eight one-pole low-passes of the same white noise),
 * a common-mode signal shared by every channel, LFP-like sources with smooth depth profiles,
 * DC offsets, and dead and noisy channels.
 */
import { SIM_CHANNEL, SIM_LFP_FIELDS, SIM_PINK_POLES } from '../../native/lib/index.js';
import type { Random } from './random.js';

/** The spike band: the sorter's zero-phase 3rd-order Butterworth high-pass. */
export const SPIKE_BAND_CUTOFF_HZ = 300;
const SPIKE_BAND_ORDER = 3;

/** The 1/f bank: poles 0.5·4^k Hz, weights ∝ f_k^(-1/2), which sums to a 1/f power spectrum in between. */
export function pinkBank(sampleRateHz: number): { poles: Float64Array; weights: Float64Array; cornersHz: number[] } {
  const poles = new Float64Array(SIM_PINK_POLES);
  const weights = new Float64Array(SIM_PINK_POLES);
  const cornersHz: number[] = [];
  for (let k = 0; k < SIM_PINK_POLES; k++) {
    const f = 0.5 * 4 ** k;
    cornersHz.push(f);
    poles[k] = Math.exp((-2 * Math.PI * f) / sampleRateHz);
    weights[k] = 1 / Math.sqrt(f / 0.5);
  }
  return { poles, weights, cornersHz };
}

/** Corner of the white noise's anti-alias low-pass (Neuropixels' AP band ends near 10 kHz). */
export function antialiasPole(sampleRateHz: number): number {
  return Math.exp((-2 * Math.PI * Math.min(10000, 0.4 * sampleRateHz)) / sampleRateHz);
}

/**
 * Spike-band variance per unit gain of the white and 1/f parts, for unit-variance white input:
 * the mean over (0, π) of |H(ω)|² · |H_hp(ω)|⁴ (the zero-phase high-pass squares |H_hp|²), and
 * their cross term mean(Re(H_white·conj(H_pink))·|H_hp|⁴): both parts filter the same white
 * noise, so var = g_w²·white + g_p²·pink + 2·g_w·g_p·cross.
 */
export function spikeBandVariances(sampleRateHz: number): { white: number; pink: number; cross: number } {
  const { poles, weights } = pinkBank(sampleRateHz);
  const aa = antialiasPole(sampleRateHz);
  const warped = Math.tan((Math.PI * SPIKE_BAND_CUTOFF_HZ) / sampleRateHz);
  const n = 40000;
  let white = 0;
  let pink = 0;
  let cross = 0;
  for (let i = 0; i < n; i++) {
    const w = (Math.PI * (i + 0.5)) / n;
    const hp2 = 1 / (1 + (warped / Math.tan(w / 2)) ** (2 * SPIKE_BAND_ORDER));
    const band = hp2 * hp2;
    const [wRe, wIm] = onePole(aa, w);
    white += band * (wRe * wRe + wIm * wIm);
    // Σ b_k (1 − a_k) / (1 − a_k e^{-iω}) as a complex sum.
    let re = 0;
    let im = 0;
    for (let k = 0; k < SIM_PINK_POLES; k++) {
      const [pRe, pIm] = onePole(poles[k]!, w);
      re += weights[k]! * pRe;
      im += weights[k]! * pIm;
    }
    pink += band * (re * re + im * im);
    cross += band * (wRe * re + wIm * im);
  }
  return { white: white / n, pink: pink / n, cross: cross / n };
}

/** (1 − a) / (1 − a·e^{-iω}) as [re, im]. */
function onePole(a: number, w: number): [number, number] {
  const dRe = 1 - a * Math.cos(w);
  const dIm = a * Math.sin(w);
  const d2 = dRe * dRe + dIm * dIm;
  return [((1 - a) * dRe) / d2, (-(1 - a) * dIm) / d2];
}

/**
 * Gains (white, pink) giving spike-band variance `variance` with a share `pinkShare` from the
 * 1/f part alone: g_p from its own term, then g_w from the quadratic with the cross term.
 */
function splitGains(
  v: { white: number; pink: number; cross: number },
  variance: number,
  pinkShare: number,
): [number, number] {
  const pinkGain = Math.sqrt((pinkShare * variance) / v.pink);
  const rest = (1 - pinkShare) * variance;
  const b = pinkGain * v.cross;
  const whiteGain = (-b + Math.sqrt(b * b + v.white * rest)) / v.white;
  return [whiteGain, pinkGain];
}

export type ChannelState = 'good' | 'dead' | 'noisy';

export interface ChannelPlan {
  state: ChannelState[];
  /** Why a channel is dead: 'reference' (the probe's reference site) or 'simulated'. */
  deadReason: Array<'reference' | 'simulated' | null>;
  /** Target spike-band RMS of the channel's own noise (before common mode, LFP and hash), µV. */
  targetUv: Float64Array;
  whiteUv: Float64Array;
  pinkUv: Float64Array;
  commonGain: Float64Array;
  dcUv: Float64Array;
}

export interface CommonMode {
  whiteUv: number;
  pinkUv: number;
  /** Its spike-band RMS at gain 1, µV. */
  spikeBandUv: number;
}

/** The common mode: spike-band RMS a quarter of the median channel noise, half white, half 1/f. */
export function planCommonMode(noiseUv: number, sampleRateHz: number): CommonMode {
  const v = spikeBandVariances(sampleRateHz);
  const spikeBandUv = 0.25 * noiseUv;
  const [whiteUv, pinkUv] = splitGains(v, spikeBandUv * spikeBandUv, 0.5);
  return { whiteUv, pinkUv, spikeBandUv };
}

/**
 * Channel noise: target spike-band RMS uniform in ±25 % of noiseUv (common mode included), of
 * which 15–35 % of the variance is 1/f; noisy channels get 5–10× the white part; dead channels
 * and reference sites carry only their DC offset, drawn N(0, 25 µV) within ±100 µV.
 */
export function planChannels(
  rng: Random,
  opts: { nChannels: number; noiseUv: number; sampleRateHz: number; nDead: number; nNoisy: number },
  referenceSites: ReadonlySet<number>,
  common: CommonMode,
): ChannelPlan {
  const n = opts.nChannels;
  const v = spikeBandVariances(opts.sampleRateHz);
  const state: ChannelState[] = new Array<ChannelState>(n).fill('good');
  const deadReason: Array<'reference' | 'simulated' | null> = new Array<'reference' | 'simulated' | null>(n).fill(null);
  for (const c of referenceSites) {
    if (c < n) {
      state[c] = 'dead';
      deadReason[c] = 'reference';
    }
  }
  // Dead and noisy channels are isolated (never next to another bad channel), as they are on real probes.
  const candidates = rng.shuffle(Array.from({ length: n }, (_, c) => c));
  const isolated = (c: number): boolean =>
    state[c] === 'good' && (c === 0 || state[c - 1] === 'good') && (c === n - 1 || state[c + 1] === 'good');
  let dead = 0;
  let noisy = 0;
  for (const c of candidates) {
    if (dead < opts.nDead && isolated(c)) {
      state[c] = 'dead';
      deadReason[c] = 'simulated';
      dead++;
    } else if (noisy < opts.nNoisy && isolated(c)) {
      state[c] = 'noisy';
      noisy++;
    }
  }
  const targetUv = new Float64Array(n);
  const whiteUv = new Float64Array(n);
  const pinkUv = new Float64Array(n);
  const commonGain = new Float64Array(n);
  const dcUv = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    const target = opts.noiseUv * rng.between(0.75, 1.25);
    const gain = rng.between(0.85, 1.15);
    const budget = Math.max(0.1 * target * target, target * target - (gain * common.spikeBandUv) ** 2);
    const pinkFraction = rng.between(0.15, 0.35);
    targetUv[c] = target;
    commonGain[c] = gain;
    [whiteUv[c], pinkUv[c]] = splitGains(v, budget, pinkFraction);
    if (state[c] === 'noisy') whiteUv[c] = whiteUv[c]! * rng.between(5, 10);
    dcUv[c] = Math.max(-100, Math.min(100, 25 * rng.normal()));
  }
  return { state, deadReason, targetUv, whiteUv, pinkUv, commonGain, dcUv };
}

/** The channel array of the native setup. */
export function packChannels(
  plan: ChannelPlan,
  xUm: Float64Array,
  yUm: Float64Array,
  delaySamples: Float64Array,
): Float64Array {
  const n = plan.state.length;
  const out = new Float64Array(n * SIM_CHANNEL.fields);
  for (let c = 0; c < n; c++) {
    const o = c * SIM_CHANNEL.fields;
    out[o + SIM_CHANNEL.x] = xUm[c]!;
    out[o + SIM_CHANNEL.y] = yUm[c]!;
    out[o + SIM_CHANNEL.whiteUv] = plan.whiteUv[c]!;
    out[o + SIM_CHANNEL.pinkUv] = plan.pinkUv[c]!;
    out[o + SIM_CHANNEL.commonGain] = plan.commonGain[c]!;
    out[o + SIM_CHANNEL.dcUv] = plan.dcUv[c]!;
    out[o + SIM_CHANNEL.dead] = plan.state[c] === 'dead' ? 1 : 0;
    out[o + SIM_CHANNEL.delaySamples] = delaySamples[c]!;
  }
  return out;
}

export interface LfpPlan {
  /** nSources × (centre Hz, bandwidth Hz, RMS µV). */
  sources: Float64Array;
  /** nSources × nChannels. */
  profiles: Float32Array;
  names: string[];
}

/**
 * LFP-like sources, each a resonator (AR(2) driven by white noise) with a depth profile made of a
 * uniform part (what the reference electrode picks up, the same on every channel: 0.6–1.0) and two
 * local Gaussian bumps of opposite sign (±0.2–0.6, 150–600 µm wide: a polarity reversal of the
 * local field, visible once the common part is removed): slow waves (1.5 Hz), theta (6–9 Hz),
 * beta (15–25 Hz) and gamma (40–70 Hz).
 */
export function planLfp(rng: Random, lfpUv: number, yUm: Float64Array): LfpPlan {
  const bands: Array<[string, number, number, number]> = [
    ['slow', 1.5, 3, 1.0],
    ['theta', rng.between(6, 9), 2, 0.6],
    ['beta', rng.between(15, 25), 8, 0.2],
    ['gamma', rng.between(40, 70), 25, 0.1],
  ];
  const n = yUm.length;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (const y of yUm) {
    yMin = Math.min(yMin, y);
    yMax = Math.max(yMax, y);
  }
  const sources = new Float64Array(bands.length * SIM_LFP_FIELDS);
  const profiles = new Float32Array(bands.length * n);
  bands.forEach(([, centre, width, share], j) => {
    sources[j * SIM_LFP_FIELDS] = centre;
    sources[j * SIM_LFP_FIELDS + 1] = width;
    sources[j * SIM_LFP_FIELDS + 2] = lfpUv * share * rng.between(0.6, 1.4);
    const base = rng.between(0.6, 1.0);
    const bumps = [1, -1].map((s) => ({
      amp: s * rng.between(0.2, 0.6),
      centre: rng.between(yMin - 200, yMax + 200),
      width: rng.between(150, 600),
    }));
    let peak = 0;
    const p = new Float64Array(n);
    for (let c = 0; c < n; c++) {
      let v = base;
      for (const b of bumps) v += b.amp * Math.exp(-0.5 * ((yUm[c]! - b.centre) / b.width) ** 2);
      p[c] = v;
      peak = Math.max(peak, Math.abs(v));
    }
    for (let c = 0; c < n; c++) profiles[j * n + c] = peak > 0 ? p[c]! / peak : 0;
  });
  return { sources, profiles, names: bands.map((b) => b[0]) };
}

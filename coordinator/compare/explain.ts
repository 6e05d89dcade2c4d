// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * What a tested unit without a ground-truth match is made of (`spikeshard compare --explain`):
 * its spikes are set against every ground-truth unit at lag 0 and at every lag up to ±2 ms, and
 * against the other tested units, and the first of these kinds that applies names it:
 *
 * - `fragment`: most of its spikes are one true unit's (a split, or a unit the match gave to
 *   another cluster);
 * - `shifted copy`: most of its spikes are one true unit's, reported a fixed lag off (a template
 *   aligned on another feature of the waveform);
 * - `mixture`: the spikes of two or more true units together;
 * - `double detection`: a large part of its spikes coincide with another tested unit's (the same
 *   events reported twice);
 * - `truncated`: an amplitude distribution cut by the detection threshold (missing-fraction.ts),
 *   typical of noise and background units picked up at threshold;
 * - `unexplained`: none of these: a neuron the truth does not hold (the simulator's background
 *   units are not in it) or noise with a whole amplitude distribution.
 */
import { missingFraction } from '../postprocess/missing-fraction.js';
import type { SpikeTrains } from './spike-trains.js';

export type UnmatchedKind = 'fragment' | 'shifted copy' | 'mixture' | 'double detection' | 'truncated' | 'unexplained';

export interface UnitExplanation {
  /** Tested unit id. */
  id: number;
  nSpikes: number;
  kind: UnmatchedKind;
  /** Ground-truth unit whose spikes at lag 0 cover most of this unit's, and that fraction. */
  bestGtUnit: number | null;
  bestGtFraction: number;
  /** Second best ground-truth unit at lag 0 and its fraction. */
  secondGtUnit: number | null;
  secondGtFraction: number;
  /** Best (ground-truth unit, lag) over lags up to ±maxLagSamples: lag = truth − tested, samples. */
  lagGtUnit: number | null;
  lagSamples: number;
  lagFraction: number;
  /** Tested unit with which most of this unit's spikes coincide (|Δt| ≤ delta), and that fraction. */
  partner: number | null;
  partnerFraction: number;
  /** missing-fraction.ts estimate from the unit's amplitudes; null without amplitudes. */
  missingFraction: number | null;
}

export interface ExplainOptions {
  /** Coincidence window, samples (the comparison's delta_frames). */
  deltaFrames: number;
  /** Lags scanned for shifted copies, samples. @default 60 (2 ms at 30 kHz) */
  maxLagSamples?: number;
  /** Half-width of the window around each scanned lag, samples. @default 2 */
  lagWindowSamples?: number;
}

const FRAGMENT = 0.5;
const MIXTURE_SECOND = 0.15;
const DOUBLE_DETECTION = 0.2;
const TRUNCATED = 0.1;

/** Per unit of `trains`: the fraction of `spikes` having at least one of its spikes at lag ∈ [lo, hi]. */
function coverage(spikes: Float64Array, trains: SpikeTrains, lo: number, hi: number, exclude = -1): Float64Array {
  const nU = trains.unitIds.length;
  const hits = new Float64Array(nU);
  const seen = new Int32Array(nU).fill(-1);
  const s = trains.samples;
  let first = 0;
  for (let i = 0; i < spikes.length; i++) {
    const t = spikes[i]!;
    while (first < s.length && s[first]! < t + lo) first++;
    for (let j = first; j < s.length && s[j]! <= t + hi; j++) {
      const u = trains.units[j]!;
      if (u === exclude || seen[u] === i) continue;
      seen[u] = i;
      hits[u]! += 1;
    }
  }
  if (spikes.length > 0) for (let u = 0; u < nU; u++) hits[u]! /= spikes.length;
  return hits;
}

function argmax(v: Float64Array, skip = -1): number {
  let best = -1;
  for (let i = 0; i < v.length; i++) if (i !== skip && (best < 0 || v[i]! > v[best]!)) best = i;
  return best;
}

/**
 * Explains tested unit `unit` (an index into `tested.unitIds`) against the ground truth.
 *
 * @param amplitudes the unit's spike amplitudes, or null when the sorting has none
 */
export function explainUnit(
  gt: SpikeTrains,
  tested: SpikeTrains,
  unit: number,
  amplitudes: ArrayLike<number> | null,
  options: ExplainOptions,
): UnitExplanation {
  const delta = options.deltaFrames;
  const maxLag = options.maxLagSamples ?? 60;
  const window = options.lagWindowSamples ?? 2;
  const own: number[] = [];
  for (let j = 0; j < tested.samples.length; j++) if (tested.units[j] === unit) own.push(tested.samples[j]!);
  const spikes = Float64Array.from(own);

  const atZero = coverage(spikes, gt, -delta, delta);
  const g1 = argmax(atZero);
  const g2 = argmax(atZero, g1);
  let lagUnit = -1;
  let lagSamples = 0;
  let lagFraction = 0;
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    const c = coverage(spikes, gt, lag - window, lag + window);
    const u = argmax(c);
    if (u >= 0 && c[u]! > lagFraction) {
      lagUnit = u;
      lagSamples = lag;
      lagFraction = c[u]!;
    }
  }
  const others = coverage(spikes, tested, -delta, delta, unit);
  const p = argmax(others, unit);
  const missing = amplitudes === null ? null : missingFraction(amplitudes);

  const f1 = g1 >= 0 ? atZero[g1]! : 0;
  const f2 = g2 >= 0 ? atZero[g2]! : 0;
  const fp = p >= 0 ? others[p]! : 0;
  let kind: UnmatchedKind = 'unexplained';
  if (f1 >= FRAGMENT) kind = 'fragment';
  else if (lagFraction >= FRAGMENT && Math.abs(lagSamples) > delta) kind = 'shifted copy';
  else if (f1 + f2 >= FRAGMENT && f2 >= MIXTURE_SECOND) kind = 'mixture';
  else if (fp >= DOUBLE_DETECTION) kind = 'double detection';
  else if (missing !== null && missing > TRUNCATED) kind = 'truncated';

  const gtId = (u: number): number | null => (u >= 0 ? gt.unitIds[u]! : null);
  return {
    id: tested.unitIds[unit]!,
    nSpikes: spikes.length,
    kind,
    bestGtUnit: gtId(g1),
    bestGtFraction: f1,
    secondGtUnit: gtId(g2),
    secondGtFraction: f2,
    lagGtUnit: gtId(lagUnit),
    lagSamples,
    lagFraction,
    partner: p >= 0 && fp > 0 ? tested.unitIds[p]! : null,
    partnerFraction: fp,
    missingFraction: missing,
  };
}

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Spike trains of the true units: a renewal process with an absolute refractory period (every
 * inter-spike interval is refractory + exponential), complex-spike bursts whose later spikes
 * shrink, and a per-spike amplitude jitter.
 */
import type { Random } from './random.js';
import type { WaveformFamily } from './waveforms.js';

export interface FiringParams {
  /** Mean rate including burst spikes, Hz. */
  rateHz: number;
  refractoryMs: number;
  /** Probability that a spike starts a burst (0 for non-bursting units). */
  burstProbability: number;
  /** Extra spikes of a burst: uniform integer in [1, burstMaxExtra]. */
  burstMaxExtra: number;
  /** Intra-burst intervals, uniform in this range, ms (always above the refractory period). */
  burstIsiMs: readonly [number, number];
  /** Amplitude factor per burst spike: the k-th extra spike is scaled by burstShrink^k. */
  burstShrink: number;
  /** σ of the log of the per-spike amplitude factor (mean factor 1). */
  amplitudeJitter: number;
}

/** Draws the firing parameters of a family: log-normal rates, bursts for some regular-spiking units. */
export function drawFiring(rng: Random, family: WaveformFamily): FiringParams {
  const [median, sigmaLn] = family === 'regular' ? [2.5, 1.0] : family === 'fast' ? [10, 0.7] : [5, 0.8];
  const rateHz = Math.min(60, Math.max(0.3, rng.logNormal(median, sigmaLn)));
  const bursty = family === 'regular' && rng.chance(0.4);
  return {
    rateHz,
    refractoryMs: rng.between(2.2, 3.0),
    burstProbability: bursty ? rng.between(0.05, 0.2) : 0,
    burstMaxExtra: bursty ? 1 + rng.below(3) : 0,
    burstIsiMs: [3, 6],
    burstShrink: rng.between(0.75, 0.9),
    amplitudeJitter: rng.between(0.04, 0.1),
  };
}

export interface SpikeTrain {
  /** Soma times, s, ascending. */
  timesS: Float64Array;
  /** Amplitude factor of each spike (burst shrinkage × jitter). */
  scales: Float32Array;
}

/** A train on [startS, endS). */
export function drawSpikeTrain(rng: Random, p: FiringParams, startS: number, endS: number): SpikeTrain {
  const refractoryS = p.refractoryMs / 1000;
  const meanExtra = p.burstMaxExtra > 0 ? (1 + p.burstMaxExtra) / 2 : 0;
  // Rate of burst-starting ("primary") spikes so that primaries plus burst spikes average rateHz,
  // then the exponential part of the interval so that the dead time is accounted for.
  const primaryRate = p.rateHz / (1 + p.burstProbability * meanExtra);
  const expMeanS = Math.max(1e-4, 1 / primaryRate - refractoryS);
  const times: number[] = [];
  const scales: number[] = [];
  const jitter = (): number => Math.exp(p.amplitudeJitter * rng.normal() - 0.5 * p.amplitudeJitter ** 2);
  let t = startS + rng.exponential(1 / (expMeanS + refractoryS));
  while (t < endS) {
    times.push(t);
    scales.push(jitter());
    if (p.burstProbability > 0 && rng.chance(p.burstProbability)) {
      const extra = 1 + rng.below(p.burstMaxExtra);
      for (let k = 1; k <= extra; k++) {
        t += Math.max(refractoryS, rng.between(p.burstIsiMs[0], p.burstIsiMs[1]) / 1000);
        if (t >= endS) break;
        times.push(t);
        scales.push(p.burstShrink ** k * jitter());
      }
    }
    t += refractoryS + rng.exponential(1 / expMeanS);
  }
  return { timesS: Float64Array.from(times), scales: Float32Array.from(scales) };
}

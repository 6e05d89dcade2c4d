// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The spikes each chunk renders: the true units' planned trains and the hash, drawn per chunk
 * from its own stream (so memory stays bounded however long the recording), each at the position
 * the drift gives it at that moment.
 */
import { SIM_SPIKE } from '../../native/lib/index.js';
import type { UnitCalibration } from './calibrate.js';
import { SIM_CHUNK_SAMPLES, putSpike, type ProbePlan } from './probe-plan.js';
import { Random } from './random.js';
import type { SpikeTrain } from './spike-trains.js';

/** All true spikes of a probe, merged and sorted by soma time. */
export interface TrueSpikes {
  /** Soma time, samples (fractional). */
  somaSample: Float64Array;
  unit: Int32Array;
  scale: Float32Array;
}

/** Merges per-unit trains (unit = index in `trains`) into one time-ordered list. */
export function mergeTrains(trains: readonly SpikeTrain[], sampleRateHz: number): TrueSpikes {
  let total = 0;
  for (const t of trains) total += t.timesS.length;
  const order = new Int32Array(total);
  const somaAll = new Float64Array(total);
  const unitAll = new Int32Array(total);
  const scaleAll = new Float32Array(total);
  let k = 0;
  trains.forEach((t, u) => {
    for (let i = 0; i < t.timesS.length; i++, k++) {
      somaAll[k] = t.timesS[i]! * sampleRateHz;
      unitAll[k] = u;
      scaleAll[k] = t.scales[i]!;
      order[k] = k;
    }
  });
  order.sort((a, b) => somaAll[a]! - somaAll[b]! || a - b);
  return {
    somaSample: Float64Array.from(order, (i) => somaAll[i]!),
    unit: Int32Array.from(order, (i) => unitAll[i]!),
    scale: Float32Array.from(order, (i) => scaleAll[i]!),
  };
}

interface HashChunk {
  somaSample: Float64Array;
  unit: Int32Array;
  scale: Float32Array;
}

/** σ of the log of a hash spike's amplitude factor. */
const HASH_JITTER = 0.1;

/** Assembles, chunk after chunk, the spike records the native synthesiser renders. */
export class ChunkSpikes {
  private trueStart = 0;
  private readonly hashCache = new Map<number, HashChunk>();

  constructor(
    private readonly plan: ProbePlan,
    private readonly seed: number,
    private readonly trueSpikes: TrueSpikes,
    private readonly units: readonly UnitCalibration[],
  ) {}

  /** Hash spikes with soma times in [k·CHUNK, (k+1)·CHUNK), a Poisson process per unit. */
  private hashChunk(k: number): HashChunk {
    const cached = this.hashCache.get(k);
    if (cached) return cached;
    const { hash } = this.plan;
    const fs = this.plan.setup.sampleRateHz;
    const rng = new Random(this.seed, 'probe', this.plan.index, 'hash-spikes', k);
    const somas: number[] = [];
    const units: number[] = [];
    const scales: number[] = [];
    if (hash.totalRateHz > 0) {
      const ratePerSample = hash.totalRateHz / fs;
      const end = (k + 1) * SIM_CHUNK_SAMPLES;
      for (
        let t = k * SIM_CHUNK_SAMPLES + rng.exponential(ratePerSample);
        t < end;
        t += rng.exponential(ratePerSample)
      ) {
        const target = rng.uniform() * hash.totalRateHz;
        let lo = 0;
        let hi = hash.cumulativeRateHz.length - 1;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (hash.cumulativeRateHz[mid]! > target) hi = mid;
          else lo = mid + 1;
        }
        somas.push(t);
        units.push(lo);
        scales.push(Math.exp(HASH_JITTER * rng.normal() - 0.5 * HASH_JITTER ** 2));
      }
    }
    const chunk = {
      somaSample: Float64Array.from(somas),
      unit: Int32Array.from(units),
      scale: Float32Array.from(scales),
    };
    this.hashCache.set(k, chunk);
    for (const key of this.hashCache.keys()) if (key < k - 1) this.hashCache.delete(key);
    return chunk;
  }

  /**
   * The spikes that touch samples [start, start + n) of chunk k, times relative to start.
   * Chunks must be asked for in increasing order (a fresh ChunkSpikes starts over).
   */
  forChunk(
    k: number,
    start: number,
    n: number,
    options: { includeTrue: boolean } = { includeTrue: true },
  ): Float64Array {
    const { grid, drift, hash, units: trueUnits } = this.plan;
    const fs = this.plan.setup.sampleRateHz;
    const lo = start - grid.postSamples - 1;
    const hi = start + n + grid.preSamples + 1;
    const ts = this.trueSpikes;
    let first = this.trueStart;
    while (first < ts.somaSample.length && ts.somaSample[first]! < lo) first++;
    this.trueStart = first;
    let last = first;
    if (options.includeTrue) while (last < ts.somaSample.length && ts.somaSample[last]! < hi) last++;
    const hashChunks = [k - 1, k, k + 1].filter((j) => j >= 0).map((j) => this.hashChunk(j));
    let nHash = 0;
    for (const h of hashChunks) for (const s of h.somaSample) if (s >= lo && s < hi) nHash++;
    const out = new Float64Array((last - first + nHash) * SIM_SPIKE.fields);
    let m = 0;
    for (let i = first; i < last; i++) {
      const u = ts.unit[i]!;
      const plan = trueUnits[u]!;
      const cal = this.units[u]!;
      const soma = ts.somaSample[i]!;
      putSpike(out, m++, {
        time: soma - start,
        table: u,
        gain: cal.gain * ts.scale[i]!,
        alpha: plan.shape.alpha,
        x: plan.xUm,
        y: plan.yUm + drift.displacementUm(soma / fs, plan.yUm),
        z: plan.zUm,
        radiusUm: cal.radiusUm,
      });
    }
    const tableOffset = trueUnits.length;
    for (const h of hashChunks) {
      for (let i = 0; i < h.somaSample.length; i++) {
        const soma = h.somaSample[i]!;
        if (soma < lo || soma >= hi) continue;
        const u = h.unit[i]!;
        putSpike(out, m++, {
          time: soma - start,
          table: tableOffset + hash.prototype[u]!,
          gain: this.plan.hashGain[u]! * h.scale[i]!,
          alpha: hash.alpha[u]!,
          x: hash.xUm[u]!,
          y: hash.yUm[u]! + drift.displacementUm(soma / fs, hash.yUm[u]!),
          z: hash.zUm[u]!,
          radiusUm: this.plan.hashRadiusUm[u]!,
        });
      }
    }
    return out;
  }
}

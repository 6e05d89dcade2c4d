// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Who fires near the probe: the true units (positions, waveform shapes, firing, target SNRs) and
 * the background units of the multi-unit hash.
 */
import { ParameterError } from '../../proto/errors.js';
import type { Random } from './random.js';
import { drawFiring, type FiringParams } from './spike-trains.js';
import { FAMILY_WEIGHTS, drawShape, type WaveformFamily, type WaveformShape } from './waveforms.js';

export interface Sites {
  xUm: Float64Array;
  yUm: Float64Array;
}

export interface TrueUnitPlan {
  id: number;
  family: WaveformFamily;
  shape: WaveformShape;
  firing: FiringParams;
  xUm: number;
  yUm: number;
  zUm: number;
  snrTarget: number;
}

/** Distance from the probe plane of true units, µm (cell bodies in front of the shank). */
export const TRUE_Z_RANGE_UM: readonly [number, number] = [10, 70];
/** Closest allowed distance between two true somata, µm. */
export const MIN_UNIT_DISTANCE_UM = 15;

function extent(sites: Sites): { xMin: number; xMax: number; yMin: number; yMax: number } {
  let xMin = Infinity;
  let xMax = -Infinity;
  let yMin = Infinity;
  let yMax = -Infinity;
  for (let i = 0; i < sites.xUm.length; i++) {
    xMin = Math.min(xMin, sites.xUm[i]!);
    xMax = Math.max(xMax, sites.xUm[i]!);
    yMin = Math.min(yMin, sites.yUm[i]!);
    yMax = Math.max(yMax, sites.yUm[i]!);
  }
  return { xMin, xMax, yMin, yMax };
}

/** Distance in the probe plane from (x, y) to the nearest site. */
function nearestSiteUm(sites: Sites, x: number, y: number): number {
  let best = Infinity;
  for (let i = 0; i < sites.xUm.length; i++) {
    best = Math.min(best, Math.hypot(sites.xUm[i]! - x, sites.yUm[i]! - y));
  }
  return best;
}

/**
 * True units: uniform over the probe's box widened by 30 µm sideways and 10 µm in depth (but within 40 µm of a site
 * in the probe plane, which keeps them near the shanks of multi-shank probes), 10–70 µm off the
 * plane, at least 15 µm apart. SNR targets are stratified log-uniform over [snrMin, snrMax] and
 * go preferentially to the units closest to the probe.
 */
export function planTrueUnits(
  rng: Random,
  nUnits: number,
  sites: Sites,
  snrRange: readonly [number, number],
): TrueUnitPlan[] {
  const box = extent(sites);
  const placed: Array<{ x: number; y: number; z: number }> = [];
  for (let u = 0; u < nUnits; u++) {
    let pos: { x: number; y: number; z: number } | undefined;
    for (let attempt = 0; attempt < 1000 && pos === undefined; attempt++) {
      const p = {
        x: rng.between(box.xMin - 30, box.xMax + 30),
        y: rng.between(box.yMin - 10, box.yMax + 10),
        z: rng.between(TRUE_Z_RANGE_UM[0], TRUE_Z_RANGE_UM[1]),
      };
      if (nearestSiteUm(sites, p.x, p.y) > 40) continue;
      if (placed.some((q) => Math.hypot(q.x - p.x, q.y - p.y, q.z - p.z) < MIN_UNIT_DISTANCE_UM)) continue;
      pos = p;
    }
    if (pos === undefined) {
      throw new ParameterError(
        `simulate --units: no room for unit ${u + 1} of ${nUnits} at least ${MIN_UNIT_DISTANCE_UM} µm from the others ` +
          `near ${sites.xUm.length} channels; use fewer units or more channels`,
      );
    }
    placed.push(pos);
  }
  const [snrMin, snrMax] = snrRange;
  const snrs = Array.from({ length: nUnits }, (_, i) => snrMin * (snrMax / snrMin) ** ((i + rng.uniform()) / nUnits));
  snrs.sort((a, b) => b - a);
  const byCloseness = placed
    .map((p, i) => ({ i, key: p.z + 15 * rng.normal() }))
    .sort((a, b) => a.key - b.key)
    .map((e) => e.i);
  const snrOf = new Float64Array(nUnits);
  byCloseness.forEach((unit, rank) => (snrOf[unit] = snrs[rank]!));
  return placed.map((p, id) => {
    const family = rng.weighted(FAMILY_WEIGHTS);
    return {
      id,
      family,
      shape: drawShape(rng, family),
      firing: drawFiring(rng, family),
      xUm: p.x,
      yUm: p.y,
      zUm: p.z,
      snrTarget: snrOf[id]!,
    };
  });
}

export interface HashPlan {
  /** Shapes shared by the hash units. */
  prototypes: WaveformShape[];
  prototype: Int32Array;
  alpha: Float64Array;
  xUm: Float64Array;
  yUm: Float64Array;
  zUm: Float64Array;
  /** Raw peak amplitude (largest |value|) on the nearest site, µV. */
  peakUv: Float64Array;
  rateHz: Float64Array;
  /** Running sum of rateHz, for drawing which unit fired. */
  cumulativeRateHz: Float64Array;
  totalRateHz: number;
}

export const HASH_PROTOTYPES = 32;
export const HASH_Z_RANGE_UM: readonly [number, number] = [20, 100];
export const HASH_PEAK_RANGE_UV: readonly [number, number] = [4, 25];

/**
 * Background units: 32 shared shapes, positions over the probe ±100 µm in depth and ±60 µm
 * sideways (within 100 µm of a site in the plane), 20–100 µm off the plane, raw peak 4–25 µV
 * (log-uniform) on the nearest site, rates log-normal (median 3 Hz).
 */
export function planHash(rng: Random, nHash: number, sites: Sites): HashPlan {
  const box = extent(sites);
  const prototypes = Array.from({ length: nHash > 0 ? HASH_PROTOTYPES : 0 }, () =>
    drawShape(rng, rng.weighted(FAMILY_WEIGHTS)),
  );
  const plan: HashPlan = {
    prototypes,
    prototype: new Int32Array(nHash),
    alpha: new Float64Array(nHash),
    xUm: new Float64Array(nHash),
    yUm: new Float64Array(nHash),
    zUm: new Float64Array(nHash),
    peakUv: new Float64Array(nHash),
    rateHz: new Float64Array(nHash),
    cumulativeRateHz: new Float64Array(nHash),
    totalRateHz: 0,
  };
  let total = 0;
  for (let h = 0; h < nHash; h++) {
    let x = 0;
    let y = 0;
    for (let attempt = 0; attempt < 100; attempt++) {
      x = rng.between(box.xMin - 60, box.xMax + 60);
      y = rng.between(box.yMin - 100, box.yMax + 100);
      if (nearestSiteUm(sites, x, y) <= 100) break;
    }
    const p = rng.below(HASH_PROTOTYPES);
    plan.prototype[h] = p;
    plan.alpha[h] = prototypes[p]!.alpha;
    plan.xUm[h] = x;
    plan.yUm[h] = y;
    plan.zUm[h] = rng.between(HASH_Z_RANGE_UM[0], HASH_Z_RANGE_UM[1]);
    plan.peakUv[h] = HASH_PEAK_RANGE_UV[0] * (HASH_PEAK_RANGE_UV[1] / HASH_PEAK_RANGE_UV[0]) ** rng.uniform();
    plan.rateHz[h] = Math.min(30, Math.max(0.1, rng.logNormal(3, 0.8)));
    total += plan.rateHz[h]!;
    plan.cumulativeRateHz[h] = total;
  }
  plan.totalRateHz = total;
  return plan;
}

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Refractory-period metrics from cross- and auto-correlograms (Kilosort 2.5's ccg_metrics, with
 * its normalisation fixed: each central window is divided by its own expected count, so every
 * window size counts, as MATLAB Kilosort intended; ks25-algorithm.md §5.1 and §11 item 3).
 */

/** Correlogram of t2 − t1 in 1 ms bins over ±halfWidthBins; index halfWidthBins is lag 0. */
export function correlogram(
  t1: Float64Array,
  t2: Float64Array,
  sampleRateHz: number,
  isAuto: boolean,
  halfWidthBins = 500,
): Float64Array {
  const binSamples = sampleRateHz / 1000;
  const maxLag = (halfWidthBins + 0.5) * binSamples;
  const counts = new Float64Array(2 * halfWidthBins + 1);
  let lo = 0;
  for (let i = 0; i < t1.length; i++) {
    const ti = t1[i]!;
    while (lo < t2.length && t2[lo]! < ti - maxLag) lo++;
    for (let j = lo; j < t2.length; j++) {
      const d = t2[j]! - ti;
      if (d > maxLag) break;
      if (isAuto && j === i) continue;
      const bin = Math.round(d / binSamples) + halfWidthBins;
      if (bin >= 0 && bin < counts.length) counts[bin]! += 1;
    }
  }
  return counts;
}

export interface RefractoryMetrics {
  /** Coincidence rate in the refractory window relative to the baseline (0 = clean dip, 1 = none). */
  contamination: number;
  /** Probability of so few coincidences by chance at the baseline rate (small = significant dip). */
  pValue: number;
  /** Baseline coincidence rate per 1 ms bin. */
  baselinePerBin: number;
}

function mean(k: Float64Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i <= to; i++) s += k[i]!;
  return s / (to - from + 1);
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 on erf; |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/**
 * Metrics of a correlogram from `correlogram` (halfWidthBins = 500). Baseline R is the largest of
 * the mean rates over |lag| ≥ 250 ms, −50…−11 ms and 11…50 ms; for windows |lag| ≤ i ms
 * (i = 1…10) contamination = count / (R · bins) and p = Φ((count − R·bins)/√(R·bins)); the
 * minimum over i of each is returned.
 */
export function refractoryMetrics(k: Float64Array, isAuto: boolean): RefractoryMetrics {
  const c = (k.length - 1) / 2;
  const tails = (mean(k, 0, c - 250) + mean(k, c + 250, k.length - 1)) / 2;
  const r = Math.max(tails, mean(k, c - 50, c - 11), mean(k, c + 11, c + 50));
  let total = 0;
  for (const v of k) total += v;
  if (total === 0) return { contamination: 0, pValue: 1, baselinePerBin: 0 };
  let contamination = Infinity;
  let pValue = Infinity;
  for (let i = 1; i <= 10; i++) {
    let count = 0;
    for (let l = -i; l <= i; l++) count += k[c + l]!;
    const bins = isAuto ? 2 * i : 2 * i + 1;
    const expectedCount = r * bins;
    if (expectedCount === 0) {
      contamination = Math.min(contamination, count > 0 ? 1 : 0);
      pValue = Math.min(pValue, 1);
      continue;
    }
    contamination = Math.min(contamination, count / expectedCount);
    pValue = Math.min(pValue, normalCdf((count - expectedCount) / Math.sqrt(expectedCount)));
  }
  return { contamination, pValue, baselinePerBin: r };
}

/**
 * The counts of `correlogram` that `refractoryMetrics` reads, without visiting every pair within
 * ±500 ms: the bins within ±10 ms one by one, and the other bins as range totals, each stored in
 * the first bin of its range (|lag| ≥ 250, 51…249, 11…50 ms on either side). Every range total
 * and so every mean, and every central bin, is the same number as from `correlogram`.
 *
 * A spike's bin is monotone in the other spike's time, so the first spike of t2 at or beyond each
 * range boundary is a pointer that only moves forward as t1 advances (both ascending): about ten
 * pointer steps per spike instead of one step per spike of t2 within ±500 ms.
 */
export function refractoryCorrelogram(
  t1: Float64Array,
  t2: Float64Array,
  sampleRateHz: number,
  isAuto: boolean,
  halfWidthBins = 500,
): Float64Array {
  const h = halfWidthBins;
  if (!Number.isInteger(h) || h < 251)
    throw new RangeError(`refractoryCorrelogram: halfWidthBins ${h}, expected ≥ 251`);
  const binSamples = sampleRateHz / 1000;
  const maxLag = (h + 0.5) * binSamples;
  const counts = new Float64Array(2 * h + 1);
  // Range starts (bins): |lag| ≥ 250, 51…249, 11…50, the central bins, then the mirror ranges.
  const starts = [0, h - 249, h - 50, h - 10, h + 11, h + 51, h + 250, 2 * h + 1];
  const first = new Int32Array(starts.length); // first spike of t2 whose bin is ≥ starts[r]
  const n2 = t2.length;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < t1.length; i++) {
    const ti = t1[i]!;
    while (lo < n2 && t2[lo]! < ti - maxLag) lo++;
    while (hi < n2 && !(t2[hi]! - ti > maxLag)) hi++;
    for (let r = 0; r < starts.length; r++) {
      let p = first[r]!;
      while (p < n2 && Math.round((t2[p]! - ti) / binSamples) + h < starts[r]!) p++;
      first[r] = p;
    }
    for (let r = 0; r + 1 < starts.length; r++) {
      const from = Math.max(lo, first[r]!);
      const to = Math.min(hi, first[r + 1]!);
      if (to <= from) continue;
      if (starts[r] === h - 10) {
        for (let j = from; j < to; j++) {
          if (isAuto && j === i) continue;
          counts[Math.round((t2[j]! - ti) / binSamples) + h]! += 1;
        }
      } else {
        counts[starts[r]!]! += to - from;
      }
    }
  }
  return counts;
}

export function ccgMetrics(
  t1: Float64Array,
  t2: Float64Array,
  sampleRateHz: number,
  isAuto: boolean,
): RefractoryMetrics {
  // Both give the same metrics; visiting the pairs is cheaper for sparse trains (a few spikes of
  // t2 per second), the boundary pointers (~10 steps per spike of either train) for dense ones.
  const n1 = t1.length;
  const n2 = t2.length;
  const spanSamples = n2 > 1 ? t2[n2 - 1]! - t2[0]! : 0;
  const pairsPerSpike = spanSamples > 0 ? (n2 * (1.001 * sampleRateHz)) / spanSamples : n2;
  const k =
    n1 * pairsPerSpike < 10 * (n1 + n2)
      ? correlogram(t1, t2, sampleRateHz, isAuto)
      : refractoryCorrelogram(t1, t2, sampleRateHz, isAuto);
  return refractoryMetrics(k, isAuto);
}

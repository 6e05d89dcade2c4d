// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Refractory-period metrics from cross- and auto-correlograms (Kilosort 2.5's ccg_metrics, with
 * its normalisation fixed: each central window is divided by its own expected count, so every
 * window size counts, as MATLAB Kilosort intended; ks25-algorithm.md §5.1 and §11 item 3).
 */

/** Whether the pointers over t2 gallop: t2 much denser than t1 (a small cluster against a large one). */
function gallops(n1: number, n2: number): boolean {
  return n2 > 8 * n1;
}

/**
 * First index q ≥ p of ascending `t` with !(t[q] < x) (t.length if none). It gallops (steps 1, 2,
 * 4, … then bisects), so a pointer that jumps far over a dense train costs the logarithm of the
 * jump: a small cluster against a large one costs about the small one's size, not the large one's.
 */
function firstNotBelow(t: Float64Array, p: number, x: number): number {
  const n = t.length;
  if (p >= n || !(t[p]! < x)) return p;
  let lo = p; // t[lo] < x; hi is n or !(t[hi] < x)
  let step = 1;
  let hi = p + 1;
  while (hi < n && t[hi]! < x) {
    lo = hi;
    step *= 2;
    hi = lo + step;
  }
  if (hi > n) hi = n;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (t[mid]! < x) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** First index q ≥ p of ascending `t` with t[q] − ti > maxLag (t.length if none), galloping as firstNotBelow. */
function firstBeyond(t: Float64Array, p: number, ti: number, maxLag: number): number {
  const n = t.length;
  if (p >= n || t[p]! - ti > maxLag) return p;
  let lo = p;
  let step = 1;
  let hi = p + 1;
  while (hi < n && !(t[hi]! - ti > maxLag)) {
    lo = hi;
    step *= 2;
    hi = lo + step;
  }
  if (hi > n) hi = n;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (!(t[mid]! - ti > maxLag)) lo = mid;
    else hi = mid;
  }
  return hi;
}

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
    lo = firstNotBelow(t2, lo, ti - maxLag);
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

/** Whether every value is an integer of at most 2⁵³ in magnitude (sums and differences stay exact). */
function allSafeIntegers(t: Float64Array): boolean {
  for (let i = 0; i < t.length; i++) if (!Number.isSafeInteger(t[i]!)) return false;
  return true;
}

/**
 * The smallest integer lag (samples) whose bin, Math.round(lag / binSamples), is at least `bin`.
 * That bin is monotone in the lag, so an integer lag lies in bin `bin` or above exactly when it is
 * at least this one; the estimate is corrected with the very expression `correlogram` evaluates.
 */
function firstLagOfBin(bin: number, binSamples: number): number {
  let lag = Math.ceil((bin - 0.5) * binSamples);
  while (Math.round((lag - 1) / binSamples) >= bin) lag--;
  while (Math.round(lag / binSamples) < bin) lag++;
  return lag;
}

/** Pairs of t1 × t2 (indices from, to − 1 of t2) whose t2 index lies in [max(lo, a), min(hi, b)). */
function span(lo: number, hi: number, a: number, b: number): number {
  const n = (hi < b ? hi : b) - (lo > a ? lo : a);
  return n > 0 ? n : 0;
}

/**
 * `refractoryCorrelogram`'s loop for integer spike times: each range boundary is an integer lag
 * found once, so a pointer step is one comparison of sample times instead of a division and a
 * rounding, and the pointers and range totals live in locals. The totals are integer counts,
 * exact in any order.
 */
function integerRangeCounts(
  t1: Float64Array,
  t2: Float64Array,
  binSamples: number,
  isAuto: boolean,
  h: number,
  maxLag: number,
  starts: readonly number[],
  counts: Float64Array,
): void {
  const lag = starts.map((s) => firstLagOfBin(s - h, binSamples));
  const [l0, l1, l2, l3, l4, l5, l6, l7] = [lag[0]!, lag[1]!, lag[2]!, lag[3]!, lag[4]!, lag[5]!, lag[6]!, lag[7]!];
  const n2 = t2.length;
  // Gallop when t2 is much denser than t1 (a small cluster against a large one): the pointers
  // then jump over many spikes of t2 per spike of t1.
  const gallop = gallops(t1.length, n2);
  let lo = 0;
  let hi = 0;
  let p0 = 0;
  let p1 = 0;
  let p2 = 0;
  let p3 = 0;
  let p4 = 0;
  let p5 = 0;
  let p6 = 0;
  let p7 = 0;
  let c0 = 0;
  let c1 = 0;
  let c2 = 0;
  let c4 = 0;
  let c5 = 0;
  let c6 = 0;
  for (let i = 0; i < t1.length; i++) {
    const ti = t1[i]!;
    if (gallop) {
      lo = firstNotBelow(t2, lo, ti - maxLag);
      hi = firstBeyond(t2, hi, ti, maxLag);
      p0 = firstNotBelow(t2, p0, ti + l0);
      p1 = firstNotBelow(t2, p1, ti + l1);
      p2 = firstNotBelow(t2, p2, ti + l2);
      p3 = firstNotBelow(t2, p3, ti + l3);
      p4 = firstNotBelow(t2, p4, ti + l4);
      p5 = firstNotBelow(t2, p5, ti + l5);
      p6 = firstNotBelow(t2, p6, ti + l6);
      p7 = firstNotBelow(t2, p7, ti + l7);
    } else {
      // One step or none per pointer and spike: a plain loop beats the galloping call.
      while (lo < n2 && t2[lo]! < ti - maxLag) lo++;
      while (hi < n2 && !(t2[hi]! - ti > maxLag)) hi++;
      while (p0 < n2 && t2[p0]! < ti + l0) p0++;
      while (p1 < n2 && t2[p1]! < ti + l1) p1++;
      while (p2 < n2 && t2[p2]! < ti + l2) p2++;
      while (p3 < n2 && t2[p3]! < ti + l3) p3++;
      while (p4 < n2 && t2[p4]! < ti + l4) p4++;
      while (p5 < n2 && t2[p5]! < ti + l5) p5++;
      while (p6 < n2 && t2[p6]! < ti + l6) p6++;
      while (p7 < n2 && t2[p7]! < ti + l7) p7++;
    }
    c0 += span(lo, hi, p0, p1);
    c1 += span(lo, hi, p1, p2);
    c2 += span(lo, hi, p2, p3);
    c4 += span(lo, hi, p4, p5);
    c5 += span(lo, hi, p5, p6);
    c6 += span(lo, hi, p6, p7);
    const to = hi < p4 ? hi : p4;
    for (let j = lo > p3 ? lo : p3; j < to; j++) {
      if (isAuto && j === i) continue;
      counts[Math.round((t2[j]! - ti) / binSamples) + h]! += 1;
    }
  }
  counts[starts[0]!]! += c0;
  counts[starts[1]!]! += c1;
  counts[starts[2]!]! += c2;
  counts[starts[4]!]! += c4;
  counts[starts[5]!]! += c5;
  counts[starts[6]!]! += c6;
}

/**
 * The counts of `correlogram` that `refractoryMetrics` reads, without visiting every pair within
 * ±500 ms: the bins within ±10 ms one by one, and the other bins as range totals, each stored in
 * the first bin of its range (|lag| ≥ 250, 51…249, 11…50 ms on either side). Every range total
 * and so every mean, and every central bin, is the same number as from `correlogram`.
 *
 * A spike's bin is monotone in the other spike's time, so the first spike of t2 at or beyond each
 * range boundary is a pointer that only moves forward as t1 advances (both ascending): about ten
 * pointer steps per spike instead of one step per spike of t2 within ±500 ms. With integer spike
 * times (as the engine's), each boundary is an integer lag found once, and a pointer step is one
 * comparison of sample times instead of a division and a rounding.
 *
 * @param integerTimes whether every time of both trains is an integer of at most 2⁵³ (null: checked here)
 */
export function refractoryCorrelogram(
  t1: Float64Array,
  t2: Float64Array,
  sampleRateHz: number,
  isAuto: boolean,
  halfWidthBins = 500,
  integerTimes: boolean | null = null,
): Float64Array {
  const h = halfWidthBins;
  if (!Number.isInteger(h) || h < 251)
    throw new RangeError(`refractoryCorrelogram: halfWidthBins ${h}, expected ≥ 251`);
  const binSamples = sampleRateHz / 1000;
  const maxLag = (h + 0.5) * binSamples;
  const counts = new Float64Array(2 * h + 1);
  // Range starts (bins): |lag| ≥ 250, 51…249, 11…50, the central bins, then the mirror ranges.
  const starts = [0, h - 249, h - 50, h - 10, h + 11, h + 51, h + 250, 2 * h + 1];
  const nR = starts.length;
  const central = 3; // the range of the central bins, counted bin by bin
  if (integerTimes ?? (allSafeIntegers(t1) && (t2 === t1 || allSafeIntegers(t2)))) {
    integerRangeCounts(t1, t2, binSamples, isAuto, h, maxLag, starts, counts);
    return counts;
  }
  const first = new Int32Array(nR); // first spike of t2 whose bin is ≥ starts[r]
  const n2 = t2.length;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < t1.length; i++) {
    const ti = t1[i]!;
    lo = firstNotBelow(t2, lo, ti - maxLag);
    hi = firstBeyond(t2, hi, ti, maxLag);
    for (let r = 0; r < nR; r++) {
      let p = first[r]!;
      while (p < n2 && Math.round((t2[p]! - ti) / binSamples) + h < starts[r]!) p++;
      first[r] = p;
    }
    for (let r = 0; r + 1 < nR; r++) {
      const from = Math.max(lo, first[r]!);
      const to = Math.min(hi, first[r + 1]!);
      if (to <= from) continue;
      if (r === central) {
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
  // With integer times a pointer step is one comparison, about half a pair's visit (a division
  // and a rounding): the pointers win from ~5 pairs per spike (~5 Hz) on; with galloping
  // pointers, a step over a much denser t2 costs about the logarithm of the density ratio.
  const n1 = t1.length;
  const n2 = t2.length;
  const spanSamples = n2 > 1 ? t2[n2 - 1]! - t2[0]! : 0;
  const pairsPerSpike = spanSamples > 0 ? (n2 * (1.001 * sampleRateHz)) / spanSamples : n2;
  const integerTimes = allSafeIntegers(t1) && (t2 === t1 || allSafeIntegers(t2));
  let visitPairs: boolean;
  if (!integerTimes) visitPairs = n1 * pairsPerSpike < 10 * (n1 + n2);
  else {
    const pointerSteps = gallops(n1, n2) ? 20 * n1 * (1 + Math.log2(n2 / n1)) : 10 * (n1 + n2);
    visitPairs = 4 * n1 * pairsPerSpike < pointerSteps;
  }
  const k = visitPairs
    ? correlogram(t1, t2, sampleRateHz, isAuto)
    : refractoryCorrelogram(t1, t2, sampleRateHz, isAuto, 500, integerTimes);
  return refractoryMetrics(k, isAuto);
}

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * IBL's single-unit quality metrics (the columns of `clusters.metrics.pqt`, formats.md §4.3),
 * computed from spike times, amplitudes and depths only. docs/outputs.md defines each column;
 * the definitions follow the IBL pipeline's published descriptions (brainbox quick unit metrics
 * and the sliding refractory-period test of Hill/IBL), written here from those descriptions.
 */

/** Parameters of the metrics (IBL's defaults). */
export interface UnitMetricsParams {
  /** Presence-ratio window, s. */
  presenceWindowS: number;
  /** Refractory period of the contamination estimates, s. */
  refractoryPeriodS: number;
  /** ISIs at or below this are duplicates, removed before the contamination estimate, s. */
  minIsiS: number;
  /** Amplitude-histogram edges of the noise cut-off (edges, so one bin fewer). */
  noiseCutoffEdges: number;
  /** Fraction of the top half of the amplitude histogram that is not compared (0.25 → the upper half is). */
  noiseCutoffQuantileLength: number;
  /** Spikes per bin, Gaussian smoothing (bins) and minimum bins of the missed-spikes estimate. */
  missedSpikesPerBin: number;
  missedSpikesSigmaBins: number;
  missedSpikesMinBins: number;
  /** Labelling thresholds: sliding-RP confidence (%), noise cut-off (SD), median amplitude (V). */
  labelMinConfidencePct: number;
  labelMaxNoiseCutoff: number;
  labelMinAmpMedianV: number;
}

export const UNIT_METRICS_PARAMS: Readonly<UnitMetricsParams> = {
  presenceWindowS: 10,
  refractoryPeriodS: 0.0015,
  minIsiS: 0.0001,
  noiseCutoffEdges: 100,
  noiseCutoffQuantileLength: 0.25,
  missedSpikesPerBin: 10,
  missedSpikesSigmaBins: 4,
  missedSpikesMinBins: 50,
  labelMinConfidencePct: 90,
  labelMaxNoiseCutoff: 5,
  labelMinAmpMedianV: 50e-6,
};

// ---------------------------------------------------------------------------------------------
// Poisson probabilities (regularised incomplete gamma function)

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos approximation, g = 7; relative error ~1e-15). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/**
 * P(a, x) = γ(a, x) / Γ(a), the regularised lower incomplete gamma function, for a > 0, x ≥ 0:
 * a power series below x = a + 1, a continued fraction for Q = 1 − P above (each converges fast
 * on its side).
 */
export function gammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  const logPrefix = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 100000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    return Math.min(1, sum * Math.exp(logPrefix));
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 100000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.max(0, 1 - Math.exp(logPrefix) * h);
}

/** P(X > k) for X ~ Poisson(λ): the probability of more than k events. */
export function poissonAbove(k: number, lambda: number): number {
  return lambda <= 0 ? 0 : gammaP(k + 1, lambda);
}

// ---------------------------------------------------------------------------------------------
// Per-unit metrics

/**
 * Fraction of `presenceWindowS` windows with at least one spike, and the standard deviation
 * (population) of the spike counts per window. Windows tile [t0, t0 + n·w) from the recording's
 * first spike t0, n = floor((t1 − t0) / w) + 1 so the last spike t1 falls in the last window.
 */
export function presenceRatio(
  timesS: ArrayLike<number>,
  t0S: number,
  t1S: number,
  windowS: number,
): { ratio: number; std: number } {
  const n = Math.floor((t1S - t0S) / windowS) + 1;
  if (!(n >= 1) || !Number.isFinite(n)) return { ratio: NaN, std: NaN };
  const counts = new Float64Array(n);
  for (let i = 0; i < timesS.length; i++) {
    counts[Math.min(n - 1, Math.max(0, Math.floor((timesS[i]! - t0S) / windowS)))]! += 1;
  }
  const mean = timesS.length / n;
  let occupied = 0;
  let ss = 0;
  for (const c of counts) {
    if (c > 0) occupied++;
    ss += (c - mean) ** 2;
  }
  return { ratio: occupied / n, std: Math.sqrt(ss / n) };
}

/**
 * IBL's `contamination`: ISIs ≤ minIsi are duplicates (the later spike is dropped); then
 * (violations / (2 · n · (rp − minIsi))) / (n / (t1 − t0)), with violations the ISIs < rp among
 * the n remaining spikes and t0, t1 the recording's first and last spike.
 */
export function contaminationEstimate(
  timesS: ArrayLike<number>,
  t0S: number,
  t1S: number,
  refractoryS: number,
  minIsiS: number,
): number {
  if (timesS.length === 0) return NaN;
  const kept = new Float64Array(timesS.length);
  kept[0] = timesS[0]!;
  let n = 1;
  for (let i = 1; i < timesS.length; i++) if (timesS[i]! - timesS[i - 1]! > minIsiS) kept[n++] = timesS[i]!;
  let violations = 0;
  for (let i = 1; i < n; i++) if (kept[i]! - kept[i - 1]! < refractoryS) violations++;
  return violations / (2 * n * (refractoryS - minIsiS)) / (n / (t1S - t0S));
}

/**
 * Hill et al. (2011)'s contamination c, the smaller root of c(1 − c) = T · v / (2 · rp · n²), with
 * v the ISIs < rp, n spikes and T from the unit's first to last spike: (√(1 + 4k) − 1) / 2 for
 * k = T · v / (2 · rp · n²) (the modulus of the smaller root of −c² + c + k).
 */
export function contaminationHill(timesS: ArrayLike<number>, refractoryS: number): number {
  const n = timesS.length;
  if (n === 0) return NaN;
  let violations = 0;
  for (let i = 1; i < n; i++) if (timesS[i]! - timesS[i - 1]! < refractoryS) violations++;
  const k = ((timesS[n - 1]! - timesS[0]!) * violations) / (2 * refractoryS * n * n);
  return (Math.sqrt(1 + 4 * k) - 1) / 2;
}

/** Sliding refractory-period test (Hill/IBL) of one unit. */
export interface SlidingRp {
  /** Largest confidence (%) over refractory periods that the contamination is below 10 %. */
  maxConfidencePct: number;
  /** Smallest contamination (%) of the 0.5 % grid confirmed with ≥ 90 % confidence; NaN if none up to 34.5 %. */
  minContaminationPct: number;
  /** Pairs of spikes less than 2 ms apart (autocorrelogram count up to the first RP over 2 ms). */
  nSpikesBelow2: number;
  /** Firing rate estimated from the autocorrelogram between 1 and 2 s, Hz. */
  firingRateHz: number;
  /** 1 when minContaminationPct ≤ 10. */
  pass: number;
  /** IBL's forced pass: no pair below 2 ms, firing rate > 0.5 Hz, and not passed otherwise. */
  passForced: number;
}

const RP_TICK_HZ = 30000;
const RP_BINS = 300; // 0 … 10 ms in 1/30000 s steps
const RP_REJECT_S = 0.0005;
const CONTAMINATION_GRID_PCT = Array.from({ length: 69 }, (_, i) => 0.5 * (i + 1)); // 0.5 … 34.5
const CONFIDENCE_PCT = 90;
const CONTAMINATION_PCT = 10;

/**
 * The sliding refractory-period metric of a unit's spike times (ascending, s), computed at
 * 30 kHz whatever the recording's rate. The autocorrelogram counts pairs i < j by their lag in
 * 1/30000 s ticks (each time rounded to a tick; lag 0, duplicates, not counted). For each
 * refractory period τ_r = (r + 1)/30000 s, r = 0 … 299, with observed violations v_r (pairs with a
 * lag ≤ r ticks) and contamination c, the confidence is P(X > v_r), X ~ Poisson(fr · c · τ_r · 2 ·
 * n); only τ_r whose bin centre (r + ½)/30000 s exceeds 0.5 ms are considered.
 */
export function slidingRefractory(timesS: ArrayLike<number>): SlidingRp {
  const n = timesS.length;
  const ticks = new Float64Array(n);
  for (let i = 0; i < n; i++) ticks[i] = Math.round(timesS[i]! * RP_TICK_HZ);
  const acg = new Float64Array(RP_BINS);
  let pairs1to2s = 0;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const lag = ticks[j]! - ticks[i]!;
      if (lag >= RP_BINS) break;
      if (lag > 0) acg[lag]! += 1;
    }
    // Pairs (i, j) with a lag in [1 s, 2 s): two pointers moving forward only.
    if (lo < i + 1) lo = i + 1;
    while (lo < n && ticks[lo]! - ticks[i]! < RP_TICK_HZ) lo++;
    if (hi < lo) hi = lo;
    while (hi < n && ticks[hi]! - ticks[i]! < 2 * RP_TICK_HZ) hi++;
    pairs1to2s += hi - lo;
  }
  const firingRateHz = n > 0 ? pairs1to2s / n : 0;
  const violations = new Float64Array(RP_BINS);
  let cumulative = 0;
  for (let r = 0; r < RP_BINS; r++) violations[r] = cumulative += acg[r]!;
  const firstKept = Math.ceil(RP_REJECT_S * RP_TICK_HZ - 0.5 + 1e-9);
  const confidence = (r: number, contPct: number): number =>
    100 * poissonAbove(violations[r]!, firingRateHz * (contPct / 100) * ((r + 1) / RP_TICK_HZ) * 2 * n);

  let maxConfidencePct = -Infinity;
  // The confidence grows with the contamination tested, so the smallest confirmed one of each τ_r
  // is found by bisection over the grid.
  let minIndex = CONTAMINATION_GRID_PCT.length;
  for (let r = firstKept; r < RP_BINS; r++) {
    maxConfidencePct = Math.max(maxConfidencePct, confidence(r, CONTAMINATION_PCT));
    let a = 0;
    let b = Math.min(minIndex, CONTAMINATION_GRID_PCT.length);
    while (a < b) {
      const mid = (a + b) >> 1;
      if (confidence(r, CONTAMINATION_GRID_PCT[mid]!) >= CONFIDENCE_PCT) b = mid;
      else a = mid + 1;
    }
    minIndex = Math.min(minIndex, a);
  }
  const minContaminationPct = minIndex < CONTAMINATION_GRID_PCT.length ? CONTAMINATION_GRID_PCT[minIndex]! : NaN;
  const below2Bin = Math.ceil(0.002 * RP_TICK_HZ - 0.5 + 1e-9); // first r with (r + ½)/30000 > 2 ms
  const nSpikesBelow2 = violations[below2Bin]!;
  const pass = minContaminationPct <= CONTAMINATION_PCT ? 1 : 0;
  const passForced = nSpikesBelow2 === 0 && firingRateHz > 0.5 && pass === 0 ? 1 : 0;
  return { maxConfidencePct, minContaminationPct, nSpikesBelow2, firingRateHz, pass, passForced };
}

/**
 * IBL's noise cut-off: how many standard deviations the low end of the amplitude histogram lies
 * from the bins of its upper part. Histogram of 99 equal bins over [0, max amplitude]; from the
 * (first) highest bin p, the top half has L non-empty bins among p … second-to-last; the upper part
 * is bins ⌈2q · L + p⌉ … last with at least one spike (q = quantile length). Cut-off =
 * (height of the second non-empty bin − their mean) / their standard deviation (population); NaN
 * with fewer than two spikes or when the upper bins have no spread.
 */
export function noiseCutoff(amps: ArrayLike<number>, edges: number, quantileLength: number): number {
  if (amps.length < 2) return NaN;
  let max = -Infinity;
  for (let i = 0; i < amps.length; i++) max = Math.max(max, amps[i]!);
  const nBins = edges - 1;
  const hist = new Float64Array(nBins);
  for (let i = 0; i < amps.length; i++) {
    const a = amps[i]!;
    if (!(a >= 0) || !(max > 0)) continue;
    hist[Math.min(nBins - 1, Math.floor((a / max) * nBins))]! += 1;
  }
  let peak = 0;
  for (let k = 1; k < nBins; k++) if (hist[k]! > hist[peak]!) peak = k;
  let topHalf = 0;
  for (let k = peak; k < nBins - 1; k++) if (hist[k]! > 0) topHalf++;
  const start = Math.ceil(2 * quantileLength * topHalf + peak);
  const upper: number[] = [];
  for (let k = start; k < nBins; k++) if (hist[k]! >= 1) upper.push(hist[k]!);
  if (upper.length === 0) return NaN;
  const mean = upper.reduce((s, v) => s + v, 0) / upper.length;
  const std = Math.sqrt(upper.reduce((s, v) => s + (v - mean) ** 2, 0) / upper.length);
  if (!(std > 0)) return NaN;
  const nonEmpty = Array.from(hist).filter((v) => v !== 0);
  return (nonEmpty[1]! - mean) / std;
}

/**
 * Fraction of spikes missing from the low tail of the amplitude distribution, assuming it is
 * symmetric (IBL's missed_spikes_est, after Hill et al. 2011): a histogram of ⌊n / perBin⌋ equal
 * bins over [min, max], smoothed by a Gaussian of σ bins (reflected at the ends, radius 4σ); from
 * the peak, the first bin whose height is closest to the first bin's marks where symmetry ends;
 * the mass from there on over the total, at most 0.5. NaN with n ≤ perBin · minBins spikes.
 */
export function missedSpikesEstimate(
  amps: ArrayLike<number>,
  perBin: number,
  sigmaBins: number,
  minBins: number,
): number {
  const n = amps.length;
  if (n <= perBin * minBins) return NaN;
  const nBins = Math.trunc(n / perBin);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, amps[i]!);
    hi = Math.max(hi, amps[i]!);
  }
  const hist = new Float64Array(nBins);
  const width = (hi - lo) / nBins;
  for (let i = 0; i < n; i++) {
    hist[width > 0 ? Math.min(nBins - 1, Math.floor((amps[i]! - lo) / width)) : 0]! += 1;
  }
  const pdf = gaussianSmooth(hist, sigmaBins);
  let peak = 0;
  for (let k = 1; k < nBins; k++) if (pdf[k]! > pdf[peak]!) peak = k;
  let cutoff = peak;
  for (let k = peak + 1; k < nBins; k++) {
    if (Math.abs(pdf[k]! - pdf[0]!) < Math.abs(pdf[cutoff]! - pdf[0]!)) cutoff = k;
  }
  let tail = 0;
  let total = 0;
  for (let k = 0; k < nBins; k++) {
    total += pdf[k]!;
    if (k >= cutoff) tail += pdf[k]!;
  }
  return Math.min(0.5, tail / total);
}

/** Convolution with a normalised Gaussian of σ samples, radius ⌊4σ + ½⌋, edges reflected (… b a | a b …). */
export function gaussianSmooth(x: ArrayLike<number>, sigma: number): Float64Array {
  const radius = Math.floor(4 * sigma + 0.5);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, k) => Math.exp(-0.5 * ((k - radius) / sigma) ** 2));
  const norm = kernel.reduce((s, v) => s + v, 0);
  const n = x.length;
  const reflect = (i: number): number => {
    let j = i;
    // A reflection can land outside again when the radius exceeds the length.
    for (;;) {
      if (j < 0) j = -j - 1;
      else if (j >= n) j = 2 * n - j - 1;
      else return j;
    }
  };
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = -radius; k <= radius; k++) s += kernel[k + radius]! * x[reflect(i + k)]!;
    out[i] = s / norm;
  }
  return out;
}

/** Median of values (mean of the two middle ones for an even count); NaN when empty. */
export function median(values: ArrayLike<number>): number {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

// ---------------------------------------------------------------------------------------------
// The table

/** Inputs, per spike (S,) with times ascending, and per cluster (T,). */
export interface UnitMetricsInput {
  timesS: ArrayLike<number>;
  clusters: ArrayLike<number>;
  /** Spike amplitudes, V. */
  ampsV: ArrayLike<number>;
  depthsUm: ArrayLike<number>;
  nClusters: number;
  /** Kilosort's 'good' / 'mua' per cluster. */
  ks2Labels: readonly string[];
}

/** The columns of clusters.metrics.pqt, in IBL's order; one value per cluster. */
export interface UnitMetrics {
  cluster_id: Float64Array;
  amp_max: Float64Array;
  amp_min: Float64Array;
  amp_median: Float64Array;
  amp_std_dB: Float64Array;
  contamination: Float64Array;
  contamination_alt: Float64Array;
  drift: Float64Array;
  missed_spikes_est: Float64Array;
  noise_cutoff: Float64Array;
  presence_ratio: Float64Array;
  presence_ratio_std: Float64Array;
  slidingRP_viol: Float64Array;
  spike_count: Float64Array;
  slidingRP_viol_forced: Float64Array;
  max_confidence: Float64Array;
  min_contamination: Float64Array;
  n_spikes_below2: Float64Array;
  firing_rate: Float64Array;
  label: Float64Array;
  bitwise_fail: Uint8Array;
  ks2_label: string[];
}

/** Column names of clusters.metrics.pqt in order. */
export const UNIT_METRIC_COLUMNS: ReadonlyArray<keyof UnitMetrics> = [
  'cluster_id',
  'amp_max',
  'amp_min',
  'amp_median',
  'amp_std_dB',
  'contamination',
  'contamination_alt',
  'drift',
  'missed_spikes_est',
  'noise_cutoff',
  'presence_ratio',
  'presence_ratio_std',
  'slidingRP_viol',
  'spike_count',
  'slidingRP_viol_forced',
  'max_confidence',
  'min_contamination',
  'n_spikes_below2',
  'firing_rate',
  'label',
  'bitwise_fail',
  'ks2_label',
];

/**
 * Every metric of every cluster. Clusters without spikes get NaN metrics (spike_count 0, label 0,
 * bitwise_fail 7). The recording span [t0, t1] is from the first to the last spike of any cluster.
 */
export function unitMetrics(input: UnitMetricsInput, params: UnitMetricsParams = UNIT_METRICS_PARAMS): UnitMetrics {
  const T = input.nClusters;
  const S = input.timesS.length;
  if (input.clusters.length !== S || input.ampsV.length !== S || input.depthsUm.length !== S) {
    throw new RangeError(
      `unitMetrics: expected ${S} clusters, amplitudes and depths (one per spike time), got ` +
        `${input.clusters.length}, ${input.ampsV.length}, ${input.depthsUm.length}`,
    );
  }
  if (input.ks2Labels.length !== T) {
    throw new RangeError(`unitMetrics: expected ${T} ks2 labels, got ${input.ks2Labels.length}`);
  }
  const nan = (): Float64Array => new Float64Array(T).fill(NaN);
  const m: UnitMetrics = {
    cluster_id: Float64Array.from({ length: T }, (_, j) => j),
    amp_max: nan(),
    amp_min: nan(),
    amp_median: nan(),
    amp_std_dB: nan(),
    contamination: nan(),
    contamination_alt: nan(),
    drift: nan(),
    missed_spikes_est: nan(),
    noise_cutoff: nan(),
    presence_ratio: nan(),
    presence_ratio_std: nan(),
    slidingRP_viol: nan(),
    spike_count: new Float64Array(T),
    slidingRP_viol_forced: nan(),
    max_confidence: nan(),
    min_contamination: nan(),
    n_spikes_below2: nan(),
    firing_rate: nan(),
    label: new Float64Array(T),
    bitwise_fail: new Uint8Array(T),
    ks2_label: [...input.ks2Labels],
  };
  // Spike indices of each cluster, in time order: cluster c's are order[start[c] … start[c + 1]),
  // one 4-byte index per spike (arrays of numbers per cluster took 2–3 times that).
  const start = new Int32Array(T + 1);
  for (let s = 0; s < S; s++) {
    const c = input.clusters[s]!;
    if (!(c >= 0 && c < T) || !Number.isInteger(c)) {
      throw new RangeError(`unitMetrics: spike ${s} expected a cluster in [0, ${T}), got ${c}`);
    }
    start[c + 1]!++;
  }
  for (let c = 0; c < T; c++) start[c + 1]! += start[c]!;
  const order = new Int32Array(S);
  const next = start.slice(0, T);
  for (let s = 0; s < S; s++) order[next[input.clusters[s]!]!++] = s;
  const t0 = S > 0 ? input.timesS[0]! : NaN;
  const t1 = S > 0 ? input.timesS[S - 1]! : NaN;
  const span = t1 - t0;
  for (let c = 0; c < T; c++) {
    const idx = order.subarray(start[c], start[c + 1]);
    const n = idx.length;
    m.spike_count[c] = n;
    if (n > 0) {
      // Plain loops (no per-spike callbacks); every sum in spike order as before.
      const times = new Float64Array(n);
      const amps = new Float64Array(n);
      const dB = new Float64Array(n);
      let ampMax = -Infinity;
      let ampMin = Infinity;
      let dBSum = 0;
      for (let k = 0; k < n; k++) {
        const s = idx[k]!;
        times[k] = input.timesS[s]!;
        const a = (amps[k] = input.ampsV[s]!);
        dB[k] = 20 * Math.log10(a);
        ampMax = Math.max(ampMax, a);
        ampMin = Math.min(ampMin, a);
        dBSum += dB[k]!;
      }
      m.amp_max[c] = ampMax;
      m.amp_min[c] = ampMin;
      m.amp_median[c] = 10 ** (median(dB) / 20);
      if (n > 1) {
        const mean = dBSum / n;
        let ss = 0;
        for (let k = 0; k < n; k++) ss += (dB[k]! - mean) ** 2;
        m.amp_std_dB[c] = Math.sqrt(ss / (n - 1));
      }
      m.contamination[c] = contaminationEstimate(times, t0, t1, params.refractoryPeriodS, params.minIsiS);
      m.contamination_alt[c] = contaminationHill(times, params.refractoryPeriodS);
      let path = 0;
      for (let k = 1; k < n; k++) path += Math.abs(input.depthsUm[idx[k]!]! - input.depthsUm[idx[k - 1]!]!);
      m.drift[c] = span > 0 ? (path / span) * 3600 : NaN;
      m.missed_spikes_est[c] = missedSpikesEstimate(
        amps,
        params.missedSpikesPerBin,
        params.missedSpikesSigmaBins,
        params.missedSpikesMinBins,
      );
      m.noise_cutoff[c] = noiseCutoff(amps, params.noiseCutoffEdges, params.noiseCutoffQuantileLength);
      const presence = presenceRatio(times, t0, t1, params.presenceWindowS);
      m.presence_ratio[c] = presence.ratio;
      m.presence_ratio_std[c] = presence.std;
      const rp = slidingRefractory(times);
      m.slidingRP_viol[c] = rp.pass;
      m.slidingRP_viol_forced[c] = rp.passForced;
      m.max_confidence[c] = rp.maxConfidencePct;
      m.min_contamination[c] = rp.minContaminationPct;
      m.n_spikes_below2[c] = rp.nSpikesBelow2;
      m.firing_rate[c] = span > 0 ? n / span : NaN;
    }
    const passes = [
      m.max_confidence[c]! >= params.labelMinConfidencePct,
      m.noise_cutoff[c]! < params.labelMaxNoiseCutoff,
      m.amp_median[c]! > params.labelMinAmpMedianV,
    ];
    m.label[c] = passes.filter(Boolean).length / passes.length;
    m.bitwise_fail[c] = passes.reduce((bits, ok, k) => bits | (ok ? 0 : 1 << k), 0);
  }
  return m;
}

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Tissue motion relative to the probe. The displacement at time t of tissue at depth y is
 *     D(t, y) = s · (R(t, y) − R(0, y)),
 *     R(t, y) = m(y)·[sin(2πt/P₁ + φ₁) + w₂·sin(2πt/P₂ + φ₂)] + w₃·(t/T) + w₄·step(t − t_s)
 * a slow oscillation (P₁ = 100–300 s, or T/1.5 for shorter recordings) with a faster, weaker one,
 * a linear trend, and a sudden step (a logistic of 20 ms rise at 35–65 % of the recording); the
 * oscillation's gain m(y) varies linearly along the probe (non-rigid: the tip and the top move
 * by different amounts). s scales R so that the peak-to-peak of D over the recording and the
 * probe's depth equals the requested drift; D(0, y) = 0, so positions at t = 0 are the units'
 * nominal positions. Positive D: units appear higher on the probe.
 */
import type { Random } from './random.js';

export interface DriftParams {
  durationS: number;
  yMinUm: number;
  yMaxUm: number;
  periodS: number;
  phase: number;
  secondPeriodS: number;
  secondPhase: number;
  secondWeight: number;
  trendWeight: number;
  stepWeight: number;
  stepAtS: number;
  /** Non-rigid slope: m(y) = 1 + slope·(y − centre)/(half span). */
  depthSlope: number;
  /** µm per unit of R; 0 for no drift. */
  scaleUm: number;
}

const STEP_RISE_S = 0.02;
/** Resolution of the truth's drift trace. */
export const DRIFT_TRACE_STEP_S = 0.1;
export const DRIFT_TRACE_MAX_TIMES = 20000;
export const DRIFT_TRACE_DEPTHS = 20;

export class DriftModel {
  private constructor(readonly params: DriftParams) {}

  static draw(rng: Random, durationS: number, yMinUm: number, yMaxUm: number, ptpUm: number): DriftModel {
    const sign = (): number => (rng.chance(0.5) ? 1 : -1);
    const periodS = Math.min(rng.between(100, 300), durationS / 1.5);
    const raw: DriftParams = {
      durationS,
      yMinUm,
      yMaxUm,
      periodS,
      phase: rng.between(0, 2 * Math.PI),
      secondPeriodS: periodS / rng.between(3, 5),
      secondPhase: rng.between(0, 2 * Math.PI),
      secondWeight: rng.between(0.15, 0.3),
      trendWeight: sign() * rng.between(0.3, 0.8),
      stepWeight: sign() * rng.between(0.4, 0.8),
      stepAtS: durationS * rng.between(0.35, 0.65),
      depthSlope: sign() * rng.between(0.2, 0.5),
      scaleUm: 1,
    };
    const unit = new DriftModel(raw);
    const ptp = unit.peakToPeak();
    const scaleUm = ptpUm > 0 && ptp > 0 ? ptpUm / ptp : 0;
    return new DriftModel({ ...raw, scaleUm });
  }

  private raw(tS: number, depthUm: number): number {
    const p = this.params;
    const half = Math.max(1, (p.yMaxUm - p.yMinUm) / 2);
    const m = 1 + (p.depthSlope * (depthUm - (p.yMinUm + half))) / half;
    const osc =
      Math.sin((2 * Math.PI * tS) / p.periodS + p.phase) +
      p.secondWeight * Math.sin((2 * Math.PI * tS) / p.secondPeriodS + p.secondPhase);
    const step = 1 / (1 + Math.exp(-(tS - p.stepAtS) / STEP_RISE_S));
    return m * osc + (p.trendWeight * tS) / p.durationS + p.stepWeight * step;
  }

  /** Displacement (µm) at time tS of the tissue at depth depthUm. */
  displacementUm(tS: number, depthUm: number): number {
    if (this.params.scaleUm === 0) return 0;
    return this.params.scaleUm * (this.raw(tS, depthUm) - this.raw(0, depthUm));
  }

  /** The trace written to the truth: times every 0.1 s (or coarser for long recordings) × 20 depths. */
  trace(): { timesS: Float64Array; depthsUm: Float64Array; um: Float64Array } {
    const p = this.params;
    const nTimes = Math.min(DRIFT_TRACE_MAX_TIMES, Math.floor(p.durationS / DRIFT_TRACE_STEP_S) + 1);
    const dt = nTimes > 1 ? Math.max(DRIFT_TRACE_STEP_S, p.durationS / (nTimes - 1)) : 0;
    const timesS = new Float64Array(nTimes);
    for (let i = 0; i < nTimes; i++) timesS[i] = Math.min(p.durationS, i * dt);
    const depthsUm = new Float64Array(DRIFT_TRACE_DEPTHS);
    for (let j = 0; j < DRIFT_TRACE_DEPTHS; j++) {
      depthsUm[j] = p.yMinUm + ((p.yMaxUm - p.yMinUm) * j) / (DRIFT_TRACE_DEPTHS - 1);
    }
    const um = new Float64Array(nTimes * DRIFT_TRACE_DEPTHS);
    for (let i = 0; i < nTimes; i++) {
      for (let j = 0; j < DRIFT_TRACE_DEPTHS; j++)
        um[i * DRIFT_TRACE_DEPTHS + j] = this.displacementUm(timesS[i]!, depthsUm[j]!);
    }
    return { timesS, depthsUm, um };
  }

  /** Peak-to-peak of R(t, y) − R(0, y) over the recording (20 ms steps) and both probe ends. */
  private peakToPeak(): number {
    const p = this.params;
    let lo = Infinity;
    let hi = -Infinity;
    const n = Math.max(2, Math.min(200000, Math.ceil(p.durationS / 0.02)));
    for (const y of [p.yMinUm, p.yMaxUm]) {
      const r0 = this.raw(0, y);
      for (let i = 0; i <= n; i++) {
        const v = this.raw((p.durationS * i) / n, y) - r0;
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    return hi - lo;
  }
}

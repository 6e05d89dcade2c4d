// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Waveform families of the simulated units. A shape is a list of Gaussian components (amplitude,
 * centre, width in ms) split into a somatic term (trough, repolarisation tail, after-
 * hyperpolarisation peak, optional capacitive/axonal pre-peak) and a broad dendritic return
 * term, plus the spatial law of each term: amplitude (1 + (r/r0)²)^(-q/2), widening w·r/100 µm
 * (in quadrature) and delay r/speed. The native core tabulates it over distance and time.
 */
import { SIM_SHAPE } from '../../native/lib/index.js';
import type { Random } from './random.js';

/** Regular-spiking (pyramidal), fast-spiking (interneuron), triphasic (axonal-like). */
export type WaveformFamily = 'regular' | 'fast' | 'triphasic';

/** How often each family is drawn for true units and for the hash. */
export const FAMILY_WEIGHTS: ReadonlyArray<readonly [WaveformFamily, number]> = [
  ['regular', 0.65],
  ['fast', 0.25],
  ['triphasic', 0.1],
];

export interface WaveformComponent {
  amp: number;
  muMs: number;
  sigmaMs: number;
  /** 0 somatic, 1 dendritic. */
  group: 0 | 1;
}

export interface WaveformShape {
  family: WaveformFamily;
  somaScaleUm: number;
  somaPower: number;
  somaWidenMsPer100Um: number;
  somaSpeedUmPerMs: number;
  dendScaleUm: number;
  dendPower: number;
  dendWidenMsPer100Um: number;
  dendSpeedUmPerMs: number;
  components: WaveformComponent[];
  /** Asymmetry of the dendritic term along the probe (1 + α·cos θ); > 0: stronger above the soma. */
  alpha: number;
}

/** Draws one shape of a family. Widths and ratios follow published Neuropixels/tetrode statistics loosely. */
export function drawShape(rng: Random, family: WaveformFamily): WaveformShape {
  const u = (lo: number, hi: number): number => rng.between(lo, hi);
  const components: WaveformComponent[] = [];
  let shape: Omit<WaveformShape, 'components' | 'family'>;
  if (family === 'regular') {
    const sigma = u(0.085, 0.14);
    components.push({ amp: -1, muMs: 0, sigmaMs: sigma, group: 0 });
    components.push({ amp: -u(0.2, 0.45), muMs: 1.3 * sigma, sigmaMs: 2.2 * sigma, group: 0 });
    components.push({ amp: u(0.12, 0.32), muMs: u(0.45, 0.8), sigmaMs: u(0.18, 0.32), group: 0 });
    components.push({ amp: u(0, 0.06), muMs: -u(0.15, 0.25), sigmaMs: u(0.06, 0.1), group: 0 });
    components.push({ amp: u(0.04, 0.12), muMs: u(0.1, 0.3), sigmaMs: u(0.3, 0.5), group: 1 });
    shape = {
      somaScaleUm: u(10, 18),
      somaPower: u(1.8, 2.4),
      somaWidenMsPer100Um: u(0.04, 0.1),
      somaSpeedUmPerMs: u(250, 500),
      dendScaleUm: u(25, 50),
      dendPower: u(1.6, 2.2),
      dendWidenMsPer100Um: u(0.1, 0.2),
      dendSpeedUmPerMs: u(150, 300),
      alpha: u(-0.3, 0.9),
    };
  } else if (family === 'fast') {
    const sigma = u(0.05, 0.075);
    components.push({ amp: -1, muMs: 0, sigmaMs: sigma, group: 0 });
    components.push({ amp: -u(0.1, 0.25), muMs: 1.3 * sigma, sigmaMs: 2 * sigma, group: 0 });
    components.push({ amp: u(0.3, 0.6), muMs: u(0.2, 0.35), sigmaMs: u(0.08, 0.14), group: 0 });
    components.push({ amp: u(0, 0.05), muMs: -u(0.1, 0.18), sigmaMs: u(0.05, 0.08), group: 0 });
    components.push({ amp: u(0.02, 0.06), muMs: u(0.05, 0.2), sigmaMs: u(0.2, 0.35), group: 1 });
    shape = {
      somaScaleUm: u(8, 14),
      somaPower: u(1.9, 2.5),
      somaWidenMsPer100Um: u(0.03, 0.07),
      somaSpeedUmPerMs: u(300, 600),
      dendScaleUm: u(20, 40),
      dendPower: u(1.8, 2.4),
      dendWidenMsPer100Um: u(0.08, 0.15),
      dendSpeedUmPerMs: u(200, 400),
      alpha: u(-0.3, 0.3),
    };
  } else {
    const sigma = u(0.055, 0.09);
    components.push({ amp: -1, muMs: 0, sigmaMs: sigma, group: 0 });
    components.push({ amp: u(0.2, 0.45), muMs: -u(0.12, 0.22), sigmaMs: u(0.05, 0.09), group: 0 });
    components.push({ amp: u(0.2, 0.4), muMs: u(0.25, 0.45), sigmaMs: u(0.1, 0.2), group: 0 });
    components.push({ amp: u(0, 0.03), muMs: u(0.1, 0.3), sigmaMs: u(0.3, 0.5), group: 1 });
    shape = {
      somaScaleUm: u(8, 14),
      somaPower: u(2.0, 2.6),
      somaWidenMsPer100Um: u(0.02, 0.05),
      somaSpeedUmPerMs: u(500, 900),
      dendScaleUm: u(25, 45),
      dendPower: u(1.8, 2.4),
      dendWidenMsPer100Um: u(0.08, 0.15),
      dendSpeedUmPerMs: u(200, 400),
      alpha: u(-0.5, 0.5),
    };
  }
  return { family, ...shape, components };
}

/** The flat layout the native table builder takes (SIM_SHAPE.fields doubles per shape). */
export function packShapes(shapes: readonly WaveformShape[]): Float64Array {
  const out = new Float64Array(shapes.length * SIM_SHAPE.fields);
  shapes.forEach((s, i) => {
    const o = i * SIM_SHAPE.fields;
    if (s.components.length > SIM_SHAPE.maxComponents) {
      throw new RangeError(
        `waveform shape ${i}: ${s.components.length} components, at most ${SIM_SHAPE.maxComponents}`,
      );
    }
    out[o + SIM_SHAPE.somaScaleUm] = s.somaScaleUm;
    out[o + SIM_SHAPE.somaPower] = s.somaPower;
    out[o + SIM_SHAPE.somaWidenMsPer100Um] = s.somaWidenMsPer100Um;
    out[o + SIM_SHAPE.somaSpeedUmPerMs] = s.somaSpeedUmPerMs;
    out[o + SIM_SHAPE.dendScaleUm] = s.dendScaleUm;
    out[o + SIM_SHAPE.dendPower] = s.dendPower;
    out[o + SIM_SHAPE.dendWidenMsPer100Um] = s.dendWidenMsPer100Um;
    out[o + SIM_SHAPE.dendSpeedUmPerMs] = s.dendSpeedUmPerMs;
    out[o + SIM_SHAPE.componentCount] = s.components.length;
    s.components.forEach((c, k) => {
      const p = o + SIM_SHAPE.firstComponent + k * SIM_SHAPE.componentFields;
      out[p] = c.amp;
      out[p + 1] = c.muMs;
      out[p + 2] = c.sigmaMs;
      out[p + 3] = c.group;
    });
  });
  return out;
}

// SPDX-License-Identifier: GPL-3.0-or-later
/** The engine's `preprocessing: 'ibl'` branch: statistics and batches go through the destriping. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adcSampleShift,
  reduceStatistics,
  whitenBlock,
  windowStatistics,
  type ProbeSetup,
  type RawBlock,
} from '../../../native/lib/index.js';

const FS = 30_000;

/** Deterministic standard normal numbers (mulberry32 + Box–Muller). */
function gaussian(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform() + 1e-300)) * Math.cos(2 * Math.PI * uniform());
}

test('ibl preprocessing removes a stripe that ramps across the probe; ks25 median reference does not', () => {
  const nC = 48;
  const nS = 12_000;
  const setup: ProbeSetup = {
    nChannels: nC,
    sampleRateHz: FS,
    xUm: Float64Array.from({ length: nC }, (_, c) => (c % 2) * 32),
    yUm: Float64Array.from({ length: nC }, (_, c) => Math.floor(c / 2) * 20),
    uvPerCount: new Float64Array(nC).fill(2.34375),
    used: new Uint8Array(nC).fill(1),
    probeType: 'np1',
    shank: new Int32Array(nC),
  };
  const noise = gaussian(21);
  const stripeOnly = new Int16Array(nS * nC);
  const data = new Int16Array(nS * nC);
  // Each channel is sampled at its ADC's offset, as on a real probe: the chain corrects that first.
  const shift = adcSampleShift('np1', nC);
  for (let t = 0; t < nS; t++) {
    for (let c = 0; c < nC; c++) {
      // A 1 kHz stripe whose amplitude ramps from 0.5 to 1.5 along the probe (smooth, not constant).
      const s = Math.round(60 * Math.sin((2 * Math.PI * 1000 * (t + shift[c]!)) / FS) * (0.5 + c / nC));
      stripeOnly[t * nC + c] = s;
      data[t * nC + c] = Math.round(5 * noise()) + s;
    }
  }
  const raw: RawBlock = { data, firstSample: 0, nSamples: nS };
  const common = { highpassHz: 300, highpassOrder: 3, commonReference: 'median' as const };
  const statsParams = { ...common, detectBadChannels: false, whiteningChannels: 16 };
  const residual: Record<string, number> = {};
  for (const preprocessing of ['ks25', 'ibl'] as const) {
    const window = windowStatistics(raw, 1024, setup, { ...statsParams, preprocessing });
    const channels = reduceStatistics([window], setup, { ...statsParams, preprocessing });
    const white = whitenBlock(raw, setup, channels, { ...common, preprocessing });
    const stripe = whitenBlock({ ...raw, data: stripeOnly }, setup, channels, { ...common, preprocessing });
    assert.ok(white.data.every(Number.isFinite));
    // How much of the stripe's own power survives the chain, relative to the whitened noise.
    let s2 = 0;
    let w2 = 0;
    for (let i = 2000 * nC; i < (nS - 2000) * nC; i++) {
      s2 += stripe.data[i]! ** 2;
      w2 += white.data[i]! ** 2;
    }
    residual[preprocessing] = s2 / w2;
  }
  assert.ok(residual['ibl']! < 0.01, `ibl: stripe power ${residual['ibl']} of the whitened total`);
  assert.ok(residual['ks25']! > 10 * residual['ibl']!, `ks25 ${residual['ks25']} vs ibl ${residual['ibl']}`);
});

// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Random, streamKey } from '../../../coordinator/simulate/random.js';
import { DriftModel } from '../../../coordinator/simulate/drift.js';
import { drawSpikeTrain, type FiringParams } from '../../../coordinator/simulate/spike-trains.js';
import { planChannels, planCommonMode, spikeBandVariances } from '../../../coordinator/simulate/noise-model.js';
import { planTrueUnits } from '../../../coordinator/simulate/population.js';
import { resolveSimulateOptions } from '../../../coordinator/simulate/options.js';
import { adcDelaySamples } from '../../../coordinator/simulate/probe-plan.js';
import { ParameterError } from '../../../proto/errors.js';

test('Random: a stream is fixed by its key, and keys differ by every label', () => {
  const a = new Random(7, 'probe', 0, 'units');
  const b = new Random(7, 'probe', 0, 'units');
  const seqA = Array.from({ length: 5 }, () => a.nextU32());
  assert.deepEqual(
    seqA,
    Array.from({ length: 5 }, () => b.nextU32()),
  );
  const keys = [
    streamKey(7, 'probe', 0, 'units'),
    streamKey(8, 'probe', 0, 'units'),
    streamKey(7, 'probe', 1, 'units'),
    streamKey(7, 'probe', 0, 'hash'),
    streamKey(7 + 2 ** 32, 'probe', 0, 'units'),
  ];
  assert.equal(new Set(keys).size, keys.length);
});

test('Random: uniform and normal have the right moments', () => {
  const r = new Random(1, 'moments');
  let s = 0;
  let s2 = 0;
  let n2 = 0;
  const n = 100000;
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
    s += u;
    const g = r.normal();
    s2 += g;
    n2 += g * g;
  }
  assert.ok(Math.abs(s / n - 0.5) < 0.005);
  assert.ok(Math.abs(s2 / n) < 0.01);
  assert.ok(Math.abs(n2 / n - 1) < 0.02);
});

test('drift: zero at t = 0, peak-to-peak as requested, non-rigid, and none when 0 µm', () => {
  const d = DriftModel.draw(new Random(3, 'drift'), 600, 0, 3820, 40);
  const tr = d.trace();
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of tr.um) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  // The trace is sampled every 0.1 s; the model's own extremes are found on a 20 ms grid.
  assert.ok(hi - lo <= 40 + 1e-9 && hi - lo > 38, `peak-to-peak ${hi - lo}`);
  for (let j = 0; j < tr.depthsUm.length; j++) assert.equal(tr.um[j], 0);
  assert.equal(tr.timesS[1]! - tr.timesS[0]!, 0.1);
  const nD = tr.depthsUm.length;
  let differ = 0;
  for (let i = 0; i < tr.timesS.length; i++)
    differ = Math.max(differ, Math.abs(tr.um[i * nD]! - tr.um[i * nD + nD - 1]!));
  assert.ok(differ > 2, `tip and top should move differently, max difference ${differ} µm`);
  const none = DriftModel.draw(new Random(3, 'drift'), 600, 0, 3820, 0);
  assert.equal(none.displacementUm(300, 1000), 0);
});

test('drift: the step is sudden (90 % of it within 0.2 s)', () => {
  const d = DriftModel.draw(new Random(4, 'drift'), 100, 0, 1000, 50);
  const at = d.params.stepAtS;
  const jump = Math.abs(d.displacementUm(at + 0.1, 500) - d.displacementUm(at - 0.1, 500));
  const expected = Math.abs(d.params.stepWeight * d.params.scaleUm);
  assert.ok(jump > 0.9 * expected, `jump ${jump} vs step ${expected}`);
});

test('spike trains: no interval under the refractory period, rate near target, bursts shrink', () => {
  const p: FiringParams = {
    rateHz: 20,
    refractoryMs: 2.5,
    burstProbability: 0.3,
    burstMaxExtra: 3,
    burstIsiMs: [3, 6],
    burstShrink: 0.8,
    amplitudeJitter: 0,
  };
  const t = drawSpikeTrain(new Random(5, 'train'), p, 0, 200);
  let minIsi = Infinity;
  for (let i = 1; i < t.timesS.length; i++) minIsi = Math.min(minIsi, t.timesS[i]! - t.timesS[i - 1]!);
  assert.ok(minIsi >= 0.0025, `min ISI ${minIsi}`);
  const rate = t.timesS.length / 200;
  assert.ok(Math.abs(rate - 20) < 2, `rate ${rate}`);
  // Without jitter, scales are exactly powers of the shrink factor, and follow each other in bursts.
  let shrunk = 0;
  for (let i = 1; i < t.scales.length; i++) {
    if (t.scales[i]! < 1) {
      shrunk++;
      assert.ok(t.timesS[i]! - t.timesS[i - 1]! <= 0.006 + 1e-12, 'a shrunk spike closes a burst interval');
      assert.ok(Math.abs(t.scales[i]! - t.scales[i - 1]! * 0.8) < 1e-6, 'each burst spike is 0.8× the previous');
    }
  }
  assert.ok(shrunk > 100);
});

test('noise model: channel gains reach the target spike-band RMS including the cross term and common mode', () => {
  const v = spikeBandVariances(30000);
  const common = planCommonMode(8, 30000);
  const plan = planChannels(
    new Random(2, 'ch'),
    { nChannels: 64, noiseUv: 8, sampleRateHz: 30000, nDead: 3, nNoisy: 2 },
    new Set([10]),
    common,
  );
  for (let c = 0; c < 64; c++) {
    if (plan.state[c] !== 'good') continue;
    const w = plan.whiteUv[c]!;
    const p = plan.pinkUv[c]!;
    const total =
      w * w * v.white + p * p * v.pink + 2 * w * p * v.cross + (plan.commonGain[c]! * common.spikeBandUv) ** 2;
    assert.ok(Math.abs(Math.sqrt(total) - plan.targetUv[c]!) < 1e-6 * plan.targetUv[c]!);
    assert.ok(plan.targetUv[c]! >= 6 && plan.targetUv[c]! <= 10);
  }
  assert.equal(plan.state[10], 'dead');
  assert.equal(plan.deadReason[10], 'reference');
  assert.equal(plan.state.filter((s) => s === 'dead').length, 4);
  assert.equal(plan.state.filter((s) => s === 'noisy').length, 2);
  for (let c = 1; c < 64; c++) {
    assert.ok(
      !(plan.state[c] !== 'good' && plan.state[c - 1] !== 'good'),
      `bad channels ${c - 1} and ${c} are adjacent`,
    );
  }
});

test('units: SNR targets cover every bin, positions stay near the sites and apart', () => {
  const xUm = new Float64Array(64);
  const yUm = new Float64Array(64);
  for (let c = 0; c < 64; c++) {
    xUm[c] = c % 2 === 0 ? 27 : 59;
    yUm[c] = Math.floor(c / 2) * 20;
  }
  const units = planTrueUnits(new Random(9, 'units'), 30, { xUm, yUm }, [3, 25]);
  const bins = [0, 0, 0];
  for (const u of units) {
    bins[u.snrTarget < 5 ? 0 : u.snrTarget < 8 ? 1 : 2]!++;
    assert.ok(u.snrTarget >= 3 && u.snrTarget <= 25);
    assert.ok(u.zUm >= 10 && u.zUm <= 70);
    assert.ok(u.yUm >= -10 && u.yUm <= 630);
  }
  assert.ok(
    bins.every((b) => b >= 5),
    `bins ${bins.join(', ')}`,
  );
  for (let i = 0; i < units.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = units[i]!;
      const b = units[j]!;
      assert.ok(Math.hypot(a.xUm - b.xUm, a.yUm - b.yUm, a.zUm - b.zUm) >= 15);
    }
  }
});

test('units: too many for the probe is a clear error, not crowded units', () => {
  const xUm = Float64Array.from([27, 59]);
  const yUm = Float64Array.from([0, 0]);
  assert.throws(
    () => planTrueUnits(new Random(1, 'units'), 2000, { xUm, yUm }, [3, 25]),
    (e: unknown) => e instanceof ParameterError && /--units: no room for unit \d+ of 2000/.test(e.message),
  );
});

test('options: defaults, and each bad value names its option', () => {
  const o = resolveSimulateOptions({ out: '/tmp/x', nChannels: 64 });
  assert.equal(o.nUnits, 16);
  assert.equal(o.nHashUnits, 512);
  assert.equal(o.probeType, 'np1');
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ durationS: -1 }, /--seconds/],
    [{ probeType: 'np3' }, /--probe/],
    [{ nChannels: 385 }, /--channels.*1 to 384/],
    [{ nChannels: 2.5 }, /--channels/],
    [{ driftUm: -3 }, /--drift/],
    [{ snrMin: 10, snrMax: 5 }, /--snr-max/],
    [{ nDeadChannels: 40, nChannels: 64 }, /--dead-channels/],
  ];
  for (const [req, re] of bad) {
    assert.throws(
      () => resolveSimulateOptions({ out: '/tmp/x', ...req }),
      (e: unknown) => e instanceof ParameterError && re.test(e.message),
    );
  }
});

test('ADC delays follow the multiplexing of formats.md §1.4', () => {
  const np1 = adcDelaySamples('np1', 384);
  assert.deepEqual(Array.from(np1.subarray(0, 4)), [0, 0, 1 / 13, 1 / 13]);
  assert.equal(np1[22], 11 / 13);
  assert.equal(np1[23], 11 / 13);
  assert.equal(np1[24], 0);
  assert.equal(Math.max(...np1), 11 / 13);
  const np2 = adcDelaySamples('np2-4shank', 384);
  assert.equal(np2[30], 15 / 16);
  assert.equal(np2[32], 0);
  assert.equal(Math.max(...np2), 15 / 16);
});

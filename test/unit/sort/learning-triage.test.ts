// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Triage of a learning round, native (triage → triageTemplates) against the TypeScript loop it
 * replaced: the same templates kept, whatever the thread count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { triageTemplates, zeroLagSimilarity, type TemplateModel } from '../../../native/lib/index.js';
import {
  NT0,
  NT0MIN,
  factorize,
  triage,
  triageAndSelect,
  type TemplateState,
  type TriageOptions,
} from '../../../coordinator/sort/learning.js';
import { learnedLikeTemporal, staggeredNeighbourhoods } from '../../helpers/learning-fixture.js';
import { rng } from '../../helpers/uniform.js';

/** Triage as the TypeScript learning loop computed it (the reference). */
function triageInTypeScript(state: TemplateState, model: TemplateModel, options: TriageOptions): number[] {
  const f = state.dWU.length;
  const cc = zeroLagSimilarity(model);
  const keep: number[] = [];
  for (let a = 0; a < f; a++) {
    if (state.nsp[a]! < options.minNsp) continue;
    let duplicate = false;
    for (let b = 0; b < f && !duplicate; b++) {
      if (b === a) continue;
      if (
        cc[a * f + b]! > options.maxSimilarity &&
        Math.abs(model.meanAmplitude[a]! - model.meanAmplitude[b]!) < options.amplitudeGap &&
        (state.nsp[a]! < state.nsp[b]! || (state.nsp[a] === state.nsp[b] && a > b))
      ) {
        duplicate = true;
      }
    }
    if (!duplicate) keep.push(a);
  }
  return keep;
}

const nChannels = 32;
const nNeighbours = 8;
const neighbourhoods = staggeredNeighbourhoods(nChannels, nNeighbours);
const initialTemporal = learnedLikeTemporal();

/** Templates on random channels, a third of them near-copies of another (duplicate candidates). */
function scenario(seed: number): { state: TemplateState; model: TemplateModel } {
  const u = rng(seed);
  const state: TemplateState = { nChannels, dWU: [], nsp: [], temporal: [] };
  for (let j = 0; j < 60; j++) {
    let d: Float64Array;
    if (j > 0 && u() < 0.35) {
      const src = state.dWU[Math.floor(u() * j)]!;
      const scale = 0.7 + 0.6 * u();
      d = src.map((x) => scale * x + 0.05 * (u() - 0.5));
    } else {
      d = new Float64Array(NT0 * nChannels);
      const peak = Math.floor(u() * nChannels);
      const amp = 5 + 20 * u();
      for (let i = 0; i < nNeighbours; i++) {
        const c = neighbourhoods[peak * nNeighbours + i]!;
        const w = Math.exp(-i / 3) * (0.3 + u());
        for (let t = 0; t < NT0; t++) d[t * nChannels + c] = -amp * w * Math.exp(-((t - NT0MIN) ** 2) / (4 + 8 * u()));
      }
    }
    state.dWU.push(d);
    // Some counts repeat exactly (the tie rule), some are rare.
    state.nsp.push(u() < 0.2 ? 2 : u() < 0.15 ? 0.01 : 10 * u());
    state.temporal.push(null);
  }
  return { state, model: factorize(state, neighbourhoods, nNeighbours, initialTemporal) };
}

for (const seed of [1, 2, 3]) {
  test(`triage keeps the templates the TypeScript loop kept (seed ${seed})`, () => {
    const { state, model } = scenario(seed);
    const options = { minNsp: 0.08, maxSimilarity: 0.9, amplitudeGap: 4 * Math.sqrt(10) };
    const want = triageInTypeScript(state, model, options);
    // Both rules must drop something, and most templates stay.
    assert.ok(want.length < 55 && want.length > 20, `kept ${want.length} of 60`);
    assert.ok(
      state.nsp.some((n, j) => n >= options.minNsp && !want.includes(j)),
      'a duplicate is dropped',
    );
    assert.deepEqual(triage(state, model, options), want);
    for (const threads of [1, 2, 3]) {
      assert.deepEqual(Array.from(triageTemplates(model, Float64Array.from(state.nsp), { ...options, threads })), want);
    }
  });
}

test("triageAndSelect gives the survivors' factors: those of factorising the survivors alone", () => {
  const { state, model } = scenario(2);
  const options = { minNsp: 0.08, maxSimilarity: 0.9, amplitudeGap: 4 * Math.sqrt(10) };
  const keep = triage(state, model, options);
  assert.ok(keep.length < state.dWU.length && keep.length > 0);
  // The scenario's factorisation was warm-started from the initial temporal basis (no earlier model).
  const alone: TemplateState = {
    nChannels,
    dWU: keep.map((j) => state.dWU[j]!),
    nsp: keep.map((j) => state.nsp[j]!),
    temporal: keep.map(() => null),
  };
  const want = factorize(alone, neighbourhoods, nNeighbours, initialTemporal);
  const got = triageAndSelect(state, model, options);
  assert.equal(got.nTemplates, keep.length);
  assert.deepEqual(got.temporal, want.temporal);
  assert.deepEqual(got.spatial, want.spatial);
  assert.deepEqual(got.meanAmplitude, want.meanAmplitude);
  assert.deepEqual(got.peakChannel, want.peakChannel);
  assert.deepEqual(got.neighbours, model.neighbours);
  assert.deepEqual(state.dWU, alone.dWU);
  assert.deepEqual(state.nsp, alone.nsp);
  // The state's warm starts for the next round are the survivors' factors.
  assert.deepEqual(
    state.temporal,
    keep.map((j) => model.temporal.slice(j * NT0 * 3, (j + 1) * NT0 * 3)),
  );
  // Nothing dropped: the model itself.
  assert.equal(triageAndSelect(state, got, { ...options, minNsp: 0, maxSimilarity: 2 }), got);
});

test('triageTemplates names a bad argument', () => {
  const { model } = scenario(4);
  const options = { minNsp: 0.08, maxSimilarity: 0.9, amplitudeGap: 12, threads: 1 };
  assert.throws(() => triageTemplates(model, new Float64Array(3), options), /nsp: expected 60 elements/);
  assert.throws(
    () => triageTemplates(model, new Float64Array(60), { ...options, maxSimilarity: Number.NaN }),
    /options\.maxSimilarity/,
  );
});

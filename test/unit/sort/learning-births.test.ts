// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Births of a learning round, native (addBirths → selectBirths) against the TypeScript loop they
 * replaced, bit for bit: which proposals are born, their smoothed waveforms, the template limit,
 * whatever the thread count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectBirths, type LearnBatchResult } from '../../../native/lib/index.js';
import {
  NT0,
  NT0MIN,
  addBirths,
  peakChannelOf,
  type BirthOptions,
  type TemplateState,
} from '../../../coordinator/sort/learning.js';
import { staggeredNeighbourhoods } from '../../helpers/learning-fixture.js';
import { rng } from '../../helpers/uniform.js';

/** The births as the TypeScript learning loop computed them (the reference). */
function birthsInTypeScript(state: TemplateState, results: readonly LearnBatchResult[], options: BirthOptions): number {
  const { nChannels } = state;
  const smooth = (snippet: Float32Array): Float64Array => {
    const out = new Float64Array(NT0 * nChannels);
    for (let c = 0; c < nChannels; c++) {
      for (let p = 0; p < options.nPcs; p++) {
        let dot = 0;
        for (let t = 0; t < NT0; t++) dot += snippet[t * nChannels + c]! * options.pcs[t * options.nPcs + p]!;
        if (dot === 0) continue;
        for (let t = 0; t < NT0; t++) out[t * nChannels + c]! += dot * options.pcs[t * options.nPcs + p]!;
      }
    }
    return out;
  };
  const sums = (a: Float64Array, b: Float64Array, hood: Int32Array): [number, number, number] => {
    let aa = 0;
    let ab = 0;
    let bb = 0;
    for (let t = 0; t < NT0; t++) {
      for (const c of hood) {
        const x = a[t * nChannels + c]!;
        const y = b[t * nChannels + c]!;
        aa += x * x;
        ab += x * y;
        bb += y * y;
      }
    }
    return [aa, ab, bb];
  };
  const existing = state.dWU.map((d) => ({ wave: d, peak: peakChannelOf(d, nChannels) }));
  let born = 0;
  for (const r of results) {
    for (let i = 0; i < r.proposalChannels.length; i++) {
      if (state.dWU.length >= options.maxTemplates) return born;
      const wave = smooth(r.proposals.subarray(i * NT0 * nChannels, (i + 1) * NT0 * nChannels));
      const peak = r.proposalChannels[i]!;
      const hood = options.neighbourhoods.subarray(peak * options.nNeighbours, (peak + 1) * options.nNeighbours);
      const near = new Set(hood);
      const duplicate = existing.some((e) => {
        if (!near.has(e.peak)) return false;
        const [aa, ab, bb] = sums(wave, e.wave, hood);
        if (aa === 0 || bb === 0) return false;
        const cc = ab / Math.sqrt(aa * bb);
        const ratio = Math.sqrt(Math.min(aa, bb) / Math.max(aa, bb));
        return cc > 0.9 && ratio > 0.8;
      });
      if (duplicate) continue;
      state.dWU.push(wave);
      state.nsp.push(options.initialNsp);
      state.temporal.push(null);
      existing.push({ wave, peak });
      born++;
    }
  }
  return born;
}

const nChannels = 24;
const nNeighbours = 8;
const neighbourhoods = staggeredNeighbourhoods(nChannels, nNeighbours);

/** A spike-like waveform on `peak`'s neighbourhood with random channel weights, plus noise. */
function waveform(u: () => number, peak: number, amp: number): Float64Array {
  const out = new Float64Array(NT0 * nChannels);
  for (let i = 0; i < nNeighbours; i++) {
    const c = neighbourhoods[peak * nNeighbours + i]!;
    const fall = Math.exp(-i / 3) * (0.3 + u());
    for (let t = 0; t < NT0; t++) out[t * nChannels + c] = -amp * fall * Math.exp(-((t - NT0MIN) ** 2) / 8);
  }
  for (let k = 0; k < out.length; k++) out[k] = out[k]! + 0.3 * (u() - 0.5);
  return out;
}

function scenario(seed: number): { state: TemplateState; results: LearnBatchResult[]; options: BirthOptions } {
  const u = rng(seed);
  const state: TemplateState = { nChannels, dWU: [], nsp: [], temporal: [] };
  for (let j = 0; j < 30; j++) {
    state.dWU.push(waveform(u, Math.floor(u() * nChannels), 5 + 10 * u()));
    state.nsp.push(u());
    state.temporal.push(null);
  }
  // A channel that is all zero in one template and a proposal: the zero-energy branch.
  state.dWU[3]!.fill(0);
  const results: LearnBatchResult[] = [];
  const size = NT0 * nChannels;
  const earlier: Array<{ wave: Float64Array; peak: number }> = [];
  for (let b = 0; b < 4; b++) {
    const n = 12;
    const proposals = new Float32Array(n * size);
    const proposalChannels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const kind = u();
      let wave: Float64Array;
      let peak: number;
      if (kind < 0.3) {
        // A template again, at a similar amplitude (usually a duplicate) or a much smaller one.
        const j = Math.floor(u() * state.dWU.length);
        peak = peakChannelOf(state.dWU[j]!, nChannels);
        const scale = u() < 0.7 ? 0.9 + 0.2 * u() : 0.5;
        wave = state.dWU[j]!.map((x) => scale * x + 0.2 * (u() - 0.5));
      } else if (kind < 0.5 && earlier.length > 0) {
        // A proposal of an earlier batch of this round again.
        const e = earlier[Math.floor(u() * earlier.length)]!;
        peak = e.peak;
        wave = e.wave.map((x) => x * (0.95 + 0.1 * u()));
      } else if (kind < 0.55) {
        peak = Math.floor(u() * nChannels);
        wave = new Float64Array(size);
      } else {
        peak = Math.floor(u() * nChannels);
        wave = waveform(u, peak, 5 + 10 * u());
      }
      proposals.set(wave, i * size);
      proposalChannels[i] = peak;
      earlier.push({ wave, peak });
    }
    results.push({
      nTemplates: state.dWU.length,
      active: new Int32Array(0),
      sums: new Float64Array(0),
      counts: new Int32Array(state.dWU.length),
      proposals,
      proposalChannels,
      proposalScores: new Float32Array(n),
      spikes: 0,
    });
  }
  // Temporal PCs as learned ones look: the trough, its derivative, a slow wave.
  const pcs = new Float32Array(NT0 * 3);
  for (let t = 0; t < NT0; t++) {
    const g = Math.exp(-((t - NT0MIN) ** 2) / 8);
    pcs[t * 3] = g / 2.5;
    pcs[t * 3 + 1] = ((t - NT0MIN) * g) / 7;
    pcs[t * 3 + 2] = 0.1 * Math.sin(t / 5);
  }
  const options = { pcs, nPcs: 3, neighbourhoods, nNeighbours, initialNsp: 0.08, maxTemplates: 1000 };
  return { state, results, options };
}

const copy = (s: TemplateState): TemplateState => ({
  nChannels: s.nChannels,
  dWU: s.dWU.map((d) => d.slice()),
  nsp: [...s.nsp],
  temporal: [...s.temporal],
});
const bits = (a: Float64Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

for (const seed of [1, 2, 3]) {
  test(`addBirths gives the TypeScript loop's births, bit for bit (seed ${seed})`, () => {
    const { state, results, options } = scenario(seed);
    const want = copy(state);
    const bornWant = birthsInTypeScript(want, results, options);
    const got = copy(state);
    const bornGot = addBirths(got, results, options);
    // The scenario must exercise both outcomes.
    assert.ok(bornWant > 5 && bornWant < 40, `born ${bornWant} of 48`);
    assert.equal(bornGot, bornWant);
    assert.deepEqual(got.nsp, want.nsp);
    assert.deepEqual(got.temporal, want.temporal);
    want.dWU.forEach((d, j) => assert.deepEqual(bits(got.dWU[j]!), bits(d), `template ${j}`));
  });
}

test('addBirths stops at the template limit as the TypeScript loop did', () => {
  const { state, results, options } = scenario(4);
  for (const extra of [0, 1, 7]) {
    const limited = { ...options, maxTemplates: state.dWU.length + extra };
    const want = copy(state);
    const got = copy(state);
    assert.equal(addBirths(got, results, limited), birthsInTypeScript(want, results, limited));
    assert.equal(got.dWU.length, want.dWU.length);
    want.dWU.forEach((d, j) => assert.deepEqual(bits(got.dWU[j]!), bits(d), `limit +${extra}, template ${j}`));
  }
  assert.equal(addBirths(copy(state), results, { ...options, maxTemplates: 5 }), 0);
});

test('selectBirths gives the same bits for 1, 2 and 3 threads', () => {
  const { state, results, options } = scenario(5);
  const run = (threads: number) =>
    selectBirths(
      state.dWU,
      nChannels,
      results.map((r) => r.proposals),
      results.map((r) => r.proposalChannels),
      { nPcs: 3, values: options.pcs },
      { nChannels, nNeighbours, channels: neighbourhoods },
      {
        templateSamples: NT0,
        troughSample: NT0MIN,
        maxCorrelation: 0.9,
        minAmplitudeRatio: 0.8,
        maxBirths: 99,
        threads,
      },
    );
  const one = run(1);
  for (const threads of [2, 3]) {
    const many = run(threads);
    assert.deepEqual(many.born, one.born);
    many.waves.forEach((w, k) => assert.deepEqual(bits(w), bits(one.waves[k]!), `threads ${threads}, birth ${k}`));
  }
});

test('selectBirths names a bad argument', () => {
  const { state, results, options } = scenario(6);
  const call = (channels: Int32Array[], proposals = results.map((r) => r.proposals)) =>
    selectBirths(
      state.dWU,
      nChannels,
      proposals,
      channels,
      { nPcs: 3, values: options.pcs },
      { nChannels, nNeighbours, channels: neighbourhoods },
      {
        templateSamples: NT0,
        troughSample: NT0MIN,
        maxCorrelation: 0.9,
        minAmplitudeRatio: 0.8,
        maxBirths: 9,
        threads: 1,
      },
    );
  assert.throws(() => call(results.map(() => Int32Array.of(nChannels))), /proposals\[0\]/);
  assert.throws(() => call([]), /proposalChannels: expected 4 arrays/);
  const wrong = results.map((r) => r.proposalChannels.map(() => nChannels));
  assert.throws(() => call(wrong), /proposalChannels\[0\]: expected channels in \[0, 24\)/);
});

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run test:gpu`: new-template proposals on the device residual (the fused learning call's
 * `proposals` argument) against the CPU proposeTemplates on the CPU chain's residual. The device
 * repeats the CPU's prototype filters and scores operation for operation (the peaks, the spatial
 * suppression and the cap run on the host with the CPU's code), so samples, channels, scores,
 * snippets and `capped` must be bitwise equal. Tolerance: none. Skipped without a usable CUDA device.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCpuBinding } from '../../native/lib/load.js';
import type { NativeCudaBinding } from '../../native/lib/binding-cuda.js';
import { cudaPreprocessShiftMatchBatch, type DeviceProposalRequest } from '../../native/lib/backend.js';
import {
  DEFAULT_MATCH_OPTIONS,
  matchBatch,
  nearestChannels,
  proposeTemplates,
  templateCorrelations,
  type MatchOptions,
  type Proposals,
} from '../../native/lib/matching.js';
import { cudaOrSkipReason, gains, goodMask, krigingMatrix, randomModel, rawBlock, whitening } from './gpu-fixture.js';

const { cuda: loaded, skip } = cudaOrSkipReason();
const gpu = (): NativeCudaBinding => {
  if (!loaded.ok) throw new Error(loaded.reason);
  return loaded.binding;
};
const cpu = loadCpuBinding();

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

function assertSameProposals(name: string, c: Proposals, g: Proposals | null | undefined): void {
  assert.ok(g, `${name}: no proposals from the device`);
  assert.deepEqual(Array.from(g.sample), Array.from(c.sample), `${name}: samples`);
  assert.deepEqual(Array.from(g.channel), Array.from(c.channel), `${name}: channels`);
  assert.ok(sameBytes(g.score, c.score), `${name}: scores differ`);
  assert.ok(sameBytes(g.snippets, c.snippets), `${name}: snippets differ`);
  assert.equal(g.capped, c.capped, `${name}: capped`);
}

test('fused learning call with proposals = CPU chain + proposeTemplates, bitwise', { skip }, () => {
  const nChannels = 64;
  const rowStride = 65;
  const nSamples = 12_288;
  const halo = { haloSamples: 512, ownSamples: nSamples - 1024 };
  const w = whitening(nChannels, 16, 52);
  const g0 = gains(nChannels, 53);
  const good = goodMask(nChannels, 20);
  const kriging = krigingMatrix(nChannels, 54);
  const highpass = { order: 3, cutoffHz: 300, sampleRateHz: 30000 };
  const scale = 0.02;
  const preprocessOptions = {
    ...highpass,
    gains: g0,
    good,
    whitening: {
      nChannels,
      nNearest: w.nNearest,
      epsilon: 0,
      indices: w.indices,
      weights: w.weights,
      dense: new Float64Array(0),
    },
    scale,
    commonReference: true,
  };
  const m = randomModel(20, nChannels, 16, 55);
  const corr = templateCorrelations(m, { nSimilarMax: 8, threads: 0 });
  const learning: MatchOptions = {
    ...DEFAULT_MATCH_OPTIONS,
    threshold: 3,
    learnThreshold: 3.5,
    amplitudePrior: 0.01,
    crossCorrelation: corr.crossCorrelation,
  };
  const x = Float32Array.from({ length: nChannels }, (_, c) => 16 * (c % 4));
  const y = Float32Array.from({ length: nChannels }, (_, c) => 20 * Math.floor(c / 2));
  const neighbourhoods = nearestChannels(x, y, 16);
  const nPrototypes = 6;
  const prototypes = {
    templateSamples: 61,
    nPrototypes,
    values: Float32Array.from({ length: 61 * nPrototypes }, (_, i) => {
      const t = Math.floor(i / nPrototypes);
      const p = i % nPrototypes;
      return -Math.exp(-0.5 * ((t - 20) / (1 + 0.6 * p)) ** 2);
    }),
  };
  const base = {
    troughSample: 20,
    neighboursSummed: 7,
    channelRadius: 4,
    threshold: 6,
    maxProposals: 5000,
    threads: 0,
  };
  const variants: [string, DeviceProposalRequest['options']][] = [
    ['learning defaults', base],
    ['radius 0, 3 neighbours summed, threshold 3', { ...base, channelRadius: 0, neighboursSummed: 3, threshold: 3 }],
    ['capped at 2', { ...base, maxProposals: 2 }],
  ];
  let total = 0;
  let capped = 0;
  for (const seed of [61, 62]) {
    const raw = rawBlock(nSamples, nChannels, rowStride, seed);
    const white = cpu.preprocessBatch({
      raw,
      nSamples,
      nChannels,
      rowStride,
      gains: g0,
      good,
      ...w,
      ...highpass,
      scale,
      commonReference: true,
    });
    const shifted = new Float32Array(white.length);
    cpu.driftApplyKriging(white, nChannels, kriging, shifted);
    const residual = matchBatch({ samples: shifted, nSamples, nChannels, ...halo }, m, learning).residual;
    for (const [name, options] of variants) {
      const request: DeviceProposalRequest = { prototypes, neighbourhoods, options };
      const c = proposeTemplates(
        { samples: residual, nSamples, nChannels, ...halo },
        prototypes,
        neighbourhoods,
        options,
      );
      const g = cudaPreprocessShiftMatchBatch(
        gpu(),
        { data: raw, nChannels, rowStride },
        preprocessOptions,
        kriging,
        halo,
        m,
        learning,
        false,
        300 + seed,
        request,
      );
      assert.equal(g.residual, null, 'no residual asked for');
      assertSameProposals(`seed ${seed}, ${name}`, c, g.proposals);
      total += c.sample.length;
      if (c.capped) capped++;
      console.log(`# proposals seed ${seed}, ${name}: ${c.sample.length} (capped ${c.capped})`);
    }
    // Without the argument: no proposals key value but null.
    const plain = cudaPreprocessShiftMatchBatch(
      gpu(),
      { data: raw, nChannels, rowStride },
      preprocessOptions,
      kriging,
      halo,
      m,
      learning,
    );
    assert.equal(plain.proposals ?? null, null);
  }
  assert.ok(total >= 10, `only ${total} proposals: the comparison would be weak`);
  assert.ok(capped >= 1, 'the cap was never hit');
  assert.equal(gpu().fusedProposals, true, 'the binding announces device proposals');
});

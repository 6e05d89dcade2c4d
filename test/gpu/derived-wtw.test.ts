// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run test:gpu`: WtW derived on the device (issue 3's memory, issue 5). The CUDA
 * templateCrossCorrelations against the CPU's templateCorrelations, and matchBatch with
 * `deriveCrossCorrelation` (WtW computed on the device, kept with a keyed model) against the CPU's
 * matchBatch given the array. Tolerance: none (float64 sums in the CPU's order, no FMA; every array
 * bitwise equal). Skipped without a usable CUDA device.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cudaMatchBatch } from '../../native/lib/backend.js';
import {
  DEFAULT_MATCH_OPTIONS,
  matchBatch,
  templateCorrelations,
  type MatchOptions,
} from '../../native/lib/matching.js';
import { randomModel, testPcs } from './gpu-fixture.js';
import { bitwiseDifferences, cudaUnderTest, plantedBatch } from './gpu-builders.js';

const { skip, gpu } = cudaUnderTest();

test(
  'templateCrossCorrelations on the device is bitwise the CPU WtW (diagonal, mirrors and zeros included)',
  { skip },
  () => {
    const cases = [
      { name: '1 template', m: randomModel(1, 32, 8, 3) },
      { name: '12 × 64 channels', m: randomModel(12, 64, 16, 5) },
      { name: '400 × 384 channels', m: randomModel(400, 384, 32, 9) },
    ];
    for (const { name, m } of cases) {
      const t0 = performance.now();
      const device = gpu().templateCrossCorrelations(m);
      const ms = performance.now() - t0;
      const host = templateCorrelations(m, { nSimilarMax: 1, threads: 0 }).crossCorrelation;
      assert.equal(device.length, host.length, `${name}: length`);
      let differ = 0;
      let zeros = 0;
      for (let i = 0; i < host.length; i++) {
        if (!Object.is(device[i], host[i])) differ++;
        if (host[i] === 0) zeros++;
      }
      assert.equal(differ, 0, `${name}: ${differ} of ${host.length} values differ`);
      console.log(`# derived WtW ${name}: ${host.length} values (${zeros} zero) bitwise in ${ms.toFixed(1)} ms`);
    }
  },
);

test(
  'matchBatch with deriveCrossCorrelation: bitwise the CPU with the array, derived once per model key',
  { skip },
  () => {
    const nChannels = 64;
    const nSamples = 8192;
    const m = randomModel(12, nChannels, 16, 5);
    const corr = templateCorrelations(m, { nSimilarMax: 6, threads: 0 });
    const batchOf = (seed: number) => ({
      samples: plantedBatch(m, nSamples, 40, seed).samples,
      nSamples,
      nChannels,
      haloSamples: 256,
      ownSamples: nSamples - 512,
    });
    const extract: MatchOptions = {
      ...DEFAULT_MATCH_OPTIONS,
      threshold: 5,
      snippetSums: false,
      similarTemplates: { nSimilar: corr.nSimilar, similar: corr.similar },
      pcs: testPcs(),
    };
    const learn: MatchOptions = { ...DEFAULT_MATCH_OPTIONS };
    for (const [name, options] of [
      ['learning', learn],
      ['extraction', extract],
    ] as const) {
      const key = name === 'learning' ? 301 : 302;
      for (const seed of [6, 7]) {
        const batch = batchOf(seed);
        const before = gpu().deviceMemory();
        const g = cudaMatchBatch(gpu(), batch, m, { ...options, deriveCrossCorrelation: true }, key);
        const after = gpu().deviceMemory();
        const c = matchBatch(batch, m, { ...options, crossCorrelation: corr.crossCorrelation });
        assert.deepEqual(bitwiseDifferences(g, c), [], `${name}, batch ${seed}: CUDA derived vs CPU given`);
        assert.ok(c.sample.length > 0, `${name}, batch ${seed}: no spikes found`);
        // The second batch of a key reuses the model and its derived WtW.
        if (seed === 7) assert.equal(after.modelReuses, before.modelReuses + 1, `${name}: expected a reuse`);
        else assert.equal(after.modelUploads, before.modelUploads + 1, `${name}: expected an upload`);
      }
    }
  },
);

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run test:gpu`: the fused entry off the JavaScript thread (issue 5).
 * preprocessShiftMatchBatchAsync against the sync entry on the same batches: three calls in flight
 * at once, with a resident model and with WtW derived on the device, settle in any order but each
 * with the sync entry’s result, bitwise (the log line counts the timer ticks that ran meanwhile); bad arguments
 * throw before a promise is made. Tolerance: none. Skipped without a usable CUDA device.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cudaPreprocessShiftMatchBatch, cudaPreprocessShiftMatchBatchAsync } from '../../native/lib/backend.js';
import { rawBlock } from './gpu-fixture.js';
import { bitwiseDifferences, cudaUnderTest, noiseLearningModel, preprocessInputs } from './gpu-builders.js';

const { skip, gpu } = cudaUnderTest();

test(
  'preprocessShiftMatchBatchAsync: calls in flight at once give the sync entry’s results, bitwise',
  { skip },
  async () => {
    const nChannels = 64;
    const rowStride = 65;
    const nSamples = 12_288;
    const halo = { haloSamples: 512, ownSamples: nSamples - 1024 };
    const { kriging, preprocessOptions } = preprocessInputs(nChannels, 16, 20, 52);
    const { m, learning } = noiseLearningModel();
    const options = { ...learning, crossCorrelation: null, deriveCrossCorrelation: true };
    const raws = [71, 72, 73].map((seed) => rawBlock(nSamples, nChannels, rowStride, seed));
    const call = (raw: Int16Array, key: number) =>
      [{ data: raw, nChannels, rowStride }, preprocessOptions, kriging, halo, m, options, true, key] as const;
    const sync = raws.map((raw) => cudaPreprocessShiftMatchBatch(gpu(), ...call(raw, 401)));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const t0 = performance.now();
    const pending = raws.map((raw) => cudaPreprocessShiftMatchBatchAsync(gpu(), ...call(raw, 402)));
    const returnedMs = performance.now() - t0;
    const results = await Promise.all(pending);
    clearInterval(timer);
    results.forEach((r, i) => assert.deepEqual(bitwiseDifferences(r, sync[i]!), [], `batch ${i}: async vs sync`));
    const spikes = sync.reduce((n, r) => n + r.sample.length, 0);
    assert.ok(spikes > 10, `only ${spikes} spikes: the comparison would be weak`);
    console.log(
      `# async fused: 3 calls queued in ${returnedMs.toFixed(1)} ms, settled in ${(performance.now() - t0).toFixed(1)} ms, ` +
        `${ticks} timer ticks meanwhile, ${spikes} spikes`,
    );
    assert.throws(
      () => cudaPreprocessShiftMatchBatchAsync(gpu(), ...call(new Int16Array(10), 403)),
      /rowStride|nSamples|data/,
      'bad arguments throw before a promise is made',
    );
  },
);

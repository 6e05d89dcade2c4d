// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run test:gpu`: several device contexts (issue 5, SPIKESHARD_CUDA_CONTEXTS; 2 here unless set), so
 * that calls in flight run on different streams at once. Different batches of the three async fused
 * entries (preprocessShiftMatchBatchAsync with a resident model, preprocessDriftDetectSpikesAsync,
 * destripeCutWaveformsAsync) all in flight together give each the result of the same call run
 * alone, bitwise; two template models under two keys alternating over the contexts do not corrupt
 * each other's resident copy; the statistics are sums over the contexts and releaseDeviceMemory()
 * frees them all; a bad SPIKESHARD_CUDA_CONTEXTS fails the first device call (a child process).
 * Tolerance: none. Skipped without a usable CUDA device. Run it with SPIKESHARD_CUDA_CONTEXTS=1 (the
 * old serial behaviour) and =4 too: the comparisons hold for any number of contexts.
 */
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cudaPreprocessShiftMatchBatchAsync } from '../../native/lib/backend.js';
import { cudaDestripeCutWaveformsAsync } from '../../native/lib/destripe-cuda.js';
import { driftDetectorParams } from '../../native/lib/drift.js';
import { templateCorrelations, type MatchOptions, type TemplateModel } from '../../native/lib/matching.js';
import { bitwiseDifferences, cudaUnderTest, noiseLearningModel, preprocessInputs } from './gpu-builders.js';
import {
  driftPrototypes,
  driftTestBatch,
  iblWaveformOptions,
  np1Probe,
  random,
  randomModel,
  rawBlock,
} from './gpu-fixture.js';

// The default is one context; this file tests two (or the number given), read at the first device call.
process.env['SPIKESHARD_CUDA_CONTEXTS'] ??= '2';
const { skip, gpu } = cudaUnderTest();
const nChannels = 64;

/** One device call and how to compare its result: a thunk that starts it and the result's fields. */
interface Job {
  name: string;
  start: () => Promise<object>;
}

/** Field-wise comparison of a result object or a bare Float32Array. */
function differences(a: object, b: object): string[] {
  return ArrayBuffer.isView(a) ? bitwiseDifferences({ values: a }, { values: b }) : bitwiseDifferences(a, b);
}

function shiftMatchJobs(model: TemplateModel, options: MatchOptions, key: number, seeds: number[]): Job[] {
  const rowStride = nChannels + 1;
  const nSamples = 12_288;
  const halo = { haloSamples: 512, ownSamples: nSamples - 1024 };
  const { kriging, preprocessOptions } = preprocessInputs(nChannels, 16, 20, 52);
  return seeds.map((seed) => {
    const raw = rawBlock(nSamples, nChannels, rowStride, seed);
    return {
      name: `shift-match key ${key} seed ${seed}`,
      start: () =>
        cudaPreprocessShiftMatchBatchAsync(
          gpu(),
          { data: raw, nChannels, rowStride },
          preprocessOptions,
          kriging,
          halo,
          model,
          options,
          true,
          key,
        ),
    };
  });
}

function driftJobs(seeds: number[]): Job[] {
  const nSamples = 12_000;
  const probe = np1Probe(nChannels);
  const w = driftPrototypes(3);
  const params = driftDetectorParams({ threshold: 6, ownBeginSample: 1024, ownEndSample: nSamples - 1024 }, nSamples);
  return seeds.map((seed) => {
    const batch = driftTestBatch(nChannels, nSamples, seed);
    return {
      name: `drift seed ${seed}`,
      start: () => gpu().preprocessDriftDetectSpikesAsync(batch, probe.xUm, probe.yUm, w, params),
    };
  });
}

function destripeJobs(seeds: number[]): Job[] {
  const nSamples = 8_000;
  const rowStride = nChannels + 1;
  const next = random(17);
  const labels = new Int32Array(nChannels);
  labels[5] = 1;
  labels[40] = 2;
  const options = iblWaveformOptions(nChannels, labels);
  const nWaves = 60;
  const nRows = 12;
  const length = 82;
  const starts = Int32Array.from({ length: nWaves }, () => Math.floor(next() * (nSamples - length))).sort();
  const channels = new Int32Array(nWaves * nRows);
  for (let k = 0; k < nWaves; k++) {
    const first = Math.floor(next() * nChannels);
    for (let r = 0; r < nRows; r++) channels[k * nRows + r] = Math.min(nChannels, first + r);
  }
  const windows = { starts, channels, nRows, length };
  return seeds.map((seed) => {
    const raw = rawBlock(nSamples, nChannels, rowStride, seed);
    return {
      name: `destripe seed ${seed}`,
      start: () => cudaDestripeCutWaveformsAsync(gpu(), { data: raw, nChannels, rowStride }, options, windows, 1e-6),
    };
  });
}

/** Each job alone (awaited one after the other), then `rounds` times all at once: identical results. */
async function compareInFlight(jobs: Job[], rounds: number): Promise<{ aloneMs: number; togetherMs: number }> {
  const alone: object[] = [];
  let t0 = performance.now();
  for (const job of jobs) alone.push(await job.start());
  const aloneMs = performance.now() - t0;
  let togetherMs = 0;
  for (let round = 0; round < rounds; round++) {
    t0 = performance.now();
    const together = await Promise.all(jobs.map((job) => job.start()));
    togetherMs += performance.now() - t0;
    together.forEach((r, i) =>
      assert.deepEqual(differences(r, alone[i]!), [], `round ${round}, ${jobs[i]!.name}: in flight vs alone`),
    );
  }
  return { aloneMs, togetherMs: togetherMs / rounds };
}

test('the three async fused entries, 6 batches in flight at once: each bitwise its call alone', { skip }, async () => {
  const { m, learning } = noiseLearningModel();
  const options = { ...learning, crossCorrelation: null, deriveCrossCorrelation: true };
  const jobs = [...shiftMatchJobs(m, options, 701, [81, 82]), ...driftJobs([83, 84]), ...destripeJobs([85, 86])];
  const before = gpu().deviceMemory();
  const { aloneMs, togetherMs } = await compareInFlight(jobs, 3);
  const after = gpu().deviceMemory();
  // Every fused match call either uploaded or reused, whichever context it ran on.
  assert.equal(after.modelUploads + after.modelReuses - before.modelUploads - before.modelReuses, 2 * 4);
  assert.ok(after.bytesInUse > 0 && after.bytesInUse <= after.maxBytes, `bytes in use ${after.bytesInUse}`);
  console.log(
    `# contexts (SPIKESHARD_CUDA_CONTEXTS=${process.env.SPIKESHARD_CUDA_CONTEXTS}): ` +
      `6 calls one after the other ${aloneMs.toFixed(1)} ms, in flight together ${togetherMs.toFixed(1)} ms; ` +
      `${after.modelUploads - before.modelUploads} model uploads, ${after.bytesInUse} device bytes`,
  );
  gpu().releaseDeviceMemory();
  assert.equal(gpu().deviceMemory().bytesInUse, 0, 'releaseDeviceMemory frees every context');
});

test('two resident models alternating over the contexts: each call bitwise its call alone', { skip }, async () => {
  const { m, learning } = noiseLearningModel();
  const other = randomModel(14, nChannels, 16, 77);
  const otherOptions: MatchOptions = {
    ...learning,
    crossCorrelation: templateCorrelations(other, { nSimilarMax: 6, threads: 0 }).crossCorrelation,
  };
  const a = shiftMatchJobs(m, learning, 711, [91, 92]);
  const b = shiftMatchJobs(other, otherOptions, 712, [93, 94]);
  // A, B, A, B in flight: with 2 contexts each holds one model or both swap, every round.
  const jobs = [a[0]!, b[0]!, a[1]!, b[1]!];
  const before = gpu().deviceMemory();
  await compareInFlight(jobs, 4);
  const after = gpu().deviceMemory();
  assert.equal(after.modelUploads + after.modelReuses - before.modelUploads - before.modelReuses, 4 * 5);
  assert.ok([711, 712].includes(after.residentModelKey), `resident key ${after.residentModelKey}`);
  console.log(
    `# contexts, two models: ${after.modelUploads - before.modelUploads} uploads and ` +
      `${after.modelReuses - before.modelReuses} reuses over 20 calls`,
  );
});

test('SPIKESHARD_CUDA_CONTEXTS outside 1..16: the first device call throws, naming the value', { skip }, () => {
  const load = new URL('../../native/lib/load.js', import.meta.url).href;
  const script =
    `const { loadCudaBinding } = await import(${JSON.stringify(load)});` +
    `const r = loadCudaBinding(); if (!r.ok) throw new Error(r.reason);` +
    `try { r.binding.deviceMemory(); console.log('no error'); } catch (e) { console.log(e.message); }`;
  for (const value of ['0', '17', '2x']) {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, SPIKESHARD_CUDA_CONTEXTS: value },
      encoding: 'utf8',
    });
    assert.equal(child.status, 0, child.stderr);
    assert.match(
      child.stdout,
      new RegExp(`SPIKESHARD_CUDA_CONTEXTS: expected an integer from 1 to 16, got '${value}'`),
    );
  }
});

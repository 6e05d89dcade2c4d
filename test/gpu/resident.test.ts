// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run test:gpu`: the device-resident template model (issue 5). matchBatch and the fused
 * preprocessShiftMatchBatch with `modelKey`: the first call with a key uploads the model, later
 * calls with the same key reuse it (deviceMemory() counts both), and every result is bitwise the
 * CPU's — on new batches, with learning, extraction and re-filtering options, after a changed
 * amplitude prior, after an unkeyed call or another key overwrote the device tables, after
 * releaseDeviceMemory(). A key given to a different model throws. Tolerance: none (every array
 * bitwise equal, as the kernels repeat the CPU's operations; docs/cuda.md).
 * Skipped without a usable CUDA device.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCpuBinding } from '../../native/lib/load.js';
import type { NativeResidentModel } from '../../native/lib/binding-cuda.js';
import { cudaMatchBatch, cudaPreprocessShiftMatchBatch } from '../../native/lib/backend.js';
import {
  DEFAULT_MATCH_OPTIONS,
  matchBatch,
  rawMatchOptions,
  templateCorrelations,
  type MatchOptions,
  type MatchResult,
  type TemplateModel,
} from '../../native/lib/matching.js';
import { ParameterError } from '../../proto/errors.js';
import { randomModel, rawBlock, testPcs } from './gpu-fixture.js';
import {
  bitwiseDifferences,
  cpuPreprocessShift,
  cudaUnderTest,
  noiseLearningModel,
  plantedBatch,
  preprocessInputs,
} from './gpu-builders.js';

const { skip, gpu } = cudaUnderTest();
const cpu = loadCpuBinding();
const nt0 = 61;

function residency(): NativeResidentModel & { bytesInUse: number } {
  const m = gpu().deviceMemory();
  return {
    residentModelKey: m.residentModelKey,
    modelUploads: m.modelUploads,
    modelReuses: m.modelReuses,
    lastModelUploadBytes: m.lastModelUploadBytes,
    bytesInUse: m.bytesInUse,
  };
}

test(
  'matchBatch with modelKey: uploads once, reuses bitwise, re-uploads whenever the device copy is stale',
  { skip },
  () => {
    const nChannels = 64;
    const nSamples = 8192;
    const m = randomModel(12, nChannels, 16, 5);
    const other = randomModel(7, nChannels, 16, 15);
    const corr = templateCorrelations(m, { nSimilarMax: 6, threads: 0 });
    const otherCorr = templateCorrelations(other, { nSimilarMax: 4, threads: 0 });
    const batchOf = (samples: Float32Array) => ({
      samples,
      nSamples,
      nChannels,
      haloSamples: 256,
      ownSamples: nSamples - 512,
    });
    const a = batchOf(plantedBatch(m, nSamples, 40, 6).samples);
    const b = batchOf(plantedBatch(m, nSamples, 40, 7).samples);
    const extract: MatchOptions = {
      ...DEFAULT_MATCH_OPTIONS,
      threshold: 5,
      snippetSums: false,
      similarTemplates: { nSimilar: corr.nSimilar, similar: corr.similar },
      pcs: testPcs(),
      crossCorrelation: corr.crossCorrelation,
    };
    const learn: MatchOptions = { ...DEFAULT_MATCH_OPTIONS, crossCorrelation: corr.crossCorrelation };
    const refilter: MatchOptions = { ...DEFAULT_MATCH_OPTIONS };
    const otherOptions: MatchOptions = { ...DEFAULT_MATCH_OPTIONS, crossCorrelation: otherCorr.crossCorrelation };
    const K1 = 101;
    const K2 = 102;
    let peakBytes = 0;
    let spikes = 0;
    /** One keyed (or unkeyed) CUDA call against the CPU, bitwise; `expect` says whether it must upload or reuse. */
    const step = (
      name: string,
      batch: ReturnType<typeof batchOf>,
      model: TemplateModel,
      options: MatchOptions,
      key: number | undefined,
      expect: 'upload' | 'reuse',
    ): MatchResult => {
      const before = residency();
      const g = cudaMatchBatch(gpu(), batch, model, options, key);
      const after = residency();
      const c = matchBatch(batch, model, options);
      assert.deepEqual(bitwiseDifferences(g, c), [], `${name}: CUDA vs CPU`);
      if (expect === 'upload') {
        assert.equal(after.modelUploads, before.modelUploads + 1, `${name}: expected an upload`);
        assert.equal(after.modelReuses, before.modelReuses, `${name}: expected no reuse`);
        assert.ok(after.lastModelUploadBytes > 0, `${name}: no bytes uploaded`);
      } else {
        assert.equal(after.modelReuses, before.modelReuses + 1, `${name}: expected a reuse`);
        assert.equal(after.modelUploads, before.modelUploads, `${name}: expected no upload`);
      }
      assert.equal(after.residentModelKey, key ?? 0, `${name}: resident key`);
      // Buffers only grow between releases: the context's bytes are its peak.
      assert.ok(after.bytesInUse >= peakBytes, `${name}: device bytes shrank (${after.bytesInUse} < ${peakBytes})`);
      peakBytes = after.bytesInUse;
      spikes += c.sample.length;
      console.log(
        `# resident ${name}: ${expect}, ${c.sample.length} spikes, ${after.lastModelUploadBytes} bytes uploaded for the model`,
      );
      return g;
    };

    step('unkeyed first call', a, m, extract, undefined, 'upload');
    step('K1 first call', a, m, extract, K1, 'upload');
    const uploadBytes = residency().lastModelUploadBytes;
    step('K1 same batch', a, m, extract, K1, 'reuse');
    // Only the similar lists and PCs (kilobytes) go up again; the tables and WtW stay.
    const reuseBytes = residency().lastModelUploadBytes;
    assert.equal(reuseBytes, (corr.similar.length + nt0 * 3) * 4, 'a reusing call uploads only similar + PCs');
    assert.ok(reuseBytes < uploadBytes / 10, `reuse uploaded ${reuseBytes} of ${uploadBytes} bytes`);
    step('K1 new batch', b, m, extract, K1, 'reuse');
    step('K1 learning options (no similar, no PCs)', b, m, learn, K1, 'reuse');
    step('K1 re-filtering (no WtW: ranges merged with the resident overlap table)', a, m, refilter, K1, 'reuse');
    step('K1 back to WtW', a, m, learn, K1, 'reuse');
    step('K1 amplitude prior 5 (tables depend on it)', a, m, { ...learn, amplitudePrior: 5 }, K1, 'upload');
    step('K1 amplitude prior 5 again', b, m, { ...learn, amplitudePrior: 5 }, K1, 'reuse');
    step('K1 amplitude prior back to 10', b, m, learn, K1, 'upload');
    step('unkeyed other model overwrites the tables', a, other, otherOptions, undefined, 'upload');
    step('K1 after an unkeyed call', a, m, extract, K1, 'upload');
    step('K2 other model', b, other, otherOptions, K2, 'upload');
    step('K2 again', a, other, otherOptions, K2, 'reuse');
    step('K1 after K2', b, m, learn, K1, 'upload');

    // A key names one model: the same key with other values (same sizes) is refused, and the resident
    // model is left intact.
    const changed: TemplateModel = { ...m, meanAmplitude: m.meanAmplitude.map((v, j) => (j === 3 ? v * 1.5 : v)) };
    assert.throws(
      () => cudaMatchBatch(gpu(), a, changed, learn, K1),
      (err: Error) => {
        assert.equal(err.name, 'RangeError');
        assert.match(err.message, /model key 101 was uploaded with a different template model/);
        return true;
      },
    );
    step('K1 after the refused call', a, m, learn, K1, 'reuse');

    // WtW of the same model under the same key with other values (not derived from this model):
    // re-uploaded rather than reused, as the sampled check sees it change.
    const scaled = corr.crossCorrelation.map((v) => 2 * v);
    step('K1 with other WtW values', a, m, { ...learn, crossCorrelation: scaled }, K1, 'upload');

    gpu().releaseDeviceMemory();
    assert.equal(gpu().deviceMemory().bytesInUse, 0, 'bytes after release');
    peakBytes = 0;
    step('K1 after releaseDeviceMemory', a, m, learn, K1, 'upload');
    step('K1 after release, again', b, m, learn, K1, 'reuse');
    assert.ok(spikes > 100, `only ${spikes} spikes in all steps: the comparisons would be weak`);

    // Key checks: the typed wrapper and the binding.
    assert.throws(() => cudaMatchBatch(gpu(), a, m, learn, 0), ParameterError);
    assert.throws(() => cudaMatchBatch(gpu(), a, m, learn, 1.5), ParameterError);
    const raw = rawMatchOptions(a, learn);
    type Loose = (...args: unknown[]) => unknown;
    const call = (modelKey: unknown) =>
      (gpu().matchBatch as Loose)(a.samples, nSamples, nChannels, m, { ...raw, modelKey });
    assert.throws(() => call(-1), RangeError);
    assert.throws(() => call(2 ** 53), RangeError);
    assert.throws(() => call('7'), TypeError);
    // The CPU binding ignores the key (it has no device).
    const cpuResult = (cpu.matchBatch as Loose)(a.samples, nSamples, nChannels, m, {
      ...raw,
      modelKey: 5,
    }) as MatchResult;
    assert.deepEqual(bitwiseDifferences(cpuResult, matchBatch(a, m, learn)), [], 'CPU binding with a modelKey');
  },
);

test(
  'preprocessShiftMatchBatch with modelKey: resident model across batches and entries, bitwise the CPU chain',
  { skip },
  () => {
    const nChannels = 64;
    const rowStride = 65;
    const nSamples = 12_288;
    const halo = { haloSamples: 512, ownSamples: nSamples - 1024 };
    const inputs = preprocessInputs(nChannels, 16, 20, 52);
    const { kriging, preprocessOptions } = inputs;
    // Unplanted noise: a weak amplitude prior and a low threshold make it find ~20 spikes per batch.
    const { m, learning } = noiseLearningModel();
    const K = 201;
    let spikes = 0;
    for (const [i, seed] of [61, 62, 63].entries()) {
      const raw = rawBlock(nSamples, nChannels, rowStride, seed);
      const { shifted } = cpuPreprocessShift(cpu, inputs, raw, nSamples, rowStride);
      const c = matchBatch({ samples: shifted, nSamples, nChannels, ...halo }, m, learning);
      const before = residency();
      const g = cudaPreprocessShiftMatchBatch(
        gpu(),
        { data: raw, nChannels, rowStride },
        preprocessOptions,
        kriging,
        halo,
        m,
        learning,
        true,
        K,
      );
      const after = residency();
      assert.equal(after.modelUploads - before.modelUploads, i === 0 ? 1 : 0, `batch ${i}: uploads`);
      assert.equal(after.modelReuses - before.modelReuses, i === 0 ? 0 : 1, `batch ${i}: reuses`);
      // The CPU's layout of the compact sums, then every array bitwise.
      const row = nt0 * nChannels;
      const full = new Float64Array(m.nTemplates * row);
      (g.snippetTemplates ?? new Int32Array(0)).forEach((j, k) =>
        full.set(g.snippetSums!.subarray(k * row, (k + 1) * row), j * row),
      );
      assert.deepEqual(
        bitwiseDifferences({ ...g, snippetSums: full }, c, ['snippetTemplates']),
        [],
        `fused batch ${i} (key ${K}) vs CPU chain`,
      );
      // The block entry shares the resident model: matchBatch on the CPU's shifted block reuses it.
      const before2 = residency();
      const gm = cudaMatchBatch(gpu(), { samples: shifted, nSamples, nChannels, ...halo }, m, learning, K);
      assert.equal(
        residency().modelReuses - before2.modelReuses,
        1,
        `batch ${i}: matchBatch after the fused call reuses`,
      );
      assert.deepEqual(bitwiseDifferences(gm, c), [], `matchBatch batch ${i} (key ${K}) vs CPU`);
      spikes += c.sample.length;
    }
    console.log(`# resident fused: 3 batches, ${spikes} spikes, one model upload`);
    assert.ok(spikes > 10, `only ${spikes} spikes: the comparison would be weak`);
  },
);

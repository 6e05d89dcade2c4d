// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run test:gpu`: the engine's learning and extraction batches on the CUDA backend — the fused
 * raw-int16-to-results path (preprocessShiftMatchBatch with one kriging matrix per owner stretch,
 * compact snippet sums, no float block crossing the bus) — against the CPU engine and against the
 * CUDA block path it replaces (preprocessShiftBatch + the device's matchBatch), with the model kept
 * on the device between batches (uploaded once for all of them) and, on the fused path, the
 * learning proposals computed on the device residual. Tolerance: none;
 * every array must be bitwise equal (the kernels repeat the CPU's operations, docs/cuda.md).
 * Skipped without a usable CUDA device.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BatchEngine,
  ownerSegments,
  type BatchSpan,
  type DriftState,
  type MatchRequest,
  type NativeCudaBinding,
} from '../../native/lib/index.js';
import { nearestChannels, templateCorrelations } from '../../native/lib/matching.js';
import { tmpDir } from '../helpers/tmp.js';
import { proposalPrototypes, randomModel, testPcs } from './gpu-fixture.js';
import { bitwiseDifferences, cudaUnderTest, simulatedRun } from './gpu-builders.js';

const { loaded, skip } = cudaUnderTest();

test('engine learn/extract: fused CUDA path = CUDA block path = CPU, bitwise', { skip, timeout: 600_000 }, async () => {
  if (!loaded.ok) return;
  const cuda: NativeCudaBinding = loaded.binding;
  const { dir, cleanup } = tmpDir('spikeshard-gpu-engine-');
  try {
    const nChannels = 32;
    // The whitening weights scaled by 0.3 so that the model's templates find a few hundred spikes
    // (some templates none); batches of 30 000 own samples with 1024-sample halos.
    const { setup, channels, batches, work } = await simulatedRun(dir, nChannels, 4, 6, 0.3);
    // Each batch its own drift, so a block's halos are shifted with the neighbours' matrices (the
    // several-pieces case).
    const nBlocks = 3;
    const yMax = Math.max(...setup.yUm);
    const drift: DriftState = {
      nBatches: batches.length,
      nBlocks,
      dshiftUm: Float64Array.from({ length: batches.length * nBlocks }, (_, i) => (i % 5) * 3.5 - 6),
      yBlockUm: Float64Array.from({ length: nBlocks }, (_, b) => ((b + 0.5) * yMax) / nBlocks),
    };
    const m = randomModel(10, nChannels, 16, 11);
    const corr = templateCorrelations(m, { nSimilarMax: 4, threads: 0 });
    const neighbourhoods = nearestChannels(Float32Array.from(setup.xUm), Float32Array.from(setup.yUm), 16);
    const prototypes = proposalPrototypes(4);
    const model = {
      model: m,
      crossCorrelation: corr.crossCorrelation,
      similar: { nSimilar: corr.nSimilar, similar: corr.similar },
      pcs: testPcs(),
      prototypes,
      neighbourhoods: neighbourhoods.channels,
      nNeighbours: neighbourhoods.nNeighbours,
    };
    const request = (batch: BatchSpan): MatchRequest => ({
      work,
      batch,
      segments: ownerSegments(batches, batch),
      channels,
      drift,
      model,
    });
    const fused = new BatchEngine({ threads: 0, backend: { backend: 'cuda', cuda } });
    const blockPath = new BatchEngine({
      threads: 0,
      backend: {
        backend: 'cuda',
        cuda: {
          preprocessShiftBatch: cuda.preprocessShiftBatch.bind(cuda),
          matchBatch: cuda.matchBatch.bind(cuda),
        },
      },
    });
    const cpu = new BatchEngine({ threads: 0 });
    try {
      // All batches match one MatchModel object: the engines key it (deviceModelKey), so the model
      // goes up to the device once and every later call, fused or block path, finds it resident.
      const residentBefore = cuda.deviceMemory();
      let spikes = 0;
      let touched = 0;
      let proposals = 0;
      for (const batch of batches) {
        const req = request(batch);
        const [lf, lb, lc] = [await fused.learn(req), await blockPath.learn(req), await cpu.learn(req)];
        assert.deepEqual(bitwiseDifferences(lf, lc), [], `learn batch ${batch.index}: fused CUDA vs CPU`);
        assert.deepEqual(bitwiseDifferences(lb, lc), [], `learn batch ${batch.index}: CUDA block path vs CPU`);
        const [ef, eb, ec] = [await fused.extract(req), await blockPath.extract(req), await cpu.extract(req)];
        assert.deepEqual(bitwiseDifferences(ef, ec), [], `extract batch ${batch.index}: fused CUDA vs CPU`);
        assert.deepEqual(bitwiseDifferences(eb, ec), [], `extract batch ${batch.index}: CUDA block path vs CPU`);
        spikes += ec.samples.length;
        touched += lc.active.length;
        proposals += lc.proposalChannels.length;
      }
      const residentAfter = cuda.deviceMemory();
      const uploads = residentAfter.modelUploads - residentBefore.modelUploads;
      const reuses = residentAfter.modelReuses - residentBefore.modelReuses;
      console.log(`# engine: ${batches.length} batches, ${spikes} extracted spikes, ${touched} template rows learned`);
      console.log(`# engine: model uploaded ${uploads} times, reused ${reuses} times`);
      // The fused path proposes on the device (fusedProposals), the block path on the CPU residual.
      console.log(`# engine: ${proposals} proposals (fused path: on the device)`);
      // 4 CUDA matches per batch; one upload (two if the extraction options' lists grow the slot).
      assert.ok(uploads >= 1 && uploads <= 2, `model uploads: ${uploads}`);
      assert.ok(reuses >= 4 * batches.length - 2, `model reuses: ${reuses} of ${4 * batches.length} calls`);
      assert.ok(spikes > 0 && touched > 0, 'no spike matched: the comparison would be empty');
    } finally {
      await Promise.all([fused.close(), blockPath.close(), cpu.close()]);
    }
  } finally {
    cleanup();
  }
});

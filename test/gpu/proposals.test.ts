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
import { cudaPreprocessShiftMatchBatch, type DeviceProposalRequest } from '../../native/lib/backend.js';
import {
  DEFAULT_PROPOSAL_OPTIONS,
  matchBatch,
  nearestChannels,
  proposeTemplates,
  type Proposals,
} from '../../native/lib/matching.js';
import { proposalPrototypes, rawBlock } from './gpu-fixture.js';
import { cpuPreprocessShift, cudaUnderTest, noiseLearningModel, preprocessInputs } from './gpu-builders.js';

const { skip, gpu } = cudaUnderTest();
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
  const inputs = preprocessInputs(nChannels, 16, 20, 52);
  const { kriging, preprocessOptions } = inputs;
  const { m, learning } = noiseLearningModel();
  const x = Float32Array.from({ length: nChannels }, (_, c) => 16 * (c % 4));
  const y = Float32Array.from({ length: nChannels }, (_, c) => 20 * Math.floor(c / 2));
  const neighbourhoods = nearestChannels(x, y, 16);
  const prototypes = proposalPrototypes(6);
  const base = { ...DEFAULT_PROPOSAL_OPTIONS };
  const variants: [string, DeviceProposalRequest['options']][] = [
    ['learning defaults', base],
    ['radius 0, 3 neighbours summed, threshold 3', { ...base, channelRadius: 0, neighboursSummed: 3, threshold: 3 }],
    ['capped at 2', { ...base, maxProposals: 2 }],
  ];
  let total = 0;
  let capped = 0;
  for (const seed of [61, 62]) {
    const raw = rawBlock(nSamples, nChannels, rowStride, seed);
    const { shifted } = cpuPreprocessShift(cpu, inputs, raw, nSamples, rowStride);
    /** The fused learning call on `raw` (no residual back), with proposals when asked. */
    const fused = (modelKey?: number, request?: DeviceProposalRequest) =>
      cudaPreprocessShiftMatchBatch(
        gpu(),
        { data: raw, nChannels, rowStride },
        preprocessOptions,
        kriging,
        halo,
        m,
        learning,
        false,
        modelKey,
        request,
      );
    const residual = matchBatch({ samples: shifted, nSamples, nChannels, ...halo }, m, learning).residual;
    for (const [name, options] of variants) {
      const request: DeviceProposalRequest = { prototypes, neighbourhoods, options };
      const c = proposeTemplates(
        { samples: residual, nSamples, nChannels, ...halo },
        prototypes,
        neighbourhoods,
        options,
      );
      const g = fused(300 + seed, request);
      assert.equal(g.residual, null, 'no residual asked for');
      assertSameProposals(`seed ${seed}, ${name}`, c, g.proposals);
      total += c.sample.length;
      if (c.capped) capped++;
      console.log(`# proposals seed ${seed}, ${name}: ${c.sample.length} (capped ${c.capped})`);
    }
    // Without the argument: no proposals key value but null.
    const plain = fused();
    assert.equal(plain.proposals ?? null, null);
  }
  assert.ok(total >= 10, `only ${total} proposals: the comparison would be weak`);
  assert.ok(capped >= 1, 'the cap was never hit');
  assert.equal(gpu().fusedProposals, true, 'the binding announces device proposals');
});

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * CUDA micro-benchmark (run by test/gpu/device-run.sh on the GPU machine): per-kernel device time
 * of the fused per-batch chain at Neuropixels size, effective GB/s, and the CPU chain on the same
 * batch for comparison. Writes JSON and prints a summary; asserts nothing.
 *
 *   node dist/test/bench/cuda-bench.js [--channels 384] [--samples 65600] [--halo 1024]
 *                                      [--repeats 20] [--cpu-repeats 1] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { loadCpuBinding } from '../../native/lib/load.js';
import { cudaOrSkipReason, gains, goodMask, krigingMatrix, rawBlock, whitening } from '../gpu/gpu-fixture.js';

const { values } = parseArgs({
  options: {
    channels: { type: 'string', default: '384' },
    samples: { type: 'string', default: '65600' },
    halo: { type: 'string', default: '1024' },
    repeats: { type: 'string', default: '20' },
    'cpu-repeats': { type: 'string', default: '1' },
    json: { type: 'string', default: '' },
  },
});

const nChannels = Number(values.channels);
const nSamples = Number(values.samples) + 2 * Number(values.halo);
const repeats = Number(values.repeats);
const cpuRepeats = Number(values['cpu-repeats']);
const rowStride = nChannels + 1; // a SpikeGLX block with its sync channel

const { cuda, skip } = cudaOrSkipReason();
const report: Record<string, unknown> = {
  nChannels,
  nSamples,
  ownSamples: Number(values.samples),
  haloSamples: Number(values.halo),
  repeats,
  host: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '' },
};

if (!cuda.ok) {
  console.log(`cuda-bench: ${skip}`);
  report['skipped'] = skip;
} else {
  const raw = rawBlock(nSamples, nChannels, rowStride, 7);
  const args = {
    raw,
    nSamples,
    nChannels,
    rowStride,
    gains: gains(nChannels, 8),
    good: goodMask(nChannels, 50),
    ...whitening(nChannels, 32, 9),
    order: 3,
    cutoffHz: 300,
    sampleRateHz: 30000,
    scale: 1,
    commonReference: true,
  };
  const m = krigingMatrix(nChannels, 10);
  report['device'] = cuda.description.device;
  const bench = cuda.binding.benchmarkPreprocess({ ...args, krigingMatrix: m, repeats });
  const stages = bench.stages.map((s) => ({ ...s, gbPerS: s.ms > 0 ? s.bytes / (s.ms * 1e6) : 0 }));
  report['cudaStages'] = stages;

  // End to end from JS (includes host↔device copies and the JS array allocation).
  const t0 = performance.now();
  for (let r = 0; r < repeats; r++) cuda.binding.preprocessShiftBatch({ ...args, krigingMatrix: m });
  const cudaEndToEndMs = (performance.now() - t0) / repeats;
  report['cudaEndToEndMs'] = cudaEndToEndMs;

  // The CPU chain on the same batch, all host threads.
  const cpu = loadCpuBinding();
  const c0 = performance.now();
  for (let r = 0; r < cpuRepeats; r++) {
    const white = cpu.preprocessBatch(args);
    cpu.driftApplyKriging(white, nChannels, m, white);
  }
  const cpuMs = (performance.now() - c0) / cpuRepeats;
  report['cpuChainMs'] = cpuMs;
  const cpuThreads = cpu.describe().defaultThreads;
  report['cpuThreads'] = cpuThreads;
  report['memory'] = cuda.binding.deviceMemory();

  console.log(`CUDA per-batch chain, ${nSamples} × ${nChannels} (device ${cuda.description.device.name}):`);
  for (const s of stages) {
    console.log(`  ${s.name.padEnd(26)} ${s.ms.toFixed(3).padStart(9)} ms  ${s.gbPerS.toFixed(1).padStart(7)} GB/s`);
  }
  console.log(`  end to end from JS          ${cudaEndToEndMs.toFixed(3).padStart(9)} ms`);
  console.log(`  CPU chain (${cpuThreads} threads)       ${cpuMs.toFixed(1).padStart(9)} ms`);
}

if (values.json !== '') writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * CUDA micro-benchmark (run by test/gpu/device-run.sh on the GPU machine): per-kernel device time
 * of the fused per-batch chain at Neuropixels size, effective GB/s, and the CPU chain on the same
 * batch for comparison; then the engine's fused learning and extraction batches (raw int16 →
 * preprocessing → kriging per owner stretch → matching pursuit, 250 templates) stage by stage:
 * copy into pinned memory, upload, preprocessing kernels, matching kernels, download, copy out, the
 * model's upload, and the whole call from JS; then the same with a model key (the first call uploads
 * the model, the later ones find it resident on the device), and learning with its proposals
 * computed on the device (no residual download); then drift detection per batch, CPU vs CUDA (the
 * kernel on a float block, and the fused raw int16 → spikes call). Writes JSON and prints a
 * summary; asserts nothing.
 *
 *   node dist/test/bench/cuda-bench.js [--channels 384] [--samples 65600] [--halo 1024]
 *                                      [--repeats 20] [--cpu-repeats 1] [--json FILE]
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { loadCpuBinding } from '../../native/lib/load.js';
import {
  cudaPreprocessShiftMatchBatch,
  type DeviceProposalRequest,
  type KrigingStretch,
} from '../../native/lib/backend.js';
import type { NativeCudaMatchOptions, NativeCudaStageTiming } from '../../native/lib/binding-cuda.js';
import { driftDetectorParams } from '../../native/lib/drift.js';
import {
  DEFAULT_MATCH_OPTIONS,
  nearestChannels,
  rawMatchOptions,
  templateCorrelations,
  type MatchOptions,
} from '../../native/lib/matching.js';
import {
  cudaOrSkipReason,
  driftPrototypes,
  gains,
  goodMask,
  krigingMatrix,
  np1Probe,
  proposalPrototypes,
  randomModel,
  rawBlock,
  testPcs,
  whitening,
} from '../gpu/gpu-fixture.js';

const { values } = parseArgs({
  options: {
    channels: { type: 'string', default: '384' },
    samples: { type: 'string', default: '65600' },
    halo: { type: 'string', default: '1024' },
    repeats: { type: 'string', default: '20' },
    'cpu-repeats': { type: 'string', default: '1' },
    templates: { type: 'string', default: '250' },
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

  // The engine's fused learning and extraction batches. The whitening scale brings the noise near
  // unit variance (as the real whitening does); the block's halos get the neighbours' matrices.
  const nTemplates = Number(values.templates);
  const model = randomModel(nTemplates, nChannels, 32, 12);
  const corr = templateCorrelations(model, { nSimilarMax: 32, threads: 0 });
  const haloSamples = Number(values.halo);
  const halo = { haloSamples, ownSamples: Number(values.samples) };
  const stretches: KrigingStretch[] = [
    { from: 0, to: haloSamples, matrix: krigingMatrix(nChannels, 13) },
    { from: haloSamples, to: nSamples - haloSamples, matrix: m },
    { from: nSamples - haloSamples, to: nSamples, matrix: krigingMatrix(nChannels, 14) },
  ];
  const batch = { ...args, scale: 0.02, krigingMatrix: null };
  const rounds: Array<[string, MatchOptions, boolean]> = [
    [
      'learn',
      { ...DEFAULT_MATCH_OPTIONS, threshold: 6, learnThreshold: 6, crossCorrelation: corr.crossCorrelation },
      true,
    ],
    [
      'extract',
      {
        ...DEFAULT_MATCH_OPTIONS,
        threshold: 3,
        learnThreshold: 6,
        snippetSums: false,
        similarTemplates: { nSimilar: corr.nSimilar, similar: corr.similar },
        pcs: testPcs(),
        crossCorrelation: corr.crossCorrelation,
      },
      false,
    ],
  ];
  const fusedRepeats = Math.max(3, Math.round(repeats / 4));
  let benchModelKey = 1_000_000;
  // Proposals as learning asks for them: 6 Gaussian-trough prototypes, 32 nearest channels of the model's geometry.
  const proposalRequest: DeviceProposalRequest = {
    prototypes: proposalPrototypes(6),
    neighbourhoods: nearestChannels(
      Float32Array.from({ length: nChannels }, (_, c) => 16 * (c % 4)),
      Float32Array.from({ length: nChannels }, (_, c) => 20 * Math.floor(c / 2)),
      32,
    ),
    options: { troughSample: 20, neighboursSummed: 7, channelRadius: 4, threshold: 6, maxProposals: 5000, threads: 0 },
  };
  const fused: Record<string, unknown> = {};
  for (const [name, options, residual] of rounds) {
    const pieces = {
      rowStart: Int32Array.from(stretches, (p) => p.from),
      rowEnd: Int32Array.from(stretches, (p) => p.to),
      matrices: new Float32Array(stretches.length * nChannels * nChannels),
    };
    stretches.forEach((p, i) => pieces.matrices.set(p.matrix, i * nChannels * nChannels));
    const b = cuda.binding.benchmarkPreprocessShiftMatch(
      { ...batch, krigingPieces: pieces },
      model,
      rawMatchOptions(halo, options),
      residual,
      fusedRepeats,
    );
    // The same with a model key: the first call uploads the model, the later ones find it resident.
    const modelKey = ++benchModelKey;
    const keyedOptions: NativeCudaMatchOptions = { ...rawMatchOptions(halo, options), modelKey };
    const keyed = cuda.binding.benchmarkPreprocessShiftMatch(
      { ...batch, krigingPieces: pieces },
      model,
      keyedOptions,
      residual,
      fusedRepeats,
    );
    const preprocessOptions = {
      sampleRateHz: 30000,
      cutoffHz: 300,
      order: 3,
      gains: args.gains,
      good: args.good,
      commonReference: true,
      scale: 0.02,
      whitening: {
        nChannels,
        nNearest: args.nNearest,
        epsilon: 0,
        indices: args.indices,
        weights: args.weights,
        dense: new Float64Array(0),
      },
    };
    const call = (key?: number, proposals?: DeviceProposalRequest) =>
      cudaPreprocessShiftMatchBatch(
        cuda.binding,
        { data: raw, nChannels, rowStride },
        preprocessOptions,
        stretches,
        halo,
        model,
        options,
        residual && proposals === undefined,
        key,
        proposals,
      );
    const result = call();
    const j0 = performance.now();
    for (let r = 0; r < fusedRepeats; r++) call();
    const fromJsMs = (performance.now() - j0) / fusedRepeats;
    call(modelKey);
    const k0 = performance.now();
    for (let r = 0; r < fusedRepeats; r++) call(modelKey);
    const fromJsKeyedMs = (performance.now() - k0) / fusedRepeats;
    // Learning with the proposals computed on the device: no residual download.
    let fromJsDeviceProposalsMs: number | null = null;
    let deviceProposals = 0;
    if (residual) {
      deviceProposals = call(modelKey, proposalRequest).proposals?.sample.length ?? 0;
      const p0 = performance.now();
      for (let r = 0; r < fusedRepeats; r++) call(modelKey, proposalRequest);
      fromJsDeviceProposalsMs = (performance.now() - p0) / fusedRepeats;
    }
    const downloadBytes =
      (result.residual?.byteLength ?? 0) +
      (result.snippetSums?.byteLength ?? 0) +
      (result.templateFeatures?.byteLength ?? 0) +
      (result.pcFeatures?.byteLength ?? 0);
    fused[name] = {
      repeats: b.repeats,
      spikes: result.sample.length,
      spikesFound: result.spikesFound,
      templatesWithSums: result.snippetTemplates?.length ?? 0,
      residualReturned: result.residual !== null,
      downloadBytes,
      stages: b.stages,
      fromJsMs,
      residentModel: { firstStages: keyed.firstStages, stages: keyed.stages, fromJsMs: fromJsKeyedMs },
      deviceProposals: { proposals: deviceProposals, fromJsMs: fromJsDeviceProposalsMs },
    };
    console.log(
      `Fused ${name} batch (${nTemplates} templates, 3 kriging pieces; ${result.sample.length} spikes, ` +
        `${result.snippetTemplates?.length ?? 0} templates with sums, ${(downloadBytes / 1e6).toFixed(1)} MB down):`,
    );
    for (const s of b.stages) {
      const rate = s.bytes > 0 && s.ms > 0 ? `${(s.bytes / (s.ms * 1e6)).toFixed(1).padStart(7)} GB/s` : '';
      console.log(`  ${s.name.padEnd(26)} ${s.ms.toFixed(3).padStart(9)} ms  ${rate}`);
    }
    console.log(`  whole call from JS          ${fromJsMs.toFixed(3).padStart(9)} ms`);
    const upload = (stages: NativeCudaStageTiming[]): string => {
      const u = stages.find((x) => x.name === 'model_upload');
      return u ? `${u.ms.toFixed(3)} ms (${(u.bytes / 1e6).toFixed(1)} MB)` : 'not reported';
    };
    const total = (stages: NativeCudaStageTiming[]): string =>
      (stages.find((x) => x.name === 'fused_total')?.ms ?? 0).toFixed(3);
    console.log(`  model upload, no key (every call)  ${upload(b.stages)}`);
    console.log(
      `  model upload, keyed, first call    ${upload(keyed.firstStages)}, total ${total(keyed.firstStages)} ms`,
    );
    console.log(`  model upload, keyed, later calls   ${upload(keyed.stages)}, total ${total(keyed.stages)} ms`);
    console.log(`  whole call from JS, keyed         ${fromJsKeyedMs.toFixed(3).padStart(9)} ms`);
    if (fromJsDeviceProposalsMs !== null) {
      console.log(
        `  keyed, proposals on the device (${deviceProposals}), no residual ${fromJsDeviceProposalsMs.toFixed(3)} ms`,
      );
    }
  }
  report['fusedMatch'] = fused;

  // Drift detection of one batch (generic templates, 3 prototypes, threshold 8): the CPU kernel on
  // the whitened block, the CPU chain (preprocessing + detection), the CUDA kernel on the same float
  // block (its upload included), and the fused raw int16 → spikes call the engine makes.
  {
    const probe = np1Probe(nChannels);
    const wTemp = driftPrototypes(3);
    const whiteArgs = { ...args, scale: 0.02 };
    const haloSamples = Number(values.halo);
    const params = driftDetectorParams(
      { ownBeginSample: haloSamples, ownEndSample: nSamples - haloSamples, threshold: 8 },
      nSamples,
    );
    const white = cpu.preprocessBatch(whiteArgs);
    const timeIt = (n: number, body: () => unknown): number => {
      body();
      const s0 = performance.now();
      for (let r = 0; r < n; r++) body();
      return (performance.now() - s0) / n;
    };
    const cpuSpikes = cpu.driftDetectSpikes(white, nChannels, probe.xUm, probe.yUm, wTemp, params);
    const cpuDetectMs = timeIt(cpuRepeats, () =>
      cpu.driftDetectSpikes(white, nChannels, probe.xUm, probe.yUm, wTemp, params),
    );
    const cpuChainDetectMs = timeIt(cpuRepeats, () =>
      cpu.driftDetectSpikes(cpu.preprocessBatch(whiteArgs), nChannels, probe.xUm, probe.yUm, wTemp, params),
    );
    const cudaSpikes = cuda.binding.preprocessDriftDetectSpikes(whiteArgs, probe.xUm, probe.yUm, wTemp, params);
    const cudaDetectMs = timeIt(repeats, () =>
      cuda.binding.driftDetectSpikes(white, nChannels, probe.xUm, probe.yUm, wTemp, params),
    );
    const cudaFusedMs = timeIt(repeats, () =>
      cuda.binding.preprocessDriftDetectSpikes(whiteArgs, probe.xUm, probe.yUm, wTemp, params),
    );
    const same =
      cpuSpikes.found === cudaSpikes.found &&
      Buffer.from(cpuSpikes.samples.buffer).equals(Buffer.from(cudaSpikes.samples.buffer)) &&
      Buffer.from(cpuSpikes.centres.buffer).equals(Buffer.from(cudaSpikes.centres.buffer)) &&
      Buffer.from(cpuSpikes.depthsUm.buffer).equals(Buffer.from(cudaSpikes.depthsUm.buffer)) &&
      Buffer.from(cpuSpikes.amplitudes.buffer).equals(Buffer.from(cudaSpikes.amplitudes.buffer));
    report['driftDetect'] = {
      spikes: cpuSpikes.samples.length,
      found: cpuSpikes.found,
      cudaEqualsCpu: same,
      cpuThreads,
      cpuDetectMs,
      cpuPreprocessAndDetectMs: cpuChainDetectMs,
      cudaDetectFloatBlockMs: cudaDetectMs,
      cudaFusedRawToSpikesMs: cudaFusedMs,
    };
    console.log(
      `Drift detection per batch (${nSamples} × ${nChannels}, ${cpuSpikes.samples.length} spikes, ` +
        `CUDA ${same ? '=' : '≠'} CPU bitwise):`,
    );
    console.log(`  CPU detection (${cpuThreads} threads)     ${cpuDetectMs.toFixed(1).padStart(9)} ms`);
    console.log(`  CPU preprocessing + detection  ${cpuChainDetectMs.toFixed(1).padStart(9)} ms`);
    console.log(`  CUDA detection (float block in) ${cudaDetectMs.toFixed(3).padStart(9)} ms`);
    console.log(`  CUDA fused raw int16 → spikes  ${cudaFusedMs.toFixed(3).padStart(9)} ms`);
  }
  report['memory'] = cuda.binding.deviceMemory();
}

if (values.json !== '') writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');

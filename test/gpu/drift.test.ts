// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run test:gpu`: drift detection on the CUDA backend (native/src/cuda/drift_detect.cu) against
 * the CPU reference. Tolerance: none. Every comparison counts the spikes only one side found (by
 * (sample, centre)) and the common spikes whose depth or amplitude differ in any bit; all must be 0,
 * `found` equal, and the lists in the same order.
 *
 * - driftDetectSpikes on random float blocks with planted spikes, 32–384 channels, thresholds 8
 *   and 3 (dense, many ties between neighbouring centres), partial own ranges, the capacity cut,
 *   3 and 6 prototypes; two GPU runs bitwise;
 * - preprocessDriftDetectSpikes (raw int16 → whitened on the device → spikes) against the CPU's
 *   preprocessBatch + driftDetectSpikes, 32 and 384 channels (a full 384 × 67 648 batch);
 * - the engine's driftDetect on a simulated recording: CUDA engine = CPU engine, bitwise.
 *
 * The last test runs without a device too: the engine's dispatch with a fake binding whose fused
 * entry is the CPU's preprocessBatch + driftDetectSpikes (the plumbing: argument shapes, own range,
 * firstSample), so it is checked on every machine that runs this file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchEngine, type DriftDetectRequest, type NativeCudaBinding } from '../../native/lib/index.js';
import type { RawDetectorParams, RawDriftSpikes } from '../../native/lib/binding-drift.js';
import { driftDetectorParams, type DriftDetectorOptions } from '../../native/lib/drift.js';
import { loadCpuBinding } from '../../native/lib/load.js';
import { tmpDir } from '../helpers/tmp.js';
import { driftPrototypes as prototypes, driftTestBatch, gaussian, np1Probe, random } from './gpu-fixture.js';
import { cudaUnderTest, simulatedRun } from './gpu-builders.js';

// device-run.sh sets SPIKESHARD_REQUIRE_CUDA=1 where nvidia-smi lists a GPU: there an unusable
// addon fails these tests instead of skipping them.
const { skip: noDevice, gpu } = cudaUnderTest();
const skip = process.env['SPIKESHARD_REQUIRE_CUDA'] === '1' ? false : noDevice;

const nt0 = 61;
const troughIndex = 19; // nt0min − 1

/** Unit noise with `spikes` planted spikes (trough amplitude 6–30, spread over ~40 µm). */
function spikyBlock(nSamples: number, nChannels: number, spikes: number, seed: number): Float32Array {
  const next = random(seed);
  const probe = np1Probe(nChannels);
  const x = new Float32Array(nSamples * nChannels);
  for (let i = 0; i < x.length; i++) x[i] = gaussian(next);
  for (let k = 0; k < spikes; k++) {
    const t0 = Math.floor(next() * (nSamples - nt0));
    const c0 = Math.floor(next() * nChannels);
    const amplitude = 6 + 24 * next();
    const width = 1.5 + 2 * next();
    for (let c = 0; c < nChannels; c++) {
      const d2 = ((probe.xUm[c] ?? 0) - (probe.xUm[c0] ?? 0)) ** 2 + ((probe.yUm[c] ?? 0) - (probe.yUm[c0] ?? 0)) ** 2;
      if (d2 > 80 ** 2) continue;
      const gain = amplitude * Math.exp(-0.5 * (d2 / 25 ** 2));
      for (let t = 0; t < nt0; t++) {
        const i = (t0 + t) * nChannels + c;
        x[i] = (x[i] ?? 0) - gain * Math.exp(-0.5 * ((t - troughIndex) / width) ** 2);
      }
    }
  }
  return x;
}

interface SpikeComparison {
  cpu: number;
  cuda: number;
  onlyCpu: number;
  onlyCuda: number;
  valueMismatches: number;
  orderDiffers: boolean;
}

/** Detection-set differences (by sample and centre) and bitwise value mismatches on the common spikes. */
function compareSpikes(cpu: RawDriftSpikes, cuda: RawDriftSpikes): SpikeComparison {
  const key = (s: RawDriftSpikes, i: number): string => `${s.samples[i]}:${s.centres[i]}`;
  const index = new Map<string, number>();
  for (let i = 0; i < cuda.samples.length; i++) index.set(key(cuda, i), i);
  let onlyCpu = 0;
  let valueMismatches = 0;
  let orderDiffers = cpu.samples.length !== cuda.samples.length;
  for (let i = 0; i < cpu.samples.length; i++) {
    const j = index.get(key(cpu, i));
    if (j === undefined) {
      onlyCpu++;
      continue;
    }
    if (j !== i) orderDiffers = true;
    if (!Object.is(cpu.depthsUm[i], cuda.depthsUm[j]) || !Object.is(cpu.amplitudes[i], cuda.amplitudes[j])) {
      valueMismatches++;
    }
  }
  const cpuKeys = new Set(Array.from({ length: cpu.samples.length }, (_, i) => key(cpu, i)));
  let onlyCuda = 0;
  for (let i = 0; i < cuda.samples.length; i++) if (!cpuKeys.has(key(cuda, i))) onlyCuda++;
  return { cpu: cpu.samples.length, cuda: cuda.samples.length, onlyCpu, onlyCuda, valueMismatches, orderDiffers };
}

function assertSameSpikes(cpu: RawDriftSpikes, cuda: RawDriftSpikes, label: string): void {
  const c = compareSpikes(cpu, cuda);
  console.log(
    `# ${label}: cpu ${c.cpu} spikes (found ${cpu.found}), cuda ${c.cuda} (found ${cuda.found}); ` +
      `only cpu ${c.onlyCpu}, only cuda ${c.onlyCuda}, value mismatches ${c.valueMismatches}`,
  );
  assert.equal(c.onlyCpu + c.onlyCuda, 0, `${label}: detection sets differ`);
  assert.equal(c.valueMismatches, 0, `${label}: depths or amplitudes differ`);
  assert.equal(c.orderDiffers, false, `${label}: order differs`);
  assert.equal(cuda.found, cpu.found, `${label}: found`);
}

interface Case {
  nChannels: number;
  nSamples: number;
  spikes: number;
  threshold: number;
  nPrototypes: number;
  own?: [number, number];
  capacity?: number;
  /** Channels per centre (default 10). */
  nearest?: number;
}

const cases: Case[] = [
  { nChannels: 32, nSamples: 6000, spikes: 60, threshold: 8, nPrototypes: 3 },
  { nChannels: 32, nSamples: 6000, spikes: 60, threshold: 3, nPrototypes: 3 },
  { nChannels: 96, nSamples: 9000, spikes: 200, threshold: 8, nPrototypes: 6, own: [1000, 8000] },
  { nChannels: 96, nSamples: 9000, spikes: 200, threshold: 3, nPrototypes: 3, capacity: 50 },
  { nChannels: 384, nSamples: 20_000, spikes: 1500, threshold: 8, nPrototypes: 3, own: [1024, 18_976] },
  { nChannels: 384, nSamples: 20_000, spikes: 1500, threshold: 4, nPrototypes: 3 },
  // Partial blocks of the filter kernel: 40 channels (16 per block), odd window-start counts (4 per thread).
  { nChannels: 40, nSamples: 5003, spikes: 80, threshold: 4, nPrototypes: 3, own: [7, 4990] },
  { nChannels: 96, nSamples: 9000, spikes: 200, threshold: 4, nPrototypes: 3, nearest: 16 },
  { nChannels: 96, nSamples: 9000, spikes: 200, threshold: 4, nPrototypes: 3, nearest: 24 },
];

test('driftDetectSpikes: CUDA = CPU on random blocks with planted spikes (32–384 channels)', { skip }, () => {
  const cpuBinding = loadCpuBinding();
  let total = 0;
  cases.forEach((k, n) => {
    const data = spikyBlock(k.nSamples, k.nChannels, k.spikes, 100 + n);
    const probe = np1Probe(k.nChannels);
    const w = prototypes(k.nPrototypes);
    const options: DriftDetectorOptions = { threshold: k.threshold };
    if (k.own) [options.ownBeginSample, options.ownEndSample] = k.own;
    if (k.capacity !== undefined) options.capacity = k.capacity;
    if (k.nearest !== undefined) options.nearestChannels = k.nearest;
    const params: RawDetectorParams = driftDetectorParams(options, k.nSamples);
    const label = `${k.nChannels} ch × ${k.nSamples}, threshold ${k.threshold}, ${k.nPrototypes} prototypes${
      k.own ? `, own ${k.own[0]}–${k.own[1]}` : ''
    }${k.capacity ? `, capacity ${k.capacity}` : ''}${k.nearest ? `, ${k.nearest} channels per centre` : ''}`;
    const cpu = cpuBinding.driftDetectSpikes(data, k.nChannels, probe.xUm, probe.yUm, w, params);
    const cuda = gpu().driftDetectSpikes(data, k.nChannels, probe.xUm, probe.yUm, w, params);
    assertSameSpikes(cpu, cuda, label);
    if (k.capacity) assert.ok(cpu.found > k.capacity, `${label}: the capacity cut was not exercised`);
    const again = gpu().driftDetectSpikes(data, k.nChannels, probe.xUm, probe.yUm, w, params);
    assertSameSpikes(cuda, again, `${label}, two GPU runs`);
    total += cpu.samples.length;
  });
  assert.ok(total > 0, 'no spike detected: the comparison would be empty');
});

test('driftDetectSpikes: CUDA argument errors are the CPU shapes (RangeError)', { skip }, () => {
  const probe = np1Probe(32);
  const data = new Float32Array(32 * 500);
  const params = driftDetectorParams({}, 500);
  assert.throws(
    () => gpu().driftDetectSpikes(data, 32, probe.xUm, probe.yUm, new Float32Array(60), params),
    RangeError,
  );
  assert.throws(
    () => gpu().driftDetectSpikes(data, 32, probe.xUm, probe.yUm, prototypes(3), { ...params, nt0: 300, nt0min: 20 }),
    RangeError,
  );
  // A block shorter than a template: no spikes, as on the CPU.
  const short = gpu().driftDetectSpikes(new Float32Array(32 * 40), 32, probe.xUm, probe.yUm, prototypes(3), {
    ...params,
    ownEndSample: 40,
  });
  assert.equal(short.samples.length, 0);
  assert.equal(short.found, 0);
});

test(
  'preprocessDriftDetectSpikes and its async twin = CPU preprocessBatch + driftDetectSpikes (raw int16, 32 and 384 channels)',
  {
    skip,
  },
  async () => {
    const cpuBinding = loadCpuBinding();
    for (const [nChannels, nSamples, threshold] of [
      [32, 12_000, 6],
      [384, 67_648, 8],
    ] as const) {
      const probe = np1Probe(nChannels);
      const batch = driftTestBatch(nChannels, nSamples, 7 + nChannels);
      const w = prototypes(3);
      const params = driftDetectorParams({ threshold, ownBeginSample: 1024, ownEndSample: nSamples - 1024 }, nSamples);
      const whitened = cpuBinding.preprocessBatch(batch);
      const cpu = cpuBinding.driftDetectSpikes(whitened, nChannels, probe.xUm, probe.yUm, w, params);
      const cuda = gpu().preprocessDriftDetectSpikes(batch, probe.xUm, probe.yUm, w, params);
      assertSameSpikes(cpu, cuda, `fused ${nChannels} ch × ${nSamples}, threshold ${threshold}`);
      const later = await gpu().preprocessDriftDetectSpikesAsync(batch, probe.xUm, probe.yUm, w, params);
      assertSameSpikes(cpu, later, `async fused ${nChannels} ch × ${nSamples}, threshold ${threshold}`);
      assert.ok(cpu.samples.length > 0, `fused ${nChannels} ch: no spike detected`);
    }
  },
);

/** The engine's driftDetect on every batch of a simulated recording, CPU engine vs `engine`. */
async function engineComparison(engine: (cpu: BatchEngine) => BatchEngine): Promise<number> {
  const { dir, cleanup } = tmpDir('spikeshard-gpu-drift-');
  try {
    const { channels, batches, work } = await simulatedRun(dir, 32, 3, 8, 0.05);
    const cpu = new BatchEngine({ threads: 0 });
    const other = engine(cpu);
    let spikes = 0;
    try {
      for (const batch of batches) {
        const req: DriftDetectRequest = { work, batch, channels, wTemp: prototypes(3) };
        const [a, b] = [await cpu.driftDetect(req), await other.driftDetect(req)];
        assert.equal(a.samples.length, b.samples.length, `batch ${batch.index}: spike count`);
        for (const key of ['histogram', 'samples', 'depthsUm', 'amplitudes'] as const) {
          const x = a[key];
          const y = b[key];
          assert.ok(
            Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength)),
            `batch ${batch.index}: ${key} differs`,
          );
        }
        assert.equal(a.depthBins, b.depthBins);
        assert.equal(a.ampBins, b.ampBins);
        spikes += a.samples.length;
      }
    } finally {
      await Promise.all([cpu.close(), other.close()]);
    }
    assert.ok(spikes > 0, 'no drift spike detected: the comparison would be empty');
    return spikes;
  } finally {
    cleanup();
  }
}

test(
  'engine driftDetect: CUDA engine (fused raw → spikes) = CPU engine, bitwise',
  { skip, timeout: 300_000 },
  async () => {
    const spikes = await engineComparison(
      () => new BatchEngine({ threads: 0, backend: { backend: 'cuda', cuda: gpu() } }),
    );
    console.log(`# engine drift detection: ${spikes} spikes, bitwise equal`);
  },
);

test(
  'engine driftDetect dispatch: a CUDA binding with preprocessDriftDetectSpikes gets the raw batch',
  {
    timeout: 300_000,
  },
  async () => {
    // No device needed: the fake's fused entry is the CPU chain, so the results must be the CPU's.
    const cpuBinding = loadCpuBinding();
    let calls = 0;
    const fake = {
      preprocessShiftBatch: (): Float32Array => {
        throw new Error('driftDetect must not download a whitened block when the fused entry exists');
      },
      preprocessDriftDetectSpikes: (
        batch: Parameters<NativeCudaBinding['preprocessDriftDetectSpikes']>[0],
        xUm: Float64Array,
        yUm: Float64Array,
        wTemp: Float32Array,
        params: RawDetectorParams,
      ): RawDriftSpikes => {
        calls++;
        assert.equal(batch.raw.length, batch.nSamples * batch.rowStride);
        const whitened = cpuBinding.preprocessBatch(batch);
        return cpuBinding.driftDetectSpikes(whitened, batch.nChannels, xUm, yUm, wTemp, params);
      },
    };
    await engineComparison(() => new BatchEngine({ threads: 0, backend: { backend: 'cuda', cuda: fake } }));
    assert.ok(calls > 0, 'the fused drift entry was not called');
  },
);

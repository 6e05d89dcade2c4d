// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * `npm run test:gpu`: IBL's waveform path on the device (issues 5 and 7). destripeBatch with
 * kfilter and mute off, and destripeCutWaveforms(+Async), against the CPU binding's destripeBatch +
 * cutWaveforms on the same chunks: a seeded 384-channel NP1.0 chunk (385 columns, a few dead and
 * noisy channels, the ADC shift, the common median reference over all channels) and small odd
 * shapes; then extractIblWaveforms with the device against the CPU path on small simulated
 * recordings: traces files and templates byte-identical. Tolerance: none (bitwise). Skipped
 * without a usable CUDA device.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { extractIblWaveforms } from '../../coordinator/export/ibl-waveforms.js';
import type { SortingResult } from '../../coordinator/formats/sorting-result.js';
import type { NativeDestripeArgs } from '../../native/lib/binding-destripe.js';
import { destripeArgs } from '../../native/lib/destripe.js';
import {
  cudaDestripeBatch,
  cudaDestripeCutWaveforms,
  cudaDestripeCutWaveformsAsync,
} from '../../native/lib/destripe-cuda.js';
import { loadCpuBinding } from '../../native/lib/load.js';
import { ParameterError } from '../../proto/errors.js';
import { makeSortingFixture } from '../helpers/sorting-fixture.js';
import { tmpDir } from '../helpers/tmp.js';
import { cudaUnderTest } from './gpu-builders.js';
import { iblWaveformOptions, random, rawBlock } from './gpu-fixture.js';

const { skip, gpu } = cudaUnderTest();
const cpu = loadCpuBinding();

/** Float32 values that differ bit for bit. */
function mismatches(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  let n = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) n++;
  return n;
}

function np1Labels(nChannels: number): Int32Array {
  const labels = new Int32Array(nChannels);
  for (const c of [5, 120, 121, 300]) if (c < nChannels) labels[c] = 1;
  if (nChannels > 200) labels[200] = 2;
  if (nChannels > 380) labels[nChannels - 1] = 3;
  return labels;
}

/** Random windows (sorted starts) on runs of nRows channels, padded with nChannels past the probe. */
function windows(nSamples: number, nChannels: number, count: number, nRows: number, length: number, seed: number) {
  const next = random(seed);
  const starts = Int32Array.from({ length: count }, () => Math.floor(next() * (nSamples - length))).sort();
  const channels = new Int32Array(count * nRows);
  for (let w = 0; w < count; w++) {
    const first = Math.floor(next() * nChannels);
    for (let r = 0; r < nRows; r++) channels[w * nRows + r] = Math.min(nChannels, first + r);
  }
  return { starts, channels, nRows, length };
}

const cases = [
  { name: '384 channels of 385 columns, NP1.0 shift, reference', nSamples: 32_048, nChannels: 384, rowStride: 385 },
  { name: '7 channels of 9 columns (a partial warp)', nSamples: 300, nChannels: 7, rowStride: 9 },
  { name: '64 channels, no shift and no reference', nSamples: 4_000, nChannels: 64, rowStride: 64, plain: true },
];

for (const k of cases) {
  test(`destripeBatch (kfilter, mute off) on the device, ${k.name}: bitwise the CPU's`, { skip }, () => {
    const raw = rawBlock(k.nSamples, k.nChannels, k.rowStride, 11 + k.nChannels);
    const o = iblWaveformOptions(k.nChannels, np1Labels(k.nChannels), !k.plain, !k.plain);
    const block = { data: raw, nChannels: k.nChannels, rowStride: k.rowStride };
    const onCpu = cpu.destripeBatch(destripeArgs(block, o)).data;
    const onGpu = cudaDestripeBatch(gpu(), block, o).data;
    const n = mismatches(onCpu, onGpu);
    console.log(`# destripe ${k.name}: ${n} of ${onCpu.length} values differ`);
    assert.equal(n, 0);
  });
}

test('destripeCutWaveforms (+Async) on the device: bitwise cutWaveforms of the CPU block', { skip }, async () => {
  const nSamples = 32_048;
  const nChannels = 384;
  const rowStride = 385;
  const raw = rawBlock(nSamples, nChannels, rowStride, 99);
  const o = iblWaveformOptions(nChannels, np1Labels(nChannels));
  const block = { data: raw, nChannels, rowStride };
  const cpuBlock = cpu.destripeBatch(destripeArgs(block, o)).data;
  const w = windows(nSamples, nChannels, 250, 40, 128, 5);
  const expected = new Float32Array(250 * 40 * 128);
  cpu.cutWaveforms({
    block: cpuBlock,
    nSamples,
    nChannels,
    starts: w.starts,
    channels: w.channels,
    nWaves: 250,
    nRows: 40,
    length: 128,
    scale: 1e-6,
    out: expected,
  });
  const sync = cudaDestripeCutWaveforms(gpu(), block, o, w, 1e-6);
  const inFlight = [99, 98].map((seed) =>
    cudaDestripeCutWaveformsAsync(
      gpu(),
      { data: seed === 99 ? raw : rawBlock(nSamples, nChannels, rowStride, seed), nChannels, rowStride },
      o,
      w,
      1e-6,
    ),
  );
  const [fromAsync] = await Promise.all(inFlight);
  const n = mismatches(expected, sync);
  console.log(
    `# destripe cut: ${n} of ${expected.length} values differ (sync), ${mismatches(expected, fromAsync!)} (async)`,
  );
  assert.equal(n, 0);
  assert.equal(mismatches(expected, fromAsync!), 0);
  assert.ok(expected.some((v) => Number.isNaN(v)) && expected.some((v) => v !== 0 && !Number.isNaN(v)));
});

test('destripe on the device: the k-filter or the mute is refused, not silently skipped', { skip }, () => {
  const raw = rawBlock(300, 7, 7, 3);
  const o = iblWaveformOptions(7, new Int32Array(7));
  const args: NativeDestripeArgs = destripeArgs({ data: raw, nChannels: 7 }, o);
  assert.throws(() => gpu().destripeBatch({ ...args, kfilter: true }), RangeError);
  assert.throws(() => gpu().destripeBatch({ ...args, mute: true }), RangeError);
  assert.throws(() => cudaDestripeBatch(gpu(), { data: raw, nChannels: 7 }, { ...o, kfilter: true }), ParameterError);
});

function writeRaw(r: SortingResult, seed: number): void {
  const next = random(seed);
  const data = new Int16Array(r.nSamples * r.nChannelsDat);
  for (let t = 0; t < r.nSamples; t++) {
    const common = 40 * Math.sin(t / 300);
    for (let c = 0; c < r.nChannelsDat; c++) {
      data[t * r.nChannelsDat + c] = Math.round(((c * 37) % 200) - 100 + common + 25 * (next() - 0.5));
    }
  }
  mkdirSync(path.dirname(r.datPath), { recursive: true });
  writeFileSync(r.datPath, data);
}

for (const map of ['identity', 'mapped'] as const) {
  test(
    `extractIblWaveforms on the device (${map} map, NP1.0, bad channels): files byte-identical to the CPU's`,
    { skip },
    async () => {
      const { dir, cleanup } = tmpDir();
      try {
        const fixture = makeSortingFixture({ datPath: path.join(dir, 'raw.ap.bin'), nChannels: 48, nSpikes: 400 });
        fixture.probe.type = 'np1';
        fixture.probe.channelLabels[7] = 1;
        fixture.probe.channelLabels[30] = 2;
        const r: SortingResult =
          map === 'mapped'
            ? fixture
            : { ...fixture, probe: { ...fixture.probe, channelMap: Int32Array.from({ length: 48 }, (_, c) => c) } };
        writeRaw(r, 17);
        const timings: Record<string, number> = {};
        const onCpu = await extractIblWaveforms(r, path.join(dir, 'cpu'), { maxPerCluster: 20 });
        const onGpu = await extractIblWaveforms(r, path.join(dir, 'gpu'), { maxPerCluster: 20, cuda: gpu(), timings });
        console.log(`# destripe extraction (${map}): ${JSON.stringify(timings)}`);
        assert.deepEqual(readFileSync(onGpu.tracesFile), readFileSync(onCpu.tracesFile));
        assert.equal(mismatches(onCpu.templates, onGpu.templates), 0);
        assert.deepEqual(onGpu.table, onCpu.table);
        assert.ok(onCpu.templates.some((v) => v !== 0 && !Number.isNaN(v)));
      } finally {
        cleanup();
      }
    },
  );
}

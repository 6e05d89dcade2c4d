// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * extractIblWaveforms with a device (`cuda` option), here a stand-in that computes the device entry's
 * contract (destripeBatch then cutWaveforms) with the CPU binding, asynchronously: the extraction's
 * pipelining (one chunk in flight, the previous one written meanwhile) must give byte-identical
 * files, and a device error must fail the extraction (no fallback to the CPU). The real device is
 * compared in test/gpu/destripe.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { extractIblWaveforms } from '../../../coordinator/export/ibl-waveforms.js';
import type { SortingResult } from '../../../coordinator/formats/sorting-result.js';
import type { NativeCudaBinding, NativeDestripeCutArgs } from '../../../native/lib/binding-cuda.js';
import { loadCpuBinding } from '../../../native/lib/load.js';
import { makeSortingFixture } from '../../helpers/sorting-fixture.js';
import { tmpDir } from '../../helpers/tmp.js';

type DeviceStandIn = Pick<NativeCudaBinding, 'destripeCutWaveformsAsync'> & { calls: NativeDestripeCutArgs[] };

/** The device entry's contract computed on the CPU, settled on a later turn of the event loop. */
function cpuStandIn(): DeviceStandIn {
  const cpu = loadCpuBinding();
  const calls: NativeDestripeCutArgs[] = [];
  return {
    calls,
    destripeCutWaveformsAsync(args) {
      calls.push(args);
      const block = cpu.destripeBatch(args).data;
      const out = new Float32Array(args.nWaves * args.nRows * args.length);
      cpu.cutWaveforms({ ...args, block, out });
      return new Promise((resolve) => setTimeout(() => resolve(out), 5));
    },
  };
}

function writeRaw(r: SortingResult): void {
  const data = new Int16Array(r.nSamples * r.nChannelsDat);
  for (let t = 0; t < r.nSamples; t++) {
    for (let c = 0; c < r.nChannelsDat; c++) {
      data[t * r.nChannelsDat + c] = ((t * 31 + c * 17) % 400) - 200 + Math.round(80 * Math.sin(t / 7 + c));
    }
  }
  mkdirSync(path.dirname(r.datPath), { recursive: true });
  writeFileSync(r.datPath, data);
}

for (const map of ['mapped', 'identity'] as const) {
  test(`IBL waveforms through a device (${map} channel map): the same files as the CPU path, one call per chunk`, async () => {
    const { dir, cleanup } = tmpDir();
    try {
      const fixture = makeSortingFixture({ datPath: path.join(dir, 'raw.ap.bin'), nSpikes: 120 });
      fixture.probe.type = 'np1'; // the ADC shift on
      const r: SortingResult =
        map === 'mapped'
          ? fixture
          : { ...fixture, probe: { ...fixture.probe, channelMap: Int32Array.from({ length: 8 }, (_, c) => c) } };
      writeRaw(r);
      const options = { maxPerCluster: 6, chunkSamples: 12000 };
      const onCpu = await extractIblWaveforms(r, path.join(dir, 'cpu'), options);
      const device = cpuStandIn();
      const onDevice = await extractIblWaveforms(r, path.join(dir, 'gpu'), { ...options, cuda: device });
      assert.ok(device.calls.length >= 3, `${device.calls.length} device calls`);
      for (const args of device.calls) {
        assert.equal(args.kfilter, false);
        assert.equal(args.mute, false);
        assert.equal(args.rowStride, map === 'identity' ? r.nChannelsDat : r.probe.channelMap.length);
        assert.equal(args.scale, 1e-6);
      }
      assert.deepEqual(readFileSync(onDevice.tracesFile), readFileSync(onCpu.tracesFile));
      assert.deepEqual(onDevice.templates, onCpu.templates);
      assert.deepEqual(onDevice.table, onCpu.table);
      assert.deepEqual(onDevice.channels, onCpu.channels);
      assert.ok(onCpu.templates.some((v) => v !== 0 && !Number.isNaN(v)));
    } finally {
      cleanup();
    }
  });
}

test('IBL waveforms through a device: a device error fails the extraction and leaves no traces file', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const r = makeSortingFixture({ datPath: path.join(dir, 'raw.ap.bin'), nSpikes: 60 });
    writeRaw(r);
    let calls = 0;
    const failing: Pick<NativeCudaBinding, 'destripeCutWaveformsAsync'> = {
      destripeCutWaveformsAsync: () => {
        calls++;
        return Promise.reject(new Error('CUDA error in cudaMemcpyAsync: out of memory'));
      },
    };
    await assert.rejects(
      extractIblWaveforms(r, path.join(dir, 'wf'), { maxPerCluster: 4, chunkSamples: 12000, cuda: failing }),
      /out of memory/,
    );
    assert.ok(calls >= 1);
    assert.equal(existsSync(path.join(dir, 'wf', 'waveforms.traces.npy')), false);
  } finally {
    cleanup();
  }
});

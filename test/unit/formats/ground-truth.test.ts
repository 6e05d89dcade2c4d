// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { readGroundTruth, writeGroundTruth, type GroundTruth } from '../../../coordinator/formats/ground-truth.js';
import { InputError } from '../../../proto/errors.js';
import { tmpDir } from '../../helpers/tmp.js';

function sample(): GroundTruth {
  return {
    sampleRateHz: 30000,
    nSamples: 90000,
    recording: '../rec/sim_g0_t0.imec0.ap.bin',
    probeType: 'np1',
    seed: 3,
    units: [
      {
        id: 0,
        xUm: 20,
        yUm: 100,
        zUm: 15,
        peakChannel: 10,
        snr: 9.5,
        amplitudeUv: 120,
        firingRateHz: 4,
        spikeCount: 2,
      },
      { id: 1, xUm: 40, yUm: 300, zUm: 25, peakChannel: 30, snr: 5.5, amplitudeUv: 70, firingRateHz: 2, spikeCount: 1 },
    ],
    spikeSamples: new Float64Array([100, 2500, 80000]),
    spikeUnits: new Int32Array([0, 1, 0]),
    drift: {
      timesS: new Float64Array([0, 1.5]),
      depthsUm: new Float64Array([0, 500, 1000]),
      um: new Float64Array(6).fill(2),
    },
    generator: { name: 'test' },
  };
}

test('ground truth round-trips through its folder', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const gt = sample();
    writeGroundTruth(path.join(dir, 'gt'), gt);
    const back = readGroundTruth(path.join(dir, 'gt'));
    assert.deepEqual(back, gt);
  } finally {
    cleanup();
  }
});

test('a folder missing a file is refused with the file named', () => {
  const { dir, cleanup } = tmpDir();
  try {
    writeGroundTruth(dir, sample());
    rmSync(path.join(dir, 'spikes.units.npy'));
    assert.throws(
      () => readGroundTruth(dir),
      (e: unknown) => e instanceof InputError && /spikes\.units\.npy is missing/.test(e.message),
    );
    assert.throws(() => readGroundTruth(path.join(dir, 'nope')), /truth\.json is missing/);
  } finally {
    cleanup();
  }
});

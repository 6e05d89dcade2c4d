// SPDX-License-Identifier: GPL-3.0-or-later
/** A sorting that found no units is still exported as valid, empty phy and ALF outputs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeAlf } from '../../../coordinator/export/alf.js';
import { extractIblWaveforms } from '../../../coordinator/export/ibl-waveforms.js';
import { writePhy } from '../../../coordinator/export/phy.js';
import { readNpy } from '../../../coordinator/formats/npy.js';
import type { SortingResult } from '../../../coordinator/formats/sorting-result.js';
import { MemorySpikeFeatures } from '../../../coordinator/formats/spike-features.js';
import { makeSortingFixture } from '../../helpers/sorting-fixture.js';
import { tmpDir } from '../../helpers/tmp.js';

function empty(): SortingResult {
  const r = makeSortingFixture();
  return {
    ...r,
    spikes: {
      samples: new Float64Array(0),
      templates: new Uint32Array(0),
      amplitudes: new Float64Array(0),
      scores: new Float32Array(0),
      features: new MemorySpikeFeatures(0, new Float32Array(0), new Float32Array(0)),
    },
    templates: {
      count: 0,
      waveforms: new Float32Array(0),
      featureInd: new Uint32Array(0),
      pcFeatureInd: new Uint32Array(0),
      similarity: new Float32Array(0),
      thresholds: new Float64Array(0),
      labels: [],
      contamPct: new Float64Array(0),
    },
  };
}

test('no units: phy and ALF files exist with zero rows', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const r = empty();
    writePhy(path.join(dir, 'phy'), r);
    const times = readNpy(path.join(dir, 'phy', 'spike_times.npy'));
    assert.deepEqual(times.shape, [0]);
    const templates = readNpy(path.join(dir, 'phy', 'templates.npy'));
    assert.equal(templates.shape[0], 0);
    const alf = writeAlf(path.join(dir, 'alf'), r, { runId: 'empty' });
    assert.deepEqual(readNpy(path.join(alf, 'spikes.times.npy')).shape, [0]);
    assert.deepEqual(readNpy(path.join(alf, 'clusters.channels.npy')).shape, [0]);
  } finally {
    cleanup();
  }
});

test('no units: IBL waveforms need no raw file and are written with zero rows', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const r = empty(); // its datPath does not exist: nothing is read
    const waveforms = await extractIblWaveforms(r, path.join(dir, 'wf'));
    assert.equal(waveforms.clusterIds.length, 0);
    const alf = writeAlf(path.join(dir, 'alf'), r, { runId: 'e', waveforms });
    assert.deepEqual(readNpy(path.join(alf, 'waveforms.traces.npy')).shape, [0, 256, 8, 128]);
    assert.deepEqual(readNpy(path.join(alf, 'waveforms.templates.npy')).shape, [0, 8, 128]);
  } finally {
    cleanup();
  }
});

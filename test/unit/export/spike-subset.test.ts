// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeAlf } from '../../../coordinator/export/alf.js';
import { SUBSET_SAMPLES, selectSubsetSpikes } from '../../../coordinator/export/spike-subset.js';
import { readNpy } from '../../../coordinator/formats/npy.js';
import type { SortingResult } from '../../../coordinator/formats/sorting-result.js';
import { InputError } from '../../../proto/errors.js';
import { FIXTURE_UV_PER_COUNT, makeSortingFixture } from '../../helpers/sorting-fixture.js';
import { tmpDir } from '../../helpers/tmp.js';

/** A known value for every raw sample and column. */
const rawValue = (sample: number, column: number): number => ((sample * 7 + column * 13) % 2000) - 1000;

function writeRaw(file: string, r: SortingResult): void {
  const data = new Int16Array(r.nSamples * r.nChannelsDat);
  for (let t = 0; t < r.nSamples; t++)
    for (let c = 0; c < r.nChannelsDat; c++) data[t * r.nChannelsDat + c] = rawValue(t, c);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, data);
}

test('subset selection: all spikes of small templates, evenly spread ones of large templates', () => {
  assert.deepEqual(selectSubsetSpikes(Uint32Array.from([0, 0, 0, 0, 0, 1, 1, 0]), 2, 2), [0, 3, 5, 6]);
  assert.deepEqual(selectSubsetSpikes(Uint32Array.from([1, 0, 1]), 3, 5), [0, 1, 2]);
  assert.throws(() => selectSubsetSpikes(Uint32Array.of(0), 1, 0), /maxPerTemplate/);
  assert.throws(() => selectSubsetSpikes(Uint32Array.of(0, 2), 2, 1), /spike 1 .*template below 2/);
});

test('_phy_spikes_subset.*: raw windows on the template channels, in volts, zero outside the file', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const raw = path.join(dir, 'raw', 'rec.ap.bin');
    const r = makeSortingFixture({ datPath: raw, nSpikes: 200 });
    r.spikes.samples[0] = 5; // its window starts 36 samples before the file
    writeRaw(raw, r);
    const alf = writeAlf(path.join(dir, 'alf'), r, { runId: 'sub', spikeSubsetPerTemplate: 4 });
    const spikes = Array.from(readNpy(path.join(alf, '_phy_spikes_subset.spikes.npy')).data as BigInt64Array, Number);
    const T = r.templates.count;
    const perTemplate = Array.from({ length: T }, (_, t) => r.spikes.templates.filter((x) => x === t).length);
    assert.equal(
      spikes.length,
      perTemplate.reduce((s, n) => s + Math.min(n, 4), 0),
    );
    assert.ok(
      spikes.every((s, i) => i === 0 || s > spikes[i - 1]!),
      'ascending',
    );
    const channels = readNpy(path.join(alf, '_phy_spikes_subset.channels.npy'));
    const W = channels.shape[1]!;
    const wfChannels = readNpy(path.join(alf, 'clusters.waveformsChannels.npy')).data as Int32Array;
    const waveforms = readNpy(path.join(alf, '_phy_spikes_subset.waveforms.npy'));
    assert.deepEqual(waveforms.shape, [spikes.length, SUBSET_SAMPLES, W]);
    assert.equal(waveforms.dtype, '<f4');
    const wf = waveforms.data as Float32Array;
    spikes.forEach((s, i) => {
      const t = r.spikes.templates[s]!;
      for (let k = 0; k < W; k++) {
        const c = (channels.data as Int32Array)[i * W + k]!;
        assert.equal(c, wfChannels[t * W + k], 'channels of the template');
        for (const j of [0, 20, 41, 81]) {
          const sample = r.spikes.samples[s]! - 41 + j;
          const want = sample < 0 ? 0 : rawValue(sample, r.probe.channelMap[c]!) * FIXTURE_UV_PER_COUNT * 1e-6;
          assert.equal(wf[(i * SUBSET_SAMPLES + j) * W + k], Math.fround(want), `spike ${s} sample ${j} channel ${c}`);
        }
      }
    });
    assert.ok(spikes.includes(0), 'the spike near the start is in the subset');
  } finally {
    cleanup();
  }
});

test('a missing raw file is refused before anything is written; without the option nothing is read', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const r = makeSortingFixture({ datPath: path.join(dir, 'absent.ap.bin') });
    assert.throws(
      () => writeAlf(path.join(dir, 'alf'), r, { runId: 'x', spikeSubsetPerTemplate: 10 }),
      (e) => e instanceof InputError && /absent\.ap\.bin/.test(e.message),
    );
    assert.ok(!existsSync(path.join(dir, 'alf')));
    const alf = writeAlf(path.join(dir, 'alf'), r, { runId: 'x' });
    assert.ok(!existsSync(path.join(alf, '_phy_spikes_subset.spikes.npy')));
  } finally {
    cleanup();
  }
});

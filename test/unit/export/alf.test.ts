// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { alfProbeCollection, compactIds, writeAlf } from '../../../coordinator/export/alf.js';
import type { SortingResult } from '../../../coordinator/formats/sorting-result.js';
import { ParameterError } from '../../../proto/errors.js';
import {
  assertClose,
  channelPeakToPeak,
  invertMatrix,
  loadChecked,
  loadValues,
  unwhitenedSample,
} from '../../helpers/export-checks.js';
import { FIXTURE_UV_PER_COUNT, editFeatures, makeSortingFixture } from '../../helpers/sorting-fixture.js';
import { tmpDir } from '../../helpers/tmp.js';

const VOLTS_PER_COUNT = FIXTURE_UV_PER_COUNT * 1e-6;

function withAlf(
  fn: (collection: string, r: SortingResult) => void,
  change: (r: SortingResult) => void = () => {},
): void {
  const { dir, cleanup } = tmpDir();
  try {
    const r = makeSortingFixture({ datPath: path.join(dir, 'raw', 'rec_g0_t0.imec0.ap.bin') });
    change(r);
    fn(writeAlf(path.join(dir, 'alf'), r, { runId: 'run-1' }), r);
  } finally {
    cleanup();
  }
}

/** Spike amplitude in V, recomputed: y × max over channels of the unwhitened template's peak-to-peak × V/count. */
function handSpikeVolts(r: SortingResult, s: number, winv: Float64Array): number {
  const t = r.spikes.templates[s]!;
  return r.spikes.amplitudes[s]! * Math.max(...channelPeakToPeak(r, winv, t)) * VOLTS_PER_COUNT;
}

function argmax(values: number[]): number {
  return values.indexOf(Math.max(...values));
}

test('probe labels map to ALF collections', () => {
  assert.equal(alfProbeCollection('imec0'), 'probe00');
  assert.equal(alfProbeCollection('imec1'), 'probe01');
  assert.equal(alfProbeCollection('imec12'), 'probe12');
  assert.equal(alfProbeCollection('imec0b'), 'probe00b');
  assert.equal(alfProbeCollection('probe03'), 'probe03');
  assert.throws(() => alfProbeCollection('nidq'), ParameterError);
});

test('spike ids are uint16 up to 65536 ids, uint32 beyond', () => {
  assert.ok(compactIds(Uint32Array.from([0, 65535]), 65536) instanceof Uint16Array);
  const wide = compactIds(Uint32Array.from([0, 70000]), 70001);
  assert.ok(wide instanceof Uint32Array);
  assert.equal(wide[1], 70000);
});

test('the collection is alf/probe00, or alf/probe00/<sorter>', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const r = makeSortingFixture();
    assert.equal(writeAlf(path.join(dir, 'alf'), r, { runId: 'a' }), path.join(dir, 'alf', 'probe00'));
    const nested = writeAlf(path.join(dir, 'alf2'), r, { runId: 'a', sorter: 'spikeshard' });
    assert.equal(nested, path.join(dir, 'alf2', 'probe00', 'spikeshard'));
    assert.deepEqual(readdirSync(path.join(dir, 'alf2', 'probe00')), ['spikeshard']);
    assert.throws(() => writeAlf(path.join(dir, 'alf3'), r, { runId: 'a', sorter: '../x' }), ParameterError);
  } finally {
    cleanup();
  }
});

test('spikes: times in s, samples, uint16 clusters and templates', () => {
  withAlf((alf, r) => {
    const S = r.spikes.samples.length;
    const times = loadChecked(alf, 'spikes.times.npy', '<f8', [S]).data;
    assert.deepEqual(
      times,
      Float64Array.from(r.spikes.samples, (v) => v / 30000),
    );
    assert.deepEqual(loadValues(alf, 'spikes.samples.npy', '<u8', [S]), Array.from(r.spikes.samples));
    const clusters = loadChecked(alf, 'spikes.clusters.npy', '<u2', [S]).data;
    assert.deepEqual(clusters, Uint16Array.from(r.spikes.templates));
    assert.deepEqual(loadChecked(alf, 'spikes.templates.npy', '<u2', [S]).data, Uint16Array.from(r.spikes.templates));
  });
});

test('spikes.amps: y × peak-to-peak of the unwhitened template × V per count', () => {
  withAlf((alf, r) => {
    const S = r.spikes.samples.length;
    const winv = invertMatrix(r.whitening, 8);
    const amps = loadChecked(alf, 'spikes.amps.npy', '<f4', [S]).data as Float32Array;
    // One spike worked through by hand, then all of them.
    const s = 17;
    const t = r.spikes.templates[s]!;
    const p2p = channelPeakToPeak(r, winv, t);
    const c = argmax(p2p);
    const trace = Array.from({ length: 61 }, (_, i) => unwhitenedSample(r, winv, t, i, c));
    const want = r.spikes.amplitudes[s]! * (Math.max(...trace) - Math.min(...trace)) * 2.34375e-6;
    assert.ok(want > 1e-6 && want < 1e-3, `a plausible spike amplitude in V: ${want}`);
    assert.ok(Math.abs(amps[s]! - want) <= 1e-6 * want, `spikes.amps[${s}] = ${amps[s]}, expected ${want}`);
    assertClose(
      amps,
      Array.from({ length: S }, (_, i) => handSpikeVolts(r, i, winv)),
      1e-6,
      'spikes.amps',
    );
  });
});

test('spikes.depths: a spike with PC1 weight on one channel sits at that channel', () => {
  const K = 3;
  withAlf(
    (alf, r) => {
      const S = r.spikes.samples.length;
      const depths = loadChecked(alf, 'spikes.depths.npy', '<f4', [S]).data as Float32Array;
      const y = (c: number): number => r.probe.localPositionsUm[2 * c + 1]!;
      const t0 = r.spikes.templates[0]!;
      assert.equal(depths[0], y(r.templates.pcFeatureInd[t0 * K + 1]!));
      // No positive PC1 feature: the depth of the template's peak channel.
      const t1 = r.spikes.templates[1]!;
      const peak = argmax(channelPeakToPeak(r, null, t1));
      assert.equal(depths[1], y(peak));
      // The general case: mean of y weighted by max(PC1, 0)².
      const s = 40;
      const t = r.spikes.templates[s]!;
      let num = 0;
      let den = 0;
      const row = r.spikes.features.gather('pc', [s]);
      for (let k = 0; k < K; k++) {
        const w = Math.max(row[k]!, 0) ** 2;
        num += w * y(r.templates.pcFeatureInd[t * K + k]!);
        den += w;
      }
      assert.ok(den > 0);
      assert.ok(Math.abs(depths[s]! - num / den) < 1e-4);
    },
    (r) =>
      editFeatures(r, (_template, pc) => {
        // Spike 0: only the second PC-feature channel has a positive PC1; spike 1: none has.
        for (let k = 0; k < K; k++) {
          pc[0 * 3 * K + k] = k === 1 ? 7 : -3;
          pc[1 * 3 * K + k] = -1;
        }
      }),
  );
});

test('clusters: peak channel, depth, amplitude, peak-to-trough', () => {
  withAlf((alf, r) => {
    const T = r.templates.count;
    const winv = invertMatrix(r.whitening, 8);
    const channels = loadValues(alf, 'clusters.channels.npy', '<i8', [T]);
    const peaks = Array.from({ length: T }, (_, t) => argmax(channelPeakToPeak(r, null, t)));
    assert.deepEqual(channels, peaks);
    assert.deepEqual(channels, [1, 4, 6]); // where the fixture put each unit
    assert.deepEqual(
      loadValues(alf, 'clusters.depths.npy', '<f8', [T]),
      peaks.map((c) => r.probe.localPositionsUm[2 * c + 1]!),
    );
    const meanAmps = Array.from({ length: T }, (_, t) => {
      const own = Array.from(r.spikes.templates.keys()).filter((s) => r.spikes.templates[s] === t);
      return own.reduce((a, s) => a + handSpikeVolts(r, s, winv), 0) / own.length;
    });
    assertClose(
      loadChecked(alf, 'clusters.amps.npy', '<f8', [T]).data as Float64Array,
      meanAmps,
      1e-12,
      'clusters.amps',
    );
    assertClose(
      loadChecked(alf, 'templates.amps.npy', '<f8', [T]).data as Float64Array,
      meanAmps,
      1e-12,
      'templates.amps',
    );
    const p2t = loadValues(alf, 'clusters.peakToTrough.npy', '<f8', [T]);
    for (let t = 0; t < T; t++) {
      const trace = Array.from({ length: 61 }, (_, i) => r.templates.waveforms[(t * 61 + i) * 8 + peaks[t]!]!);
      const want = ((argmax(trace) - trace.indexOf(Math.min(...trace))) / 30000) * 1e3;
      assert.equal(p2t[t], want);
      assert.ok(want > 0, 'the fixture rebound follows the trough');
    }
  });
});

test('waveforms: volts on the nearest channels, after 21 zero samples', () => {
  withAlf((alf, r) => {
    const T = r.templates.count;
    const C = 8;
    const winv = invertMatrix(r.whitening, C);
    const channels = loadValues(alf, 'clusters.waveformsChannels.npy', '<i4', [T, C]);
    assert.deepEqual(loadValues(alf, 'templates.waveformsChannels.npy', '<i4', [T, C]), channels);
    const wf = loadChecked(alf, 'clusters.waveforms.npy', '<f4', [T, 82, C]).data as Float32Array;
    assert.deepEqual(loadChecked(alf, 'templates.waveforms.npy', '<f4', [T, 82, C]).data, wf);
    const pos = r.probe.sortingPositionsUm;
    for (let t = 0; t < T; t++) {
      const mine = channels.slice(t * C, (t + 1) * C);
      const peak = mine[0]!;
      assert.equal(peak, argmax(channelPeakToPeak(r, null, t)));
      const l1 = mine.map(
        (c) => Math.abs(pos[2 * c]! - pos[2 * peak]!) + Math.abs(pos[2 * c + 1]! - pos[2 * peak + 1]!),
      );
      assert.deepEqual(
        l1,
        [...l1].sort((a, b) => a - b),
      );
      assert.deepEqual([...mine].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
      let meanY = 0;
      let n = 0;
      r.spikes.templates.forEach((u, s) => {
        if (u !== t) return;
        meanY += r.spikes.amplitudes[s]!;
        n++;
      });
      meanY /= n;
      for (let k = 0; k < C; k++) {
        for (let i = 0; i < 82; i++) {
          const got = wf[(t * 82 + i) * C + k]!;
          const want = i < 21 ? 0 : meanY * unwhitenedSample(r, winv, t, i - 21, mine[k]!) * VOLTS_PER_COUNT;
          assert.ok(
            Math.abs(got - want) <= 1e-6 * Math.abs(want) + 1e-12,
            `waveforms[${t}, ${i}, ${k}]: ${got} vs ${want}`,
          );
        }
      }
    }
  });
});

test('channels, drift and whitening are copied with their ALF dtypes', () => {
  withAlf((alf, r) => {
    const C = 8;
    const B = r.drift.timesS.length;
    assert.deepEqual(
      loadValues(alf, 'channels.localCoordinates.npy', '<f8', [C, 2]),
      Array.from(r.probe.localPositionsUm),
    );
    assert.deepEqual(loadValues(alf, 'channels.rawInd.npy', '<i8', [C]), Array.from(r.probe.channelMap));
    assert.deepEqual(loadValues(alf, 'channels.labels.npy', '<i1', [C]), Array.from(r.probe.channelLabels));
    assert.deepEqual(loadChecked(alf, 'drift.um.npy', '<f8', [B, 2]).data, r.drift.um);
    assert.deepEqual(loadChecked(alf, 'drift.times.npy', '<f8', [B]).data, r.drift.timesS);
    assert.deepEqual(loadChecked(alf, 'drift_depths.um.npy', '<f8', [1, 2]).data, r.drift.depthsUm);
    assert.deepEqual(loadChecked(alf, '_kilosort_whitening.matrix.npy', '<f8', [C, C]).data, r.whitening);
  });
});

test('text files: KSLabel, params.py relative to the collection, reproducible UUIDs', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const r = makeSortingFixture({ datPath: path.join(dir, 'raw', 'rec.ap.bin') });
    const a = writeAlf(path.join(dir, 'a'), r, { runId: 'run-1' });
    const b = writeAlf(path.join(dir, 'b'), r, { runId: 'run-1' });
    const c = writeAlf(path.join(dir, 'c'), r, { runId: 'run-2' });
    const read = (folder: string, name: string): string => readFileSync(path.join(folder, name), 'utf8');
    assert.equal(read(a, 'cluster_KSLabel.tsv'), 'cluster_id\tKSLabel\n0\tgood\n1\tmua\n2\tgood\n');
    assert.match(read(a, 'params.py'), /^dat_path = '\.\.\/\.\.\/raw\/rec\.ap\.bin'\nn_channels_dat = 10\n/);
    const uuids = read(a, 'clusters.uuids.csv').split('\n');
    assert.equal(uuids[0], 'uuids');
    assert.equal(uuids.length, 1 + 3 + 1);
    for (const u of uuids.slice(1, 4))
      assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(new Set(uuids.slice(1, 4)).size, 3);
    assert.equal(read(b, 'clusters.uuids.csv'), read(a, 'clusters.uuids.csv'));
    assert.notEqual(read(c, 'clusters.uuids.csv'), read(a, 'clusters.uuids.csv'));
  } finally {
    cleanup();
  }
});

test('a template without spikes gets NaN amplitudes and waveforms but a depth', () => {
  withAlf(
    (alf, r) => {
      const amps = loadValues(alf, 'clusters.amps.npy', '<f8', [3]);
      assert.ok(Number.isNaN(amps[2]!) && !Number.isNaN(amps[0]!));
      const wf = loadChecked(alf, 'clusters.waveforms.npy', '<f4', [3, 82, 8]).data as Float32Array;
      assert.ok(wf.subarray(2 * 82 * 8).every(Number.isNaN));
      assert.ok(wf.subarray(0, 2 * 82 * 8).every(Number.isFinite));
      assert.equal(loadValues(alf, 'clusters.depths.npy', '<f8', [3])[2], r.probe.localPositionsUm[2 * 6 + 1]);
    },
    (r) =>
      r.spikes.templates.forEach((t, s) => {
        if (t === 2) r.spikes.templates[s] = 0;
      }),
  );
});

test('with more than 32 channels, waveforms use the 32 nearest, on the peak channel shank first', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const r = makeSortingFixture({ nChannels: 48, nShanks: 2, nSpikes: 60 });
    const alf = writeAlf(path.join(dir, 'alf'), r, { runId: 'x' });
    const channels = loadValues(alf, 'clusters.waveformsChannels.npy', '<i4', [3, 32]);
    const shank = (c: number): number => r.probe.shanks[c]!;
    for (let t = 0; t < 3; t++) {
      const mine = channels.slice(t * 32, (t + 1) * 32);
      const own = mine.filter((c) => shank(c) === shank(mine[0]!)).length;
      assert.equal(own, 24, 'all 24 channels of the peak shank come first');
      assert.ok(mine.slice(0, 24).every((c) => shank(c) === shank(mine[0]!)));
    }
    loadChecked(alf, 'clusters.waveforms.npy', '<f4', [3, 82, 32]);
  } finally {
    cleanup();
  }
});

test('an inconsistent result or an existing collection is refused before writing', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const alfDir = path.join(dir, 'alf');
    const bad = makeSortingFixture();
    bad.templates.contamPct = bad.templates.contamPct.subarray(1);
    assert.throws(() => writeAlf(alfDir, bad, { runId: 'r' }), /templates\.contamPct length/);
    assert.deepEqual(readdirSync(dir), []);
    mkdirSync(path.join(alfDir, 'probe00'), { recursive: true });
    assert.throws(() => writeAlf(alfDir, makeSortingFixture(), { runId: 'r' }), ParameterError);
    assert.deepEqual(readdirSync(path.join(alfDir, 'probe00')), []);
    writeAlf(alfDir, makeSortingFixture(), { runId: 'r', overwrite: true });
    assert.ok(readdirSync(path.join(alfDir, 'probe00')).includes('spikes.times.npy'));
    assert.deepEqual(readdirSync(alfDir), ['probe00']);
  } finally {
    cleanup();
  }
});

// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writePhy } from '../../../coordinator/export/phy.js';
import { ParameterError } from '../../../proto/errors.js';
import { assertClose, channelPeakToPeak, invertMatrix, loadChecked, loadValues } from '../../helpers/export-checks.js';
import { writeRecord } from '../../../coordinator/formats/record.js';
import {
  MemorySpikeFeatures,
  RecordSpikeFeatures,
  SelectedSpikeFeatures,
  featurePartOf,
} from '../../../coordinator/formats/spike-features.js';
import { allRows, makeSortingFixture } from '../../helpers/sorting-fixture.js';
import { tmpDir } from '../../helpers/tmp.js';

function withPhy(fn: (phy: string, root: string, result: ReturnType<typeof makeSortingFixture>) => void): void {
  const { dir, cleanup } = tmpDir();
  try {
    const result = makeSortingFixture({ datPath: path.join(dir, 'raw', 'rec_g0_t0.imec0.ap.bin') });
    const phy = path.join(dir, 'phy');
    writePhy(phy, result);
    fn(phy, dir, result);
  } finally {
    cleanup();
  }
}

test('spike files hold the samples, template ids and amplitudes', () => {
  withPhy((phy, _root, r) => {
    const S = r.spikes.samples.length;
    const times = loadChecked(phy, 'spike_times.npy', '<u8', [S]).data as BigUint64Array;
    assert.deepEqual(Array.from(times, Number), Array.from(r.spikes.samples));
    assert.deepEqual(loadChecked(phy, 'spike_templates.npy', '<u4', [S]).data, r.spikes.templates);
    assert.deepEqual(loadChecked(phy, 'spike_clusters.npy', '<u4', [S]).data, r.spikes.templates);
    assert.deepEqual(loadChecked(phy, 'amplitudes.npy', '<f8', [S]).data, r.spikes.amplitudes);
  });
});

test('feature files streamed from checkpoint records through a selection have the bytes of in-memory ones', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const r = makeSortingFixture({ datPath: path.join(dir, 'raw', 'rec_g0_t0.imec0.ap.bin') });
    const S = r.spikes.samples.length;
    const K = r.nFeatures;
    const template = allRows(r.spikes.features, 'template');
    const pc = allRows(r.spikes.features, 'pc');
    // The engine's spikes: every third one is a duplicate (junk rows, dropped by the selection);
    // its template rows are nSimilar = K − 1 wide, so the selection pads them back to K with zeros.
    const nEngine = S + Math.floor(S / 2);
    const keep = new Uint8Array(nEngine);
    const engineTemplate = new Float32Array(nEngine * (K - 1)).fill(99);
    const enginePc = new Float32Array(nEngine * 3 * K).fill(-99);
    for (let i = 0, s = 0; i < nEngine; i++) {
      if (i % 3 === 2 || s === S) continue;
      keep[i] = 1;
      template.fill(0, s * K + K - 1, (s + 1) * K);
      engineTemplate.set(template.subarray(s * K, s * K + K - 1), i * (K - 1));
      enginePc.set(pc.subarray(s * 3 * K, (s + 1) * 3 * K), i * 3 * K);
      s++;
    }
    assert.equal(
      keep.reduce((a, b) => a + b, 0),
      S,
    );
    r.spikes.features = new MemorySpikeFeatures(S, template, pc);
    writePhy(path.join(dir, 'memory'), r);
    // Batches of uneven sizes, one empty, as extraction writes them.
    const counts = [7, 0, 50, nEngine - 57];
    let first = 0;
    const parts = counts.map((count, b) => {
      const file = path.join(dir, `batch-${b}.rec`);
      writeRecord(file, 'extraction/batch', {
        templateFeatures: engineTemplate.slice(first * (K - 1), (first + count) * (K - 1)),
        pcFeatures: enginePc.slice(first * 3 * K, (first + count) * 3 * K),
      });
      first += count;
      return featurePartOf(file, count);
    });
    const records = new RecordSpikeFeatures(parts, { template: K - 1, pc: 3 * K });
    r.spikes.features = new SelectedSpikeFeatures(records, keep, K);
    try {
      writePhy(path.join(dir, 'records'), r);
    } finally {
      r.spikes.features.close();
    }
    for (const name of ['template_features.npy', 'pc_features.npy']) {
      const bytes = readFileSync(path.join(dir, 'records', name));
      assert.ok(bytes.length > S * K * 4, name);
      assert.deepEqual(bytes, readFileSync(path.join(dir, 'memory', name)), name);
    }
  } finally {
    cleanup();
  }
});

test('templates.npy has 21 zero samples, then the 61-sample template', () => {
  withPhy((phy, _root, r) => {
    const T = r.templates.count;
    const C = r.probe.channelMap.length;
    const data = loadChecked(phy, 'templates.npy', '<f4', [T, 82, C]).data as Float32Array;
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < 82; i++) {
        for (let c = 0; c < C; c++) {
          const want = i < 21 ? 0 : r.templates.waveforms[(t * r.nt0 + i - 21) * C + c]!;
          assert.equal(data[(t * 82 + i) * C + c], want, `templates[${t}, ${i}, ${c}]`);
        }
      }
    }
    // The trough sits at the centre of the 82-sample window.
    const peak = 4;
    const trace = Array.from({ length: 82 }, (_, i) => data[(1 * 82 + i) * C + peak]!);
    assert.equal(trace.indexOf(Math.min(...trace)), 41);
    const ind = loadChecked(phy, 'templates_ind.npy', '<i8', [T, C]).data as BigInt64Array;
    for (let t = 0; t < T; t++)
      assert.deepEqual(Array.from(ind.subarray(t * C, (t + 1) * C), Number), [0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

test('feature files keep their values and layouts', () => {
  withPhy((phy, _root, r) => {
    const S = r.spikes.samples.length;
    const T = r.templates.count;
    const K = r.nFeatures;
    assert.deepEqual(
      loadChecked(phy, 'template_features.npy', '<f4', [S, K]).data,
      allRows(r.spikes.features, 'template'),
    );
    assert.deepEqual(loadChecked(phy, 'template_feature_ind.npy', '<u4', [T, K]).data, r.templates.featureInd);
    assert.deepEqual(loadChecked(phy, 'pc_features.npy', '<f4', [S, 3, K]).data, allRows(r.spikes.features, 'pc'));
    assert.deepEqual(loadChecked(phy, 'pc_feature_ind.npy', '<u4', [T, K]).data, r.templates.pcFeatureInd);
    assert.deepEqual(loadChecked(phy, 'spike_pc_components.npy', '<f4', [61, 3]).data, r.pcBasis);
    assert.deepEqual(loadChecked(phy, 'similar_templates.npy', '<f4', [T, T]).data, r.templates.similarity);
    assert.deepEqual(loadChecked(phy, 'thresholds.npy', '<f8', [T]).data, r.templates.thresholds);
  });
});

test('whitening_mat_inv is the inverse of whitening_mat', () => {
  withPhy((phy, _root, r) => {
    const C = r.probe.channelMap.length;
    const w = loadChecked(phy, 'whitening_mat.npy', '<f8', [C, C]).data as Float64Array;
    assert.deepEqual(w, r.whitening);
    const winv = loadChecked(phy, 'whitening_mat_inv.npy', '<f8', [C, C]).data as Float64Array;
    assertClose(winv, invertMatrix(w, C), 1e-12, 'whitening_mat_inv');
  });
});

test('channel files: raw indices, per-shank positions, shanks and labels', () => {
  withPhy((phy, _root, r) => {
    const C = r.probe.channelMap.length;
    assert.deepEqual(loadValues(phy, 'channel_map.npy', '<i4', [C]), [0, 1, 2, 3, 5, 6, 7, 8]);
    assert.deepEqual(loadValues(phy, 'channel_positions.npy', '<f4', [C, 2]), Array.from(r.probe.localPositionsUm));
    assert.deepEqual(loadValues(phy, 'channel_shanks.npy', '<i1', [C]), Array.from(r.probe.shanks));
    assert.deepEqual(loadValues(phy, 'channel_labels.npy', '<i1', [C]), Array.from(r.probe.channelLabels));
  });
});

test('drift files: (B, blocks) shifts, (1, blocks) depths, (B,) times', () => {
  withPhy((phy, _root, r) => {
    const B = r.drift.timesS.length;
    assert.deepEqual(loadChecked(phy, 'drift.um.npy', '<f8', [B, 2]).data, r.drift.um);
    assert.deepEqual(loadChecked(phy, 'drift_depths.um.npy', '<f8', [1, 2]).data, r.drift.depthsUm);
    assert.deepEqual(loadChecked(phy, 'drift.times.npy', '<f8', [B]).data, r.drift.timesS);
  });
});

test('cluster TSVs: headers, labels, contamination (NaN → 100) and amplitudes in counts', () => {
  withPhy((phy, _root, r) => {
    const read = (name: string): string[] => readFileSync(path.join(phy, name), 'utf8').split('\n');
    assert.deepEqual(read('cluster_KSLabel.tsv'), ['cluster_id\tKSLabel', '0\tgood', '1\tmua', '2\tgood', '']);
    assert.deepEqual(read('cluster_group.tsv'), ['cluster_id\tgroup', '0\tgood', '1\tmua', '2\tgood', '']);
    const contam = read('cluster_ContamPct.tsv');
    assert.equal(contam[0], 'cluster_id\tContamPct');
    assert.equal(contam[1], `0\t${r.templates.contamPct[0]!.toFixed(1)}`);
    assert.equal(contam[3], '2\t100.0');

    const C = r.probe.channelMap.length;
    const winv = invertMatrix(r.whitening, C);
    const amp = read('cluster_Amplitude.tsv');
    assert.equal(amp[0], 'cluster_id\tAmplitude');
    for (let t = 0; t < r.templates.count; t++) {
      const p2p = Math.max(...channelPeakToPeak(r, winv, t));
      let sum = 0;
      let n = 0;
      r.spikes.templates.forEach((u, s) => {
        if (u !== t) return;
        sum += r.spikes.amplitudes[s]! * p2p;
        n++;
      });
      assert.equal(amp[t + 1], `${t}\t${(sum / n).toFixed(1)}`);
    }
  });
});

test('params.py points at the raw file relative to the phy folder', () => {
  withPhy((phy) => {
    assert.equal(
      readFileSync(path.join(phy, 'params.py'), 'utf8'),
      [
        "dat_path = '../raw/rec_g0_t0.imec0.ap.bin'",
        'n_channels_dat = 10',
        "dtype = 'int16'",
        'offset = 0',
        'sample_rate = 30000.0',
        'hp_filtered = False',
        'template_scaling = 20.0',
        '',
      ].join('\n'),
    );
  });
});

test('the folder holds exactly the documented files and nothing is left beside it', () => {
  withPhy((phy, root) => {
    assert.deepEqual(readdirSync(phy).sort(), [
      'amplitudes.npy',
      'channel_labels.npy',
      'channel_map.npy',
      'channel_positions.npy',
      'channel_shanks.npy',
      'cluster_Amplitude.tsv',
      'cluster_ContamPct.tsv',
      'cluster_KSLabel.tsv',
      'cluster_group.tsv',
      'drift.times.npy',
      'drift.um.npy',
      'drift_depths.um.npy',
      'params.py',
      'pc_feature_ind.npy',
      'pc_features.npy',
      'similar_templates.npy',
      'spike_clusters.npy',
      'spike_pc_components.npy',
      'spike_templates.npy',
      'spike_times.npy',
      'template_feature_ind.npy',
      'template_features.npy',
      'templates.npy',
      'templates_ind.npy',
      'thresholds.npy',
      'whitening_mat.npy',
      'whitening_mat_inv.npy',
    ]);
    assert.deepEqual(readdirSync(root), ['phy']);
  });
});

test('an inconsistent result is refused before anything is written', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const cases: [string, (r: ReturnType<typeof makeSortingFixture>) => void, RegExp][] = [
      [
        'short spike templates',
        (r) => (r.spikes.templates = r.spikes.templates.subarray(1)),
        /spikes\.templates length/,
      ],
      [
        'narrow pc features',
        (r) => {
          const S = r.spikes.samples.length;
          const template = allRows(r.spikes.features, 'template');
          r.spikes.features = new MemorySpikeFeatures(S, template, new Float32Array(S * (3 * r.nFeatures - 1)));
        },
        /spikes\.features\.width\('pc'\)/,
      ],
      [
        'features of fewer spikes',
        (r) =>
          (r.spikes.features = new MemorySpikeFeatures(
            r.spikes.samples.length - 1,
            new Float32Array(0),
            new Float32Array(0),
          )),
        /spikes\.features\.nSpikes/,
      ],
      ['template id out of range', (r) => (r.spikes.templates[7] = 3), /spikes\.templates\[7\]/],
      ['channel index out of range', (r) => (r.templates.pcFeatureInd[2] = 8), /templates\.pcFeatureInd\[2\]/],
      ['unsorted samples', (r) => (r.spikes.samples[5] = 0), /spikes\.samples\[5\].*ascending/],
      ['wrong whitening size', (r) => (r.whitening = new Float64Array(63)), /whitening length.*C·C = 64/],
      ['drift rows', (r) => (r.drift.timesS = r.drift.timesS.subarray(1)), /drift\.um length/],
    ];
    for (const [what, spoil, message] of cases) {
      const r = makeSortingFixture();
      spoil(r);
      const target = path.join(dir, 'phy');
      assert.throws(
        () => writePhy(target, r),
        (e: unknown) => e instanceof RangeError && message.test(e.message),
        what,
      );
      assert.deepEqual(readdirSync(dir), [], `${what}: nothing written`);
    }
  } finally {
    cleanup();
  }
});

test('an existing folder is refused unless overwrite is set, then replaced whole', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const phy = path.join(dir, 'phy');
    mkdirSync(phy);
    writeFileSync(path.join(phy, 'stale.txt'), 'old');
    assert.throws(() => writePhy(phy, makeSortingFixture()), ParameterError);
    assert.deepEqual(readdirSync(phy), ['stale.txt']);
    writePhy(phy, makeSortingFixture(), { overwrite: true });
    assert.ok(!existsSync(path.join(phy, 'stale.txt')));
    assert.ok(existsSync(path.join(phy, 'params.py')));
    assert.deepEqual(readdirSync(dir), ['phy']);
  } finally {
    cleanup();
  }
});

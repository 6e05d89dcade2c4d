// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  parsePythonAssignments,
  readTestedSorting,
  resolveTruthDir,
  scoreSorting,
} from '../../../coordinator/compare/index.js';
import { writeGroundTruth } from '../../../coordinator/formats/ground-truth.js';
import { writeNpy } from '../../../coordinator/formats/npy.js';
import { InputError } from '../../../proto/errors.js';
import { tmpDir } from '../../helpers/tmp.js';
import { makeTruth, regular, writeAlf, writePhy, writeSimulateOutput, type Spikes } from './fixtures.js';

const spikes: Spikes = [
  [300, 4],
  [100, 2],
  [200, 4],
  [400, 9],
];

function withTmp(body: (dir: string) => void): void {
  const { dir, cleanup } = tmpDir();
  try {
    body(dir);
  } finally {
    cleanup();
  }
}

/** Asserts an InputError whose message names `where` and `what`. */
function assertInputError(fn: () => unknown, where: string, what: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    assert.ok(err.message.includes(where), `"${err.message}" should name ${where}`);
    assert.match(err.message, what);
    return true;
  });
}

test('params.py assignments are parsed without executing them', () => {
  const params = parsePythonAssignments(
    [
      'import os',
      "dat_path = r'C:\\data\\x.bin'  # raw",
      'n_channels_dat = 385',
      'sample_rate = 30000.  # Hz',
      'hp_filtered = True',
      "dtype = 'int16'",
      'name = "a # b"',
    ].join('\r\n'),
  );
  assert.equal(params.get('sample_rate'), '30000.');
  assert.equal(params.get('dat_path'), 'C:\\data\\x.bin');
  assert.equal(params.get('dtype'), 'int16');
  assert.equal(params.get('name'), 'a # b');
  assert.equal(params.has('import os'), false);
});

test('reads a phy folder: samples, clusters, sample rate and KSLabel labels (CRLF)', () => {
  withTmp((dir) => {
    writePhy(dir, spikes, {
      sampleRateHz: 25000,
      labels: new Map([
        [2, 'good'],
        [4, 'mua'],
        [7, 'good'], // a cluster without spikes: ignored
      ]),
    });
    const s = readTestedSorting(dir);
    assert.equal(s.format, 'phy');
    assert.equal(s.sampleRateHz, 25000);
    assert.deepEqual([...s.spikeSamples], [100, 200, 300, 400]);
    assert.deepEqual([...s.spikeClusters], [2, 4, 4, 9]);
    assert.deepEqual(s.clusterIds, [2, 4, 9]);
    assert.deepEqual(s.labels, ['good', 'mua', null]);
    assert.equal(s.labelSource, 'cluster_KSLabel.tsv');
  });
});

test('phy: cluster_group.tsv wins over cluster_KSLabel.tsv, with either header; spike_templates.npy stands in', () => {
  withTmp((dir) => {
    writePhy(dir, spikes, { labels: new Map([[2, 'mua']]) });
    writePhy(dir, spikes, { labels: new Map([[2, 'noise']]), labelFile: 'cluster_group.tsv' });
    assert.deepEqual(readTestedSorting(dir).labels, ['noise', null, null]);
    // Kilosort 2.5 MATLAB's cluster_group.tsv keeps the KSLabel header.
    writePhy(dir, spikes, { labels: new Map([[4, 'good']]), labelFile: 'cluster_group.tsv', labelColumn: 'KSLabel' });
    const s = readTestedSorting(dir);
    assert.deepEqual(s.labels, [null, 'good', null]);
    assert.equal(s.labelSource, 'cluster_group.tsv');
  });
  withTmp((dir) => {
    writePhy(dir, spikes, { templatesOnly: true });
    const s = readTestedSorting(dir);
    assert.deepEqual(s.clusterIds, [2, 4, 9]);
    assert.equal(s.labelSource, null);
    assert.deepEqual(s.labels, [null, null, null]);
  });
});

test('phy: int64, float and (S, 1) spike times are accepted; floats are truncated', () => {
  withTmp((dir) => {
    writePhy(dir, spikes);
    writeNpy(path.join(dir, 'spike_times.npy'), Float64Array.from([100.9, 200, 300.2, 400.5]), [4, 1]);
    assert.deepEqual([...readTestedSorting(dir).spikeSamples], [100, 200, 300, 400]);
    writeNpy(path.join(dir, 'spike_times.npy'), BigInt64Array.from([-5n, 2n, 3n, 2n ** 40n + 3n]));
    assert.deepEqual([...readTestedSorting(dir).spikeSamples], [-5, 2, 3, 2 ** 40 + 3]);
    writeNpy(path.join(dir, 'spike_times.npy'), BigUint64Array.from([1n, 2n ** 33n, 3n, 2n ** 53n + 1n]));
    assertInputError(() => readTestedSorting(dir), 'spike_times.npy', /9007199254740993 at index 3 is too large/);
  });
});

test('phy: missing files and bad contents are InputErrors naming the folder or file', () => {
  withTmp((dir) => {
    writePhy(dir, spikes);
    rmSync(path.join(dir, 'params.py'));
    assertInputError(() => readTestedSorting(dir), dir, /params\.py is missing/);
  });
  withTmp((dir) => {
    writePhy(dir, spikes);
    rmSync(path.join(dir, 'spike_clusters.npy'));
    assertInputError(() => readTestedSorting(dir), dir, /spike_clusters\.npy and spike_templates\.npy/);
  });
  withTmp((dir) => {
    writePhy(dir, spikes);
    rmSync(path.join(dir, 'spike_times.npy'));
    assertInputError(() => readTestedSorting(dir), dir, /spike_times\.npy is missing/);
  });
  withTmp((dir) => {
    writePhy(dir, spikes);
    writeFileSync(path.join(dir, 'params.py'), "dtype = 'int16'\n");
    assertInputError(() => readTestedSorting(dir), 'params.py', /sample_rate is not assigned/);
  });
  withTmp((dir) => {
    writePhy(dir, spikes);
    writeNpy(path.join(dir, 'spike_clusters.npy'), Uint32Array.from([1, 2]));
    assertInputError(() => readTestedSorting(dir), 'spike_clusters.npy', /2 cluster ids for 4 spike times/);
  });
  withTmp((dir) => {
    writePhy(dir, spikes);
    writeFileSync(path.join(dir, 'cluster_KSLabel.tsv'), 'id\tlabel\n1\tgood\n');
    assertInputError(() => readTestedSorting(dir), 'cluster_KSLabel.tsv', /cluster_id and KSLabel/);
  });
});

test('reads an ALF collection from spikes.samples.npy, or spikes.times.npy × the sample rate', () => {
  withTmp((dir) => {
    writeAlf(dir, spikes, { labels: new Map([[9, 'good']]) });
    const s = readTestedSorting(dir);
    assert.equal(s.format, 'alf');
    assert.equal(s.sampleRateHz, null);
    assert.deepEqual([...s.spikeSamples], [100, 200, 300, 400]);
    assert.deepEqual(s.clusterIds, [2, 4, 9]);
    assert.deepEqual(s.labels, [null, null, 'good']);
    assert.equal(s.samplesSource, 'spikes.samples.npy');
  });
  withTmp((dir) => {
    writeAlf(dir, spikes, { timesHz: 30000 });
    const s = readTestedSorting(dir, { fallbackSampleRateHz: 30000 });
    assert.deepEqual([...s.spikeSamples], [100, 200, 300, 400]);
    assert.match(s.samplesSource, /spikes\.times\.npy × 30000 Hz/);
    assert.equal(s.labelSource, null);
    assert.deepEqual(s.labels, [null, null, null]);
  });
  withTmp((dir) => {
    writeAlf(dir, spikes);
    rmSync(path.join(dir, 'spikes.samples.npy'));
    assertInputError(() => readTestedSorting(dir), dir, /spikes\.samples\.npy and spikes\.times\.npy/);
  });
  withTmp((dir) => {
    writeAlf(dir, spikes);
    rmSync(path.join(dir, 'spikes.clusters.npy'));
    assertInputError(() => readTestedSorting(dir), dir, /spikes\.clusters\.npy is missing/);
  });
});

test('a folder that is neither phy nor ALF, or both, is refused with the files expected', () => {
  withTmp((dir) => {
    writeFileSync(path.join(dir, 'readme.txt'), 'hello');
    assertInputError(() => readTestedSorting(dir), dir, /neither a phy folder \(spike_times\.npy.*nor an ALF/);
    assertInputError(() => readTestedSorting(path.join(dir, 'nope')), 'nope', /no such folder/);
    writePhy(dir, spikes);
    writeAlf(dir, spikes);
    assertInputError(() => readTestedSorting(dir), dir, /both phy files .* and ALF files/);
    assert.equal(readTestedSorting(dir, { format: 'alf' }).format, 'alf');
  });
});

test('GT_DIR: a truth folder, or a simulate output with one or several ground_truth/<probe>', () => {
  withTmp((dir) => {
    const truth = makeTruth([{ id: 0, snr: 6 }], regular(0, 100, 3));
    const direct = path.join(dir, 'truth');
    writeGroundTruth(direct, truth);
    assert.equal(resolveTruthDir(direct), direct);

    const sim = path.join(dir, 'sim');
    const imec0 = writeSimulateOutput(sim, 'imec0', truth);
    assert.equal(resolveTruthDir(sim), imec0);
    const imec1 = writeSimulateOutput(sim, 'imec1', truth);
    assertInputError(
      () => resolveTruthDir(sim),
      'ground_truth',
      /2 ground truths \(imec0, imec1\); choose one with --probe/,
    );
    assert.equal(resolveTruthDir(sim, 'imec1'), imec1);
    assertInputError(() => resolveTruthDir(sim, 'imec7'), 'ground_truth', /one of imec0, imec1/);

    const empty = path.join(dir, 'empty');
    mkdirSync(empty);
    assertInputError(() => resolveTruthDir(empty), empty, /truth\.json, or ground_truth\/<probe>\/truth\.json/);
  });
});

test('scoreSorting: phy sample rate must agree with the truth; good-only summary from labels', () => {
  withTmp((dir) => {
    const gtSpikes: Spikes = [...regular(0, 100, 20), ...regular(1, 400, 20)];
    writeGroundTruth(
      path.join(dir, 'gt'),
      makeTruth(
        [
          { id: 0, snr: 10 },
          { id: 1, snr: 4 },
        ],
        gtSpikes,
      ),
    );
    // Cluster 3 = GT 0 exactly (good); cluster 5 = GT 1 exactly (mua); cluster 8 = noise (good).
    const tested: Spikes = [...regular(3, 100, 20), ...regular(5, 400, 20), ...regular(8, 700, 5)];
    const labels = new Map([
      [3, 'good'],
      [5, 'mua'],
      [8, 'good'],
    ]);
    writePhy(path.join(dir, 'phy'), tested, { labels });
    const r = scoreSorting({ gtDir: path.join(dir, 'gt'), sortingDir: path.join(dir, 'phy') });
    assert.equal(r.summary.all.nWellDetected, 2);
    assert.equal(r.summary.tested.nFalsePositive, 1);
    assert.equal(r.sorting.nGoodUnits, 2);
    assert.ok(r.goodOnly);
    assert.equal(r.goodOnly.all.nWellDetected, 1);
    assert.equal(r.goodOnly.tested.nTestedUnits, 2);
    assert.equal(r.goodOnly.tested.nFalsePositive, 1);
    assert.deepEqual(
      r.goodOnly.bySnr.map((b) => b.nWellDetected),
      [0, 0, 1],
    );
    assert.deepEqual(
      r.testedUnits.map((u) => [u.id, u.label, u.category]),
      [
        [3, 'good', 'well detected'],
        [5, 'mua', 'well detected'],
        [8, 'good', 'false positive'],
      ],
    );

    writePhy(path.join(dir, 'phy'), tested, { labels, sampleRateHz: 25000 });
    assertInputError(
      () => scoreSorting({ gtDir: path.join(dir, 'gt'), sortingDir: path.join(dir, 'phy') }),
      'params.py',
      /the ground truth's 30000 Hz/,
    );
  });
});

// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { writeFolderStaged } from '../../../coordinator/export/staged-folder.js';
import {
  clusterTsv,
  clusterUuids,
  datPathFrom,
  fixed1,
  pythonFloat,
  pythonString,
  uuid5,
} from '../../../coordinator/export/text-files.js';
import { hasNumpy, python } from '../../helpers/python.js';
import { tmpDir } from '../../helpers/tmp.js';

test('Python literals: strings are escaped, floats keep a decimal point', () => {
  assert.equal(pythonString("it's a\\b\n"), "'it\\'s a\\\\b\\n'");
  assert.equal(pythonString('µm\x01'), "'µm\\x01'");
  assert.equal(pythonFloat(30000), '30000.0');
  assert.equal(pythonFloat(29999.5), '29999.5');
  assert.equal(pythonFloat(2.5e-7), '2.5e-7');
  assert.throws(() => pythonFloat(NaN), RangeError);
});

test('dat_path is relative to the folder when it can be', () => {
  assert.equal(datPathFrom('/data/run/phy', '/data/rec/a.ap.bin'), '../../rec/a.ap.bin');
  assert.equal(datPathFrom('/data/phy', '/data/phy/a.ap.bin'), 'a.ap.bin');
  assert.equal(datPathFrom(process.cwd(), 'x/a.ap.bin'), 'x/a.ap.bin');
});

test('cluster TSVs and %.1f formatting', () => {
  assert.equal(clusterTsv('KSLabel', ['good', 'mua']), 'cluster_id\tKSLabel\n0\tgood\n1\tmua\n');
  assert.equal(fixed1(12.345), '12.3');
  assert.equal(fixed1(NaN), 'nan');
});

test('uuid5 matches RFC 4122 (the Python documentation example)', () => {
  // uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org')
  assert.equal(uuid5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org'), '886313e1-3b8a-5372-9b90-0c9aee199e5d');
  assert.deepEqual(clusterUuids('r', 'probe00', 2), clusterUuids('r', 'probe00', 2));
  assert.notDeepEqual(clusterUuids('r', 'probe00', 2), clusterUuids('r', 'probe01', 2));
});

test('cluster UUIDs are uuid5 of run/collection/index', { skip: !hasNumpy() && 'python3 not available' }, () => {
  const theirs = python(
    [
      'import uuid',
      "ns = uuid.uuid5(uuid.NAMESPACE_URL, 'https://spikeshard/alf/clusters')",
      "print(' '.join(str(uuid.uuid5(ns, f'run-7/probe01/{j}')) for j in range(3)))",
    ].join('\n'),
  );
  assert.deepEqual(clusterUuids('run-7', 'probe01', 3), theirs.trim().split(' '));
});

test('a failing fill leaves neither the target nor the staging folder', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const target = path.join(dir, 'out');
    assert.throws(
      () =>
        writeFolderStaged(target, {}, (staging) => {
          assert.ok(path.basename(staging).startsWith('.out.partial-'));
          throw new Error('disk full');
        }),
      /disk full/,
    );
    assert.ok(!existsSync(target));
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    cleanup();
  }
});

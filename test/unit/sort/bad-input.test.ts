// SPDX-License-Identifier: GPL-3.0-or-later
/** `spikeshard sort` on inputs it cannot sort as asked: clear errors, or valid empty outputs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { readNpy } from '../../../coordinator/formats/npy.js';
import { checkAlfWaveforms } from '../../helpers/alf-waveforms.js';
import { runCli } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';

test('a recording without spikes sorts to valid, empty outputs and says so', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const sim = path.join(dir, 'sim');
    const s = runCli(['simulate', sim, '--channels', '32', '--seconds', '6', '--units', '0', '--hash-units', '0']);
    assert.equal(s.status, 0, s.stderr);
    const r = runCli(['sort', sim, '--out', path.join(dir, 'out')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /no units found on imec0/);
    assert.match(r.stdout, /imec0: 0 clusters \(0 good\), 0 spikes/);
    assert.deepEqual(readNpy(path.join(dir, 'out', 'imec0', 'phy', 'spike_times.npy')).shape, [0]);
    assert.ok(existsSync(path.join(dir, 'out', 'alf', 'probe00', 'spikes.times.npy')));
    // IBL's waveform datasets are there, valid and empty: zero clusters (docs/outputs.md).
    const w = await checkAlfWaveforms(path.join(dir, 'out', 'alf', 'probe00'), 256, 6 * 30_000);
    assert.deepEqual([w.clusters, w.extracted], [0, 0]);
  } finally {
    cleanup();
  }
});

test(
  'out-of-range parameters and a too-short recording are refused before anything is written',
  { timeout: 60_000 },
  () => {
    const { dir, cleanup } = tmpDir();
    try {
      const sim = path.join(dir, 'sim');
      assert.equal(runCli(['simulate', sim, '--channels', '16', '--seconds', '1', '--units', '2']).status, 0);
      const bad = runCli(['sort', sim, '--out', path.join(dir, 'a'), '--highpass-hz', '-5']);
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /highpassHz: expected a value in \[10, 5000\] Hz, got -5/);
      const word = runCli(['sort', sim, '--out', path.join(dir, 'a'), '--batch-samples', 'many']);
      assert.equal(word.status, 2);
      assert.match(word.stderr, /--batch-samples must be a number, got "many"/);
      const short = runCli(['sort', sim, '--out', path.join(dir, 'b')]);
      assert.equal(short.status, 2);
      assert.match(short.stderr, /30000 samples, shorter than one batch \(65600 samples\)/);
      for (const out of ['a', 'b'])
        assert.ok(!existsSync(path.join(dir, out)) || readdirSync(path.join(dir, out)).length === 0, out);
    } finally {
      cleanup();
    }
  },
);

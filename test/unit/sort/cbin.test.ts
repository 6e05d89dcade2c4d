// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * A recording sorted from its mtscomp-compressed copy gives the same spikes and IBL waveforms as from
 * the .bin, in process and through local gRPC workers (which open the .cbin themselves).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { IBL_WAVEFORM_FILES } from '../../helpers/alf-waveforms.js';
import { runCli } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';

test(
  'sorting a .cbin copy, in process or on workers, writes the same spike times, clusters, templates and IBL waveforms as the .bin',
  { timeout: 300_000 },
  () => {
    const { dir, cleanup } = tmpDir('spikeshard-cbin-sort-');
    try {
      const sim = path.join(dir, 'sim');
      const made = runCli(['simulate', sim, '--channels', '32', '--seconds', '12', '--units', '6', '--seed', '3']);
      assert.equal(made.status, 0, made.stderr);
      const name = 'sim_g0_t0.imec0.ap';
      const compressedDir = path.join(dir, 'compressed');
      mkdirSync(compressedDir);
      copyFileSync(path.join(sim, `${name}.bin`), path.join(compressedDir, `${name}.bin`));
      copyFileSync(path.join(sim, `${name}.meta`), path.join(compressedDir, `${name}.meta`));
      // Small chunks, so that batches and halos straddle many chunk boundaries.
      const packed = runCli(['compress', path.join(compressedDir, `${name}.bin`), '--chunk-s', '0.3', '--verify']);
      assert.equal(packed.status, 0, packed.stderr);
      assert.match(packed.stdout, /verified/);
      const a = runCli(['sort', path.join(sim, `${name}.bin`), '--out', path.join(dir, 'a')]);
      assert.equal(a.status, 0, a.stderr);
      const b = runCli(['sort', path.join(compressedDir, `${name}.cbin`), '--out', path.join(dir, 'b')]);
      assert.equal(b.status, 0, b.stderr);
      const w = runCli([
        'sort',
        path.join(compressedDir, `${name}.cbin`),
        '--out',
        path.join(dir, 'w'),
        '--workers',
        '2',
      ]);
      assert.equal(w.status, 0, w.stderr);
      for (const file of ['spike_times.npy', 'spike_clusters.npy', 'amplitudes.npy', 'templates.npy']) {
        const fa = readFileSync(path.join(dir, 'a', 'imec0', 'phy', file));
        assert.ok(fa.length > 200, `${file} holds data`);
        for (const other of ['b', 'w']) {
          const fo = readFileSync(path.join(dir, other, 'imec0', 'phy', file));
          assert.ok(fa.equals(fo), `${file} differs between the .bin sort and the .cbin sort '${other}'`);
        }
      }
      // IBL's waveforms are cut from the raw file the sort read: the same bytes from the .cbin.
      for (const file of IBL_WAVEFORM_FILES) {
        const fa = readFileSync(path.join(dir, 'a', 'alf', 'probe00', file));
        const fb = readFileSync(path.join(dir, 'b', 'alf', 'probe00', file));
        assert.ok(fa.length > 1000, `${file} holds data`);
        assert.ok(fa.equals(fb), `${file} differs between the .bin and .cbin sorts`);
      }
    } finally {
      cleanup();
    }
  },
);

// SPDX-License-Identifier: GPL-3.0-or-later
/** The determinism contract (design.md §6): the same input gives the same bytes, whatever the thread count. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { IBL_WAVEFORM_FILES } from '../../helpers/alf-waveforms.js';
import { runCli } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';

function digests(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) {
    if (f.endsWith('.npy') || f.endsWith('.tsv'))
      out[f] = createHash('sha1')
        .update(readFileSync(path.join(dir, f)))
        .digest('hex');
  }
  return out;
}

test(
  'sorting with 1 and 2 threads writes identical phy files (with and without IBL waveforms)',
  { timeout: 300_000 },
  () => {
    const { dir, cleanup } = tmpDir('spikeshard-det-');
    try {
      const sim = path.join(dir, 'sim');
      assert.equal(
        runCli(['simulate', sim, '--channels', '32', '--seconds', '20', '--units', '8', '--seed', '11']).status,
        0,
      );
      const a = runCli(['sort', sim, '--out', path.join(dir, 'a'), '--threads', '1']);
      assert.equal(a.status, 0, a.stderr);
      // Without IBL's waveforms (an export option: the sorting itself is the same).
      const b = runCli([
        'sort',
        sim,
        '--out',
        path.join(dir, 'b'),
        '--threads',
        '2',
        '--ibl-waveforms-per-cluster',
        '0',
      ]);
      assert.equal(b.status, 0, b.stderr);
      const da = digests(path.join(dir, 'a', 'imec0', 'phy'));
      assert.ok(Object.keys(da).length >= 15, `phy files: ${Object.keys(da).join(', ')}`);
      assert.deepEqual(digests(path.join(dir, 'b', 'imec0', 'phy')), da);
      assert.match(b.stderr + b.stdout, /waveforms: not extracted \(--ibl-waveforms-per-cluster 0\)/);
      for (const file of IBL_WAVEFORM_FILES) {
        assert.ok(existsSync(path.join(dir, 'a', 'alf', 'probe00', file)), `${file} with the default`);
        assert.ok(!existsSync(path.join(dir, 'b', 'alf', 'probe00', file)), `${file} with 0`);
      }
      assert.ok(existsSync(path.join(dir, 'b', 'alf', 'probe00', 'spikes.times.npy')));
    } finally {
      cleanup();
    }
  },
);

// SPDX-License-Identifier: GPL-3.0-or-later
/** numpy, as phylib and ibllib use it, reads both outputs: every .npy, params.py, the amplitudes in V. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeAlf } from '../../../coordinator/export/alf.js';
import { extractIblWaveforms } from '../../../coordinator/export/ibl-waveforms.js';
import { writePhy } from '../../../coordinator/export/phy.js';
import { hasNumpy, python } from '../../helpers/python.js';
import { makeSortingFixture } from '../../helpers/sorting-fixture.js';
import { tmpDir } from '../../helpers/tmp.js';

const S = 300;
const T = 3;
const C = 8;
const K = 3;
const B = 10;

const PHY: Record<string, [string, number[]]> = {
  'amplitudes.npy': ['float64', [S]],
  'channel_labels.npy': ['int8', [C]],
  'channel_map.npy': ['int32', [C]],
  'channel_positions.npy': ['float32', [C, 2]],
  'channel_shanks.npy': ['int8', [C]],
  'drift.times.npy': ['float64', [B]],
  'drift.um.npy': ['float64', [B, 2]],
  'drift_depths.um.npy': ['float64', [1, 2]],
  'pc_feature_ind.npy': ['uint32', [T, K]],
  'pc_features.npy': ['float32', [S, 3, K]],
  'similar_templates.npy': ['float32', [T, T]],
  'spike_clusters.npy': ['uint32', [S]],
  'spike_pc_components.npy': ['float32', [61, 3]],
  'spike_templates.npy': ['uint32', [S]],
  'spike_times.npy': ['uint64', [S]],
  'template_feature_ind.npy': ['uint32', [T, K]],
  'template_features.npy': ['float32', [S, K]],
  'templates.npy': ['float32', [T, 82, C]],
  'templates_ind.npy': ['int64', [T, C]],
  'thresholds.npy': ['float64', [T]],
  'whitening_mat.npy': ['float64', [C, C]],
  'whitening_mat_inv.npy': ['float64', [C, C]],
};

const ALF: Record<string, [string, number[]]> = {
  '_kilosort_whitening.matrix.npy': ['float64', [C, C]],
  '_spikeshard_channels.noiseRms.npy': ['float64', [C]],
  'channels.labels.npy': ['int8', [C]],
  'channels.localCoordinates.npy': ['float64', [C, 2]],
  'channels.rawInd.npy': ['int64', [C]],
  'clusters.amps.npy': ['float64', [T]],
  'clusters.channels.npy': ['int64', [T]],
  'clusters.depths.npy': ['float64', [T]],
  'clusters.peakToTrough.npy': ['float64', [T]],
  'clusters.waveforms.npy': ['float32', [T, 82, C]],
  'clusters.waveformsChannels.npy': ['int32', [T, C]],
  'drift.times.npy': ['float64', [B]],
  'drift.um.npy': ['float64', [B, 2]],
  'drift_depths.um.npy': ['float64', [1, 2]],
  'spikes.amps.npy': ['float32', [S]],
  'spikes.clusters.npy': ['uint16', [S]],
  'spikes.depths.npy': ['float32', [S]],
  'spikes.samples.npy': ['uint64', [S]],
  'spikes.templates.npy': ['uint16', [S]],
  'spikes.times.npy': ['float64', [S]],
  'templates.amps.npy': ['float64', [T]],
  'templates.waveforms.npy': ['float32', [T, 82, C]],
  'templates.waveformsChannels.npy': ['int32', [T, C]],
};

test('numpy loads every file with its dtype and shape, and params.py runs', { skip: !hasNumpy() && 'no numpy' }, () => {
  const { dir, cleanup } = tmpDir();
  try {
    const r = makeSortingFixture({ datPath: path.join(dir, 'raw.ap.bin') });
    const phy = path.join(dir, 'phy');
    writePhy(phy, r);
    const alf = writeAlf(path.join(dir, 'alf'), r, { runId: 'numpy' });
    const out = python(
      [
        'import glob, json, os, sys',
        'import numpy as np',
        'res = {}',
        `for d in (${JSON.stringify(phy)}, ${JSON.stringify(alf)}):`,
        "    shapes = {os.path.basename(f): [str(np.load(f).dtype), list(np.load(f).shape)] for f in glob.glob(os.path.join(d, '*.npy'))}",
        '    params = {}',
        "    exec(open(os.path.join(d, 'params.py')).read(), {}, params)",
        "    params['dat_path'] = os.path.normpath(os.path.join(d, params['dat_path']))",
        '    res[d] = {"shapes": shapes, "params": params}',
        // phylib's get_amplitudes_true, with the files only.
        `p = ${JSON.stringify(phy)}`,
        "tw = np.load(p + '/templates.npy')",
        "wmi = np.load(p + '/whitening_mat_inv.npy')",
        'unw = np.einsum("tsc,cd->tsd", tw.astype(np.float64), wmi)',
        'p2p = (unw.max(axis=1) - unw.min(axis=1)).max(axis=1)',
        "amps = np.load(p + '/amplitudes.npy') * p2p[np.load(p + '/spike_templates.npy')] * 2.34375e-6",
        `ours = np.load(${JSON.stringify(alf)} + '/spikes.amps.npy')`,
        "res['amps_rel_err'] = float(np.max(np.abs(ours - amps) / amps))",
        "res['winv_err'] = float(np.max(np.abs(np.load(p + '/whitening_mat.npy') @ wmi - np.eye(wmi.shape[0]))))",
        'print(json.dumps(res))',
      ].join('\n'),
    );
    const res = JSON.parse(out) as Record<string, unknown> & {
      amps_rel_err: number;
      winv_err: number;
    };
    const phyRes = res[phy] as { shapes: Record<string, unknown>; params: Record<string, unknown> };
    const alfRes = res[alf] as { shapes: Record<string, unknown>; params: Record<string, unknown> };
    assert.deepEqual(phyRes.shapes, PHY);
    assert.deepEqual(alfRes.shapes, ALF);
    const params = {
      dat_path: path.join(dir, 'raw.ap.bin'),
      n_channels_dat: 10,
      dtype: 'int16',
      offset: 0,
      sample_rate: 30000,
      hp_filtered: false,
      template_scaling: 20,
    };
    assert.deepEqual(phyRes.params, params);
    assert.deepEqual(alfRes.params, params);
    assert.ok(res.amps_rel_err < 1e-6, `spikes.amps vs phylib's formula: ${res.amps_rel_err}`);
    assert.ok(res.winv_err < 1e-12, `W·W⁺ − I: ${res.winv_err}`);
  } finally {
    cleanup();
  }
});

test(
  "numpy loads waveforms.* (the .npz included) as ibldsp's WaveformsLoader does",
  { skip: !hasNumpy() && 'no numpy' },
  async () => {
    const { dir, cleanup } = tmpDir();
    try {
      const raw = path.join(dir, 'raw.ap.bin');
      const r = makeSortingFixture({ datPath: raw });
      writeFileSync(raw, Buffer.alloc(r.nSamples * r.nChannelsDat * 2));
      const waveforms = await extractIblWaveforms(r, path.join(dir, 'wf'), { maxPerCluster: 4 });
      const alf = writeAlf(path.join(dir, 'alf'), r, { runId: 'numpy', waveforms });
      const out = python(
        [
          'import json, numpy as np',
          `d = ${JSON.stringify(alf)}`,
          "t = np.load(d + '/waveforms.traces.npy')",
          "m = np.load(d + '/waveforms.templates.npy')",
          "c = np.load(d + '/waveforms.channels.npz')",
          "print(json.dumps({'traces': [str(t.dtype), list(t.shape)], 'templates': [str(m.dtype), list(m.shape)],",
          "  'files': list(c.files), 'channels': [str(c['channels'].dtype), list(c['channels'].shape)],",
          "  'first': c['channels'][0].tolist()}))",
        ].join('\n'),
      );
      assert.deepEqual(JSON.parse(out), {
        traces: ['float16', [T, 4, C, 128]],
        templates: ['float32', [T, C, 128]],
        files: ['channels'],
        channels: ['int16', [T * 4, C]],
        first: [0, 1, 2, 3, 4, 5, 6, 7],
      });
    } finally {
      cleanup();
    }
  },
);

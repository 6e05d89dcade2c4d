// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The whole path a user takes, on a small drifting recording: simulate → sort → compare, through
 * the built CLI. Accuracy floors are deliberately below what the sorter reaches on this recording
 * (see docs/accuracy.md), so that the test fails on a real regression, not on noise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { readNpy } from '../../../coordinator/formats/npy.js';
import { checkAlfWaveforms } from '../../helpers/alf-waveforms.js';
import { runCli } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';

interface Bin {
  label: string;
  minSnr: number | null;
  nGtUnits: number;
  nWellDetected: number;
}

test(
  'a simulated 48-channel recording sorts to phy and ALF outputs (IBL waveforms included) with accuracy floors',
  { timeout: 300_000 },
  async () => {
    const { dir, cleanup } = tmpDir('spikeshard-e2e-');
    try {
      const sim = path.join(dir, 'sim');
      const out = path.join(dir, 'out');
      const s = runCli([
        'simulate',
        sim,
        '--probe',
        'np1',
        '--channels',
        '48',
        '--seconds',
        '40',
        '--units',
        '14',
        '--drift',
        '10',
        '--seed',
        '7',
      ]);
      assert.equal(s.status, 0, s.stderr);
      const r = runCli(['sort', sim, '--out', out], { env: { SPIKESHARD_LOG_LEVEL: 'debug' } });
      assert.equal(r.status, 0, r.stderr);
      // Templates are born from every learning round's residual but the last: a template born
      // there would reach extraction without ever having matched a spike.
      const rounds = (r.stdout + r.stderr)
        .split('\n')
        .filter((l) => l.includes('"msg":"learning round"'))
        .map((l) => JSON.parse(l) as { round: number; born: number });
      assert.ok(rounds.length >= 2, `learning rounds logged: ${rounds.length}`);
      assert.ok(rounds[0]!.born > 0, `births in the first round: ${JSON.stringify(rounds)}`);
      assert.equal(rounds.at(-1)!.born, 0, `births in the last round: ${JSON.stringify(rounds)}`);
      assert.match(r.stdout, /imec0: \d+ clusters \(\d+ good\), \d+ spikes/);
      for (const f of [
        'spike_times.npy',
        'spike_clusters.npy',
        'templates.npy',
        'pc_features.npy',
        'params.py',
        'cluster_KSLabel.tsv',
      ]) {
        assert.ok(existsSync(path.join(out, 'imec0', 'phy', f)), `phy file ${f}`);
      }
      for (const f of [
        'spikes.times.npy',
        'spikes.clusters.npy',
        'clusters.channels.npy',
        'drift.um.npy',
        'clusters.metrics.pqt',
      ]) {
        assert.ok(existsSync(path.join(out, 'alf', 'probe00', f)), `ALF file ${f}`);
      }
      // IBL's waveforms (256 per cluster by default), consistent with the collection's spikes and clusters.
      const alf = path.join(out, 'alf', 'probe00');
      const w = await checkAlfWaveforms(alf, 256, 40 * 30_000);
      const clusters = readNpy(path.join(alf, 'clusters.channels.npy')).shape[0]!;
      assert.ok(w.clusters > 0 && w.clusters <= clusters, `waveforms of ${w.clusters} of ${clusters} clusters`);
      assert.ok(w.channels >= 30, `channels within 200 µm of the peak: ${w.channels}`);
      assert.ok(w.extracted >= 1000, `waveforms cut: ${w.extracted}`);
      // Sorted spike times sit on the trough, so the median waveforms do too.
      assert.ok(w.troughAt42 >= 0.9 * w.clusters, `trough at 42 ± 3 in ${w.troughAt42} of ${w.clusters} clusters`);
      assert.match(r.stderr + r.stdout, /waveforms done in [\d.]+ s: \d+ IBL waveforms of \d+ clusters/);
      // The traces were cut through files next to the outputs, removed once the collection links them.
      assert.deepEqual(readdirSync(path.join(out, 'imec0')), ['phy'], 'no waveform scratch folder is left');
      assert.ok(existsSync(path.join(out, 'report.html')), 'report.html');
      const run = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as {
        results: Array<{ timings: Record<string, number> }>;
      };
      assert.equal(run.results.length, 1);
      for (const stage of ['statistics', 'prototypes', 'drift', 'learning', 'extraction', 'waveforms', 'export']) {
        assert.ok(run.results[0]!.timings[stage]! >= 0, `timing of ${stage}`);
      }
      const c = runCli(['compare', sim, path.join(out, 'imec0', 'phy'), '--json']);
      assert.equal(c.status, 0, c.stderr);
      const report = JSON.parse(c.stdout) as { summary: { all: Bin; bySnr: Bin[] } };
      const high = report.summary.bySnr.find((b) => b.minSnr === 8);
      assert.ok(high && high.nGtUnits > 0, `an SNR ≥ 8 bin in ${JSON.stringify(report.summary.bySnr)}`);
      assert.ok(
        high.nWellDetected / high.nGtUnits >= 0.5,
        `SNR ≥ 8 well detected ${high.nWellDetected}/${high.nGtUnits}`,
      );
      const all = report.summary.all;
      assert.ok(all.nWellDetected >= 0.4 * all.nGtUnits, JSON.stringify(all));
    } finally {
      cleanup();
    }
  },
);

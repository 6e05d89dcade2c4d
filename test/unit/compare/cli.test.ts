// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { CompareReport } from '../../../coordinator/compare/index.js';
import { runCli } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';
import { makeTruth, regular, writeAlf, writePhy, writeSimulateOutput, type Spikes } from './fixtures.js';

/**
 * A simulate-like folder with 4 GT units (SNR 3, 6, 9, 12) and a phy folder where units 2 and 3
 * are found exactly, unit 1 is found at 60 % (matched, not well detected), unit 0 is missed,
 * and one good noise cluster is added.
 */
function scene(dir: string): { sim: string; phy: string; alf: string } {
  const gtSpikes: Spikes = [0, 1, 2, 3].flatMap((u) => regular(u, 100 + 200 * u, 10));
  const sim = path.join(dir, 'sim');
  writeSimulateOutput(
    sim,
    'imec0',
    makeTruth(
      [3, 6, 9, 12].map((snr, id) => ({ id, snr })),
      gtSpikes,
    ),
  );
  const tested: Spikes = [
    ...regular(11, 300, 6), // 6 of GT 1's 10 spikes: A = 0.6
    ...regular(12, 500, 10).map(([t]) => [t + 12, 12] as [number, number]), // GT 2 shifted by delta_frames
    ...regular(13, 700, 10),
    ...regular(20, 950, 4), // noise
  ];
  const labels = new Map([
    [11, 'mua'],
    [12, 'good'],
    [13, 'good'],
    [20, 'good'],
  ]);
  const phy = path.join(dir, 'phy');
  writePhy(phy, tested, { labels });
  const alf = path.join(dir, 'alf', 'probe00');
  writeAlf(alf, tested, { labels });
  return { sim, phy, alf };
}

test('compare prints a summary table with the key numbers', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const { sim, phy } = scene(dir);
    const r = runCli(['compare', sim, phy]);
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /\|Δt\| ≤ 12 samples \(0\.4 ms\)/);
    // all: 4 GT units, 2 well detected (50.0%), mean accuracy (0 + 0.6 + 1 + 1) / 4 = 0.650.
    assert.match(out, /^all\s+4\s+2\s+50\.0%\s+0\.650\s+0\.750\s+0\.650$/m);
    assert.match(out, /^SNR < 5\s+1\s+0\s+0\.0%\s+0\.000\s+0\.000\s+0\.000$/m);
    assert.match(out, /^5 ≤ SNR < 8\s+1\s+0\s+0\.0%\s+0\.600\s+1\.000\s+0\.600$/m);
    assert.match(out, /^SNR ≥ 8\s+2\s+2\s+100\.0%\s+1\.000\s+1\.000\s+1\.000$/m);
    // Tested units, all and good only: 4 / 3 units, 1 / 1 false positive.
    assert.match(out, /^units\s+4\s+3$/m);
    assert.match(out, /^false positive\s+1\s+1$/m);
    assert.match(out, /^bad \(unmatched\)\s+1\s+1$/m);
    assert.doesNotMatch(out, /^gt unit/m);

    const units = runCli(['compare', sim, phy, '--units']);
    assert.equal(units.status, 0, units.stderr);
    assert.match(units.stdout, /^gt unit/m);
    assert.match(units.stdout, /^\s*20\s+good\s+4\s+false positive/m);
  } finally {
    cleanup();
  }
});

test('compare --json gives the whole result with stable keys; ALF gives the same scores', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const { sim, phy, alf } = scene(dir);
    const r = runCli(['compare', sim, phy, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as CompareReport;
    assert.equal(report.format, 'spikeshard-compare/1');
    assert.equal(report.parameters.deltaFrames, 12);
    assert.equal(report.parameters.wellDetectedScore, 0.8);
    assert.equal(report.summary.all.nWellDetected, 2);
    assert.equal(report.summary.all.meanAccuracy, 0.65);
    assert.equal(report.goodOnly?.tested.nFalsePositive, 1);
    assert.deepEqual(
      report.gtUnits.map((u) => [u.id, u.matchedUnit, u.tp, u.fn, u.fp, u.wellDetected]),
      [
        [0, null, 0, 10, 0, false],
        [1, 11, 6, 4, 0, false],
        [2, 12, 10, 0, 0, true],
        [3, 13, 10, 0, 0, true],
      ],
    );
    const fromAlf = runCli(['compare', sim, alf, '--json']);
    assert.equal(fromAlf.status, 0, fromAlf.stderr);
    const alfReport = JSON.parse(fromAlf.stdout) as CompareReport;
    assert.equal(alfReport.sorting.format, 'alf');
    assert.deepEqual(alfReport.summary, report.summary);
    assert.deepEqual(alfReport.goodOnly, report.goodOnly);

    // A stricter window (0.3 ms = 9 samples) loses GT 2, whose tested spikes are 12 samples late.
    const strict = JSON.parse(runCli(['compare', sim, phy, '--json', '--delta-ms', '0.3']).stdout) as CompareReport;
    assert.equal(strict.parameters.deltaFrames, 9);
    assert.equal(strict.summary.all.nWellDetected, 1);
  } finally {
    cleanup();
  }
});

test('compare exits 3 naming the folder when a folder cannot be used, 2 on a bad option', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const { sim, phy } = scene(dir);
    const junk = path.join(dir, 'junk');
    mkdirSync(junk);
    const bad = runCli(['compare', sim, junk]);
    assert.equal(bad.status, 3);
    assert.ok(bad.stderr.includes(junk), bad.stderr);
    assert.match(bad.stderr, /spike_times\.npy/);

    const badGt = runCli(['compare', junk, phy]);
    assert.equal(badGt.status, 3);
    assert.ok(badGt.stderr.includes(junk), badGt.stderr);
    assert.match(badGt.stderr, /truth\.json/);

    assert.equal(runCli(['compare', sim, phy, '--well-detected', '2']).status, 2);
  } finally {
    cleanup();
  }
});

test('compare --explain names what the unmatched good unit is', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const { sim, phy } = scene(dir);
    const r = runCli(['compare', sim, phy, '--json', '--explain']);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as CompareReport;
    // Among the good units only the noise cluster 20 lacks a match; it shares no spike with anything.
    assert.deepEqual(
      report.explanations?.map((e) => [e.id, e.kind, e.bestGtFraction]),
      [[20, 'unexplained', 0]],
    );
    const text = runCli(['compare', sim, phy, '--explain']);
    assert.match(text.stdout, /good units without a match, explained:\n.*\n\s+20\s+4\s+unexplained/);
    const plain = JSON.parse(runCli(['compare', sim, phy, '--json']).stdout) as CompareReport;
    assert.equal(plain.explanations, undefined);
  } finally {
    cleanup();
  }
});

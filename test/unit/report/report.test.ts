// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeAlf } from '../../../coordinator/export/alf.js';
import { readNpy } from '../../../coordinator/formats/npy.js';
import { readProbeReport, readRunReport, writeRunReport, type RunReport } from '../../../coordinator/report/report.js';
import { InputError } from '../../../proto/errors.js';
import { decodePng, dumpDom, findChromium, screenshot } from '../../helpers/chromium.js';
import { runCli } from '../../helpers/cli.js';
import type { SortingResult } from '../../../coordinator/formats/sorting-result.js';
import { MemorySpikeFeatures } from '../../../coordinator/formats/spike-features.js';
import { makeSortingFixture } from '../../helpers/sorting-fixture.js';
import { tmpDir } from '../../helpers/tmp.js';

const TIMINGS = {
  statistics: 1.5,
  prototypes: 0.25,
  drift: 3,
  learning: 6,
  extraction: 4,
  postprocess: 0.5,
  export: 0.2,
};

/** A run folder as `spikeshard sort` leaves it: run.json and alf/probe00 (phy is not read). */
function makeRunFolder(dir: string): { collection: string; nSpikes: number; nUnits: number; nChannels: number } {
  const r = makeSortingFixture({ nTemplates: 5, nSpikes: 800 });
  const collection = writeAlf(path.join(dir, 'alf'), r, { runId: 'run-report' });
  const run = {
    spikeshard: '0.0.0-test',
    runId: 'run-report',
    startedAt: '2026-01-01T00:00:00.000Z',
    recording: '/data/rec',
    probes: [{ label: 'imec0', samples: r.nSamples }],
    results: [{ probe: 'imec0', clusters: 5, good: 1, spikes: 800, phy: '', alf: collection, timings: TIMINGS }],
  };
  writeFileSync(path.join(dir, 'run.json'), JSON.stringify(run));
  return { collection, nSpikes: 800, nUnits: 5, nChannels: r.probe.channelMap.length };
}

function embeddedData(html: string): RunReport {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(m, 'the report embeds its data');
  return JSON.parse(m[1]!) as RunReport;
}

/** Anything that would make the browser fetch something: URLs with a scheme or host, links, imports. */
const EXTERNAL =
  /[a-z][a-z0-9+.-]*:\/\/|\/\/[a-z0-9]|<link\b|<img\b|<iframe\b|\bsrc\s*=|@import|url\(|\bfetch\(|XMLHttpRequest/i;

test('the report embeds the run: spikes, units, channels, drift and timings from the outputs', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const { nSpikes, nUnits, nChannels, collection } = makeRunFolder(dir);
    const file = writeRunReport(dir);
    assert.equal(file, path.join(dir, 'report.html'));
    const html = readFileSync(file, 'utf8');
    assert.match(html, /^<!DOCTYPE html>/);
    const data = embeddedData(html);
    assert.equal(data.runId, 'run-report');
    assert.equal(data.probes.length, 1);
    const p = data.probes[0]!;
    assert.equal(p.label, 'imec0');
    assert.equal(p.nSpikes, nSpikes);
    assert.equal(p.spikes.timesS.length, nSpikes, 'all spikes drawn below the subsampling limit');
    assert.equal(p.units.depthsUm.length, nUnits);
    assert.equal(
      p.units.spikeCounts.reduce((a, b) => a + b, 0),
      nSpikes,
    );
    assert.equal(p.channels.yUm.length, nChannels);
    assert.equal(p.channels.noiseUv?.length, nChannels);
    assert.deepEqual(p.timings, Object.entries(TIMINGS));
    // Firing rate = spike count / (last − first spike time), from the ALF files.
    const times = readNpy(path.join(collection, 'spikes.times.npy')).data as Float64Array;
    const duration = times[times.length - 1]! - times[0]!;
    assert.ok(Math.abs(p.units.firingRatesHz[0]! - p.units.spikeCounts[0]! / duration) < 1e-3);
    assert.equal(p.drift.um.length, p.drift.timesS.length);
    assert.equal(p.drift.um[0]!.length, p.drift.depthsUm.length);
    for (const stage of Object.keys(TIMINGS)) assert.ok(html.includes(`<td>${stage}</td>`), `timings row ${stage}`);
  } finally {
    cleanup();
  }
});

test('the HTML is self-contained: no URL, link, image or import', () => {
  const { dir, cleanup } = tmpDir();
  try {
    makeRunFolder(dir);
    const html = readFileSync(writeRunReport(dir), 'utf8');
    const hit = EXTERNAL.exec(html);
    assert.equal(
      hit,
      null,
      `external reference: ${hit?.[0]} near ${html.slice((hit?.index ?? 0) - 60, (hit?.index ?? 0) + 60)}`,
    );
    // The check itself catches what it should.
    assert.ok(
      EXTERNAL.test('<script src="x.js">') && EXTERNAL.test('a https://cdn.example/x') && EXTERNAL.test('url(a.png)'),
    );
    // A '<' in the data cannot end the script element early.
    assert.ok(!/<\/script>[\s\S]*<\/script>[\s\S]*<\/script>/.test(html));
  } finally {
    cleanup();
  }
});

test('fallbacks: a moved run folder, no run.json; refusals name the folder', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const run = path.join(dir, 'run');
    makeRunFolder(run);
    const moved = path.join(dir, 'moved');
    renameSync(run, moved);
    assert.equal(readRunReport(moved).probes[0]!.collection, path.join(moved, 'alf', 'probe00'));
    rmSync(path.join(moved, 'run.json'));
    const bare = readRunReport(moved);
    assert.equal(bare.probes[0]!.label, 'probe00');
    assert.deepEqual(bare.probes[0]!.timings, []);
    assert.equal(bare.runId, null);
    rmSync(path.join(moved, 'alf'), { recursive: true });
    assert.throws(
      () => readRunReport(moved),
      (e) => e instanceof InputError && /no finished probe/.test(e.message),
    );
    assert.throws(() => readRunReport(path.join(dir, 'absent')), InputError);
  } finally {
    cleanup();
  }
});

test('the drift map subsamples evenly in time above the limit', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const { collection } = makeRunFolder(dir);
    const p = readProbeReport('imec0', collection, {}, 100);
    assert.equal(p.spikes.timesS.length, 100, '800 spikes, every 8th');
    assert.equal(p.nSpikes, 800);
    assert.ok(p.spikes.timesS.every((t, i) => i === 0 || t >= p.spikes.timesS[i - 1]!));
  } finally {
    cleanup();
  }
});

test('spikeshard report OUT writes OUT/report.html and prints its path', () => {
  const { dir, cleanup } = tmpDir();
  try {
    makeRunFolder(dir);
    const r = runCli(['report', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), path.join(dir, 'report.html'));
    assert.ok(statSync(path.join(dir, 'report.html')).size > 10_000);
    const bad = runCli(['report', path.join(dir, 'nothing')]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /nothing/);
  } finally {
    cleanup();
  }
});

const chromium = findChromium();

test(
  'headless Chromium renders the report: a PNG of the right size that is not blank',
  { skip: chromium === null && 'chromium not installed (apt-get install chromium; CI runs .ci/setup-chromium.sh)' },
  () => {
    const { dir, cleanup } = tmpDir();
    try {
      makeRunFolder(dir);
      const html = writeRunReport(dir);
      // The page's script ran to its end without throwing.
      assert.match(dumpDom(chromium!, html), /data-rendered="yes"/);
      const png = path.join(dir, 'report.png');
      const [width, height] = [1200, 1600];
      screenshot(chromium!, html, png, width, height);
      assert.ok(existsSync(png), 'screenshot written');
      const bytes = readFileSync(png);
      assert.ok(bytes.length > 20_000 && bytes.length < 20_000_000, `PNG of ${bytes.length} bytes`);
      const img = decodePng(bytes);
      assert.deepEqual([img.width, img.height], [width, height]);
      // Luminance statistics over the whole page, and how many distinct colours the plots use.
      let sum = 0;
      let sumSq = 0;
      const colours = new Set<number>();
      const n = img.width * img.height;
      for (let i = 0; i < n; i++) {
        const o = i * img.channels;
        const [r, g, b] = [img.pixels[o]!, img.pixels[o + 1]!, img.pixels[o + 2]!];
        const y = 0.299 * r + 0.587 * g + 0.114 * b;
        sum += y;
        sumSq += y * y;
        colours.add((r << 16) | (g << 8) | b);
      }
      const mean = sum / n;
      const variance = sumSq / n - mean * mean;
      assert.ok(variance > 200, `luminance variance ${variance.toFixed(1)} (a blank page has ~0)`);
      assert.ok(colours.size > 100, `${colours.size} distinct colours`);
    } finally {
      cleanup();
    }
  },
);

test(
  'a run that found no units still gets a report, and its script runs to the end',
  { skip: chromium === null && 'chromium not installed (apt-get install chromium; CI runs .ci/setup-chromium.sh)' },
  () => {
    const { dir, cleanup } = tmpDir();
    try {
      const r = makeSortingFixture();
      const empty: SortingResult = {
        ...r,
        spikes: {
          samples: new Float64Array(0),
          templates: new Uint32Array(0),
          amplitudes: new Float64Array(0),
          scores: new Float32Array(0),
          features: new MemorySpikeFeatures(0, new Float32Array(0), new Float32Array(0)),
        },
        templates: {
          count: 0,
          waveforms: new Float32Array(0),
          featureInd: new Uint32Array(0),
          pcFeatureInd: new Uint32Array(0),
          similarity: new Float32Array(0),
          thresholds: new Float64Array(0),
          labels: [],
          contamPct: new Float64Array(0),
        },
      };
      writeAlf(path.join(dir, 'alf'), empty, { runId: 'empty' });
      const html = writeRunReport(dir);
      const data = embeddedData(readFileSync(html, 'utf8'));
      assert.equal(data.probes[0]!.nSpikes, 0);
      assert.match(dumpDom(chromium!, html), /data-rendered="yes"/);
    } finally {
      cleanup();
    }
  },
);

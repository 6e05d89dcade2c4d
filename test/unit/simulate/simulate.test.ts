// SPDX-License-Identifier: GPL-3.0-or-later
/** End-to-end: tiny simulated recordings, read back and checked against their ground truth. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseSpikeGlxMeta, simHighpass, spikeGlxLayout } from '../../../native/lib/index.js';
import { readGroundTruth, type GroundTruth } from '../../../coordinator/formats/ground-truth.js';
import { resolveSimulateOptions, type SimulateRequest } from '../../../coordinator/simulate/options.js';
import { simulate, type SimulateSummary } from '../../../coordinator/simulate/simulate.js';
import { silentLogger } from '../../../proto/log.js';
import { runCli } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';

const tmp = tmpDir('spikeshard-simulate-');
after(() => tmp.cleanup());

function run(name: string, req: Omit<SimulateRequest, 'out'>): SimulateSummary {
  return simulate(resolveSimulateOptions({ out: path.join(tmp.dir, name), ...req }), silentLogger());
}

function sha(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Hashes of every file a simulation wrote, keyed by relative path. */
function folderHashes(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) Object.assign(out, folderHashes(p, `${prefix}${name}/`));
    else out[prefix + name] = sha(p);
  }
  return out;
}

interface Loaded {
  truth: GroundTruth;
  nChannels: number;
  /** Spike band (zero-phase 300 Hz high-pass), µV, channel-major. */
  hp: Float32Array;
  raw: Int16Array;
  nSamples: number;
  yUm: Float64Array;
}

function load(dir: string, probe = 0): Loaded {
  const truth = readGroundTruth(path.join(dir, 'ground_truth', `imec${probe}`));
  const binPath = path.resolve(dir, 'ground_truth', `imec${probe}`, truth.recording);
  const metaPath = binPath.replace(/\.bin$/, '.meta');
  const layout = spikeGlxLayout(parseSpikeGlxMeta(readFileSync(metaPath, 'utf8'), metaPath));
  const nSaved = layout.nSavedChannels;
  const nChannels = nSaved - 1;
  const bytes = readFileSync(binPath);
  const raw = new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
  const nSamples = raw.length / nSaved;
  const hp = new Float32Array(nChannels * nSamples);
  for (let i = 0; i < nSamples; i++) {
    for (let c = 0; c < nChannels; c++) hp[c * nSamples + i] = raw[i * nSaved + c]! * layout.uvPerCount[c]!;
  }
  simHighpass(hp, nChannels, nSamples, truth.sampleRateHz);
  return { truth, nChannels, hp, raw, nSamples, yUm: layout.geometry.yUm };
}

/** Mean spike-band waveform (samples × channels, window [-pre, +post]) around the given samples. */
function average(l: Loaded, samples: number[], pre = 15, post = 30): Float64Array {
  const w = pre + post + 1;
  const out = new Float64Array(w * l.nChannels);
  for (const s of samples) {
    for (let c = 0; c < l.nChannels; c++) {
      for (let j = 0; j < w; j++) out[j * l.nChannels + c]! += l.hp[c * l.nSamples + s - pre + j]! / samples.length;
    }
  }
  return out;
}

function troughs(avg: Float64Array, nChannels: number): Float64Array {
  const t = new Float64Array(nChannels);
  for (let k = 0; k < avg.length; k++) t[k % nChannels] = Math.max(t[k % nChannels]!, -avg[k]!);
  return t;
}

function spikesOf(truth: GroundTruth, unit: number, nSamples: number, margin = 40): number[] {
  const out: number[] = [];
  truth.spikeSamples.forEach((s, i) => {
    if (truth.spikeUnits[i] === unit && s > margin && s < nSamples - margin) out.push(s);
  });
  return out;
}

const base = {
  probeType: 'np1',
  nChannels: 64,
  durationS: 4,
  nUnits: 12,
  driftUm: 0,
  seed: 11,
  nDeadChannels: 2,
  nNoisyChannels: 2,
} as const;

let baseDir = '';
let baseSummary: SimulateSummary;
before(() => {
  baseSummary = run('base', { ...base, threads: 2 });
  baseDir = path.join(tmp.dir, 'base');
});

test('same seed gives identical files whatever the thread count; another seed differs', () => {
  run('one-thread', { ...base, threads: 1 });
  run('other-seed', { ...base, seed: 12, threads: 2 });
  const a = folderHashes(baseDir);
  assert.deepEqual(folderHashes(path.join(tmp.dir, 'one-thread')), a);
  const c = folderHashes(path.join(tmp.dir, 'other-seed'));
  assert.notEqual(c['sim_g0_t0.imec0.ap.bin'], a['sim_g0_t0.imec0.ap.bin']);
  assert.notEqual(c['ground_truth/imec0/spikes.samples.npy'], a['ground_truth/imec0/spikes.samples.npy']);
});

test('the .bin has seconds·fs·(N+1)·2 bytes and the meta reads back with the channel count and gain', () => {
  const bin = path.join(baseDir, 'sim_g0_t0.imec0.ap.bin');
  assert.equal(statSync(bin).size, 4 * 30000 * 65 * 2);
  const metaPath = path.join(baseDir, 'sim_g0_t0.imec0.ap.meta');
  const layout = spikeGlxLayout(parseSpikeGlxMeta(readFileSync(metaPath, 'utf8'), metaPath));
  assert.equal(layout.nSavedChannels, 65);
  assert.equal(layout.syncColumn, 64);
  assert.equal(layout.sampleRateHz, 30000);
  assert.ok(layout.uvPerCount.every((g) => Math.abs(g - 2.34375) < 1e-9));
  // No temporary file is left behind.
  assert.deepEqual(
    readdirSync(baseDir).filter((n) => n.startsWith('.')),
    [],
  );
});

test('sync channel: a 1 Hz square wave on bit 6', () => {
  const l = load(baseDir);
  const at = (s: number): number => l.raw[s * 65 + 64]!;
  assert.equal(at(0), 0);
  assert.equal(at(14999), 0);
  assert.equal(at(15000), 64);
  assert.equal(at(29999), 64);
  assert.equal(at(30000), 0);
});

test('the truth: sorted spikes, no interval under the refractory period, counts and SNR bins', () => {
  const t = readGroundTruth(path.join(baseDir, 'ground_truth', 'imec0'));
  assert.equal(t.units.length, 12);
  for (let i = 1; i < t.spikeSamples.length; i++) assert.ok(t.spikeSamples[i]! >= t.spikeSamples[i - 1]!);
  const details = t.generator['units'] as Array<{ id: number; refractoryMs: number }>;
  for (const u of t.units) {
    const s = spikesOf(t, u.id, Infinity, -1);
    assert.equal(s.length, u.spikeCount);
    assert.ok(Math.abs(u.firingRateHz - u.spikeCount / 4) < 1e-9);
    const refractory = (details[u.id]!.refractoryMs / 1000) * 30000;
    // Trough samples are rounded soma times plus a fixed offset: at most one sample closer.
    for (let i = 1; i < s.length; i++) assert.ok(s[i]! - s[i - 1]! >= refractory - 1, `unit ${u.id} ISI`);
    for (let i = 1; i < s.length; i++) assert.ok(s[i]! - s[i - 1]! >= 60, `unit ${u.id}: ISI under 2 ms`);
  }
  const bins = baseSummary.probes[0]!.snrBins;
  assert.ok(
    bins.every((b) => b >= 2),
    `SNR bins <5, 5–8, ≥8: ${bins.join(', ')}`,
  );
  assert.equal(t.recording, path.join('..', '..', 'sim_g0_t0.imec0.ap.bin'));
});

test("the truth's spikes are in the data: spike-triggered averages match peak channel and amplitude", () => {
  const l = load(baseDir);
  const noise = (l.truth.generator['channels'] as { noiseRmsUv: number[] }).noiseRmsUv;
  let checked = 0;
  for (const u of l.truth.units) {
    const s = spikesOf(l.truth, u.id, l.nSamples);
    if (s.length < 8 || u.snr < 4) continue;
    // 15 % for bursts, jitter and overlaps, plus 3 standard errors of the noise in the average.
    const tolerance = 0.15 * u.amplitudeUv + (3 * noise[u.peakChannel]!) / Math.sqrt(s.length);
    const tr = troughs(average(l, s), l.nChannels);
    const best = Math.max(...tr);
    assert.ok(
      tr[u.peakChannel]! >= 0.9 * best,
      `unit ${u.id}: trough on its peak channel ${tr[u.peakChannel]} vs ${best}`,
    );
    assert.ok(
      Math.abs(tr[u.peakChannel]! - u.amplitudeUv) < tolerance,
      `unit ${u.id}: STA trough ${tr[u.peakChannel]!.toFixed(1)} µV vs amplitudeUv ${u.amplitudeUv.toFixed(1)} (±${tolerance.toFixed(1)})`,
    );
    // The trough is at the truth's sample (±1).
    const avg = average(l, s);
    let at = 0;
    for (let j = 0; j < 46; j++)
      if (avg[j * l.nChannels + u.peakChannel]! < avg[at * l.nChannels + u.peakChannel]!) at = j;
    assert.ok(Math.abs(at - 15) <= 1, `unit ${u.id}: trough at offset ${at - 15}`);
    checked++;
  }
  assert.ok(checked >= 4, `only ${checked} units had enough spikes to check`);
});

test('SNR is the trough over the spike-band noise measured on the data', () => {
  const l = load(baseDir);
  const noise = (l.truth.generator['channels'] as { noiseRmsUv: number[] }).noiseRmsUv;
  for (const u of l.truth.units) assert.ok(Math.abs(u.snr - u.amplitudeUv / noise[u.peakChannel]!) < 1e-3 * u.snr);
  // The background's spike-band RMS (channels without units nearby) is in the 6–12 µV range.
  const good = noise.filter(
    (v, c) => v > 0 && !(l.truth.generator['channels'] as { noisy: number[] }).noisy.includes(c),
  );
  const sorted = [...good].sort((a, b) => a - b);
  const median = sorted[sorted.length >> 1]!;
  assert.ok(median > 6 && median < 12, `median noise ${median}`);
});

test('dead channels are flat and noisy channels are noisier', () => {
  const l = load(baseDir);
  const ch = l.truth.generator['channels'] as { dead: Array<{ channel: number }>; noisy: number[] };
  assert.equal(ch.dead.length, 2);
  assert.equal(ch.noisy.length, 2);
  for (const { channel } of ch.dead) {
    const first = l.raw[channel]!;
    for (let i = 0; i < l.nSamples; i++) assert.equal(l.raw[i * 65 + channel], first);
  }
  const rms = (c: number): number => {
    let s = 0;
    for (let i = 1000; i < l.nSamples - 1000; i++) s += l.hp[c * l.nSamples + i]! ** 2;
    return Math.sqrt(s / (l.nSamples - 2000));
  };
  const all = Array.from({ length: l.nChannels }, (_, c) => rms(c)).sort((a, b) => a - b);
  const median = all[all.length >> 1]!;
  for (const c of ch.noisy) assert.ok(rms(c) > 2.5 * median, `noisy channel ${c}: ${rms(c)} vs median ${median}`);
});

test("drift moves a unit's footprint along the probe as the trace says", () => {
  run('drift', { ...base, nUnits: 10, durationS: 6, driftUm: 100, seed: 22, nDeadChannels: 0, nNoisyChannels: 0 });
  const l = load(path.join(tmp.dir, 'drift'));
  const { timesS, depthsUm, um } = l.truth.drift;
  const nD = depthsUm.length;
  const interp = (xs: ArrayLike<number>, ys: (i: number) => number, x: number): number => {
    let i = 0;
    while (i < xs.length - 2 && xs[i + 1]! < x) i++;
    const f = Math.min(1, Math.max(0, (x - xs[i]!) / (xs[i + 1]! - xs[i]!)));
    return ys(i) * (1 - f) + ys(i + 1) * f;
  };
  const displacement = (t: number, y: number): number =>
    interp(timesS, (i) => interp(depthsUm, (j) => um[i * nD + j]!, y), t);
  let checked = 0;
  for (const u of l.truth.units) {
    const s = spikesOf(l.truth, u.id, l.nSamples);
    if (u.snr < 8 || s.length < 30 || u.yUm < 120 || u.yUm > 500) continue;
    const d = s.map((x) => displacement(x / 30000, u.yUm));
    const sortedD = [...d].sort((a, b) => a - b);
    const lo = sortedD[Math.floor(d.length / 3)]!;
    const hi = sortedD[Math.floor((2 * d.length) / 3)]!;
    const low = s.filter((_, i) => d[i]! <= lo);
    const high = s.filter((_, i) => d[i]! >= hi);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const expected = mean(d.filter((v) => v >= hi)) - mean(d.filter((v) => v <= lo));
    const centroid = (ss: number[]): number => {
      const tr = troughs(average(l, ss, 10, 10), l.nChannels);
      const peak = Math.max(...tr);
      let num = 0;
      let den = 0;
      tr.forEach((a, c) => {
        if (a > 0.3 * peak) {
          num += a * l.yUm[c]!;
          den += a;
        }
      });
      return num / den;
    };
    const moved = centroid(high) - centroid(low);
    assert.ok(expected > 25, `unit ${u.id}: the drift spread (${expected} µm) is too small to test`);
    assert.ok(
      Math.abs(moved - expected) < Math.max(12, 0.3 * expected),
      `unit ${u.id}: footprint moved ${moved.toFixed(1)} µm, drift trace says ${expected.toFixed(1)} µm`,
    );
    checked++;
  }
  assert.ok(checked >= 2, `only ${checked} units checked`);
});

test('ADC delays change the samples but not the truth (spike times are true times)', () => {
  run('no-delay', { ...base, adcDelays: false, threads: 2 });
  const a = folderHashes(baseDir);
  const b = folderHashes(path.join(tmp.dir, 'no-delay'));
  assert.notEqual(a['sim_g0_t0.imec0.ap.bin'], b['sim_g0_t0.imec0.ap.bin']);
  for (const f of ['spikes.samples.npy', 'spikes.units.npy']) {
    assert.equal(a[`ground_truth/imec0/${f}`], b[`ground_truth/imec0/${f}`], f);
  }
  // Amplitudes follow the measured noise, which the interpolated common mode changes a little.
  const ta = readGroundTruth(path.join(baseDir, 'ground_truth', 'imec0'));
  const tb = readGroundTruth(path.join(tmp.dir, 'no-delay', 'ground_truth', 'imec0'));
  ta.units.forEach((u, i) => {
    assert.equal(u.peakChannel, tb.units[i]!.peakChannel);
    assert.ok(Math.abs(u.amplitudeUv / tb.units[i]!.amplitudeUv - 1) < 0.05);
  });
});

test('a multi-probe NP2 session: one recording and truth per probe, NP2 gains, independent content', () => {
  const summary = run('np2', { probeType: 'np2', nChannels: 16, durationS: 1, nUnits: 3, nProbes: 2, seed: 5 });
  assert.equal(summary.probes.length, 2);
  const dir = path.join(tmp.dir, 'np2');
  const hashes = folderHashes(dir);
  for (const k of [0, 1]) {
    assert.ok(hashes[`sim_g0_t0.imec${k}.ap.bin`]);
    assert.ok(hashes[`ground_truth/imec${k}/truth.json`]);
    const metaPath = path.join(dir, `sim_g0_t0.imec${k}.ap.meta`);
    const layout = spikeGlxLayout(parseSpikeGlxMeta(readFileSync(metaPath, 'utf8'), metaPath));
    assert.equal(layout.nSavedChannels, 17);
    assert.ok(Math.abs(layout.uvPerCount[0]! - 3.02734375) < 1e-6);
  }
  assert.notEqual(hashes['sim_g0_t0.imec0.ap.bin'], hashes['sim_g0_t0.imec1.ap.bin']);
});

test('CLI: bad options exit 2 with a message naming the option', () => {
  const out = path.join(tmp.dir, 'cli-bad');
  const cases: Array<[string[], RegExp]> = [
    [['--seconds', '-2'], /--seconds/],
    [['--probe', 'np3'], /--probe/],
    [['--channels', '500'], /--channels/],
    [['--channels', 'many'], /--channels.*expected an integer/],
  ];
  for (const [args, re] of cases) {
    const r = runCli(['simulate', out, ...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(existsSync(path.join(out, 'sim_g0_t0.imec0.ap.bin')), false);
  }
});

test('CLI: refuses a non-empty OUT without --force, replaces the simulation with it and keeps other files', () => {
  const out = path.join(tmp.dir, 'cli-out');
  const args = ['simulate', out, '--channels', '8', '--seconds', '0.5', '--units', '2', '--seed', '3'];
  assert.equal(runCli(args).status, 0);
  writeFileSync(path.join(out, 'notes.txt'), 'mine');
  const again = runCli(args);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /not empty.*--force/);
  const forced = runCli([
    ...args.slice(0, 2),
    '--channels',
    '8',
    '--seconds',
    '0.5',
    '--units',
    '2',
    '--seed',
    '4',
    '--force',
  ]);
  assert.equal(forced.status, 0, forced.stderr);
  assert.match(forced.stdout, /2 true units/);
  assert.equal(readFileSync(path.join(out, 'notes.txt'), 'utf8'), 'mine');
  assert.equal(readGroundTruth(path.join(out, 'ground_truth', 'imec0')).seed, 4);
});

// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spikeGlxMeta } from '../../../native/lib/index.js';
import { runCli } from '../../helpers/cli.js';
import { tmpDir } from '../../helpers/tmp.js';

/** A session folder with an NP1.0 probe (imec0, 64 channels) and an NP2.0 four-shank probe (imec1, 32 channels). */
function writeSession(dir: string, extraBytesOnImec1 = 0): void {
  for (const [i, probeType, nChannels] of [
    [0, 'np1', 64],
    [1, 'np2-4shank', 32],
  ] as const) {
    const sub = path.join(dir, `run_g0_imec${i}`);
    mkdirSync(sub, { recursive: true });
    const nSamples = 3000;
    const base = path.join(sub, `run_g0_t0.imec${i}.ap`);
    writeFileSync(`${base}.meta`, spikeGlxMeta({ probeType, nChannels, sampleRateHz: 30000, nSamples, probeIndex: i }));
    const extra = i === 1 ? extraBytesOnImec1 : 0;
    writeFileSync(`${base}.bin`, Buffer.alloc(nSamples * (nChannels + 1) * 2 + extra));
  }
}

test('info prints each probe of a session folder', () => {
  const { dir, cleanup } = tmpDir();
  try {
    writeSession(dir);
    const r = runCli(['info', dir]);
    assert.equal(r.status, 0, r.stderr);
    const [first, second] = r.stdout.split(/\n\n/);
    assert.match(first!, /^imec0: Neuropixels 1\.0 \(np1, imDatPrb_type 0\)/);
    assert.match(first!, /channels +64 neural \+ 1 sync \(65 saved; sync is column 64\)/);
    assert.match(first!, /sample rate +30000 Hz/);
    assert.match(first!, /duration +0\.100 s \(3000 samples\)/);
    assert.match(first!, /file size +390\.0 kB \(390000 bytes\)/);
    assert.match(first!, /µV\/count +2\.34375/);
    assert.match(first!, /geometry +1 shank; x 11 to 59 µm, y 0 to 620 µm; 64 of 64 sites used \(from ~snsGeomMap\)/);
    assert.match(first!, /problems +none/);
    assert.match(second!, /^imec1: Neuropixels 2\.0 four-shank/);
    assert.match(second!, /µV\/count +3\.02734/);
    assert.match(second!, /4 shanks 250 µm apart; x 27 to 809 µm, y 0 to 45 µm/);
  } finally {
    cleanup();
  }
});

test('info --json prints one object per probe', () => {
  const { dir, cleanup } = tmpDir();
  try {
    writeSession(dir);
    const r = runCli(['info', '--json', dir]);
    assert.equal(r.status, 0, r.stderr);
    const probes = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    assert.equal(probes.length, 2);
    assert.equal(probes[0]!['label'], 'imec0');
    assert.equal(probes[0]!['nChannels'], 64);
    assert.equal(probes[0]!['syncColumn'], 64);
    assert.equal(probes[1]!['probeType'], 'np2-4shank');
    const geometry = probes[1]!['geometry'] as { channels: Array<{ shank: number }>; shankPitchUm: number };
    assert.equal(geometry.channels.length, 32);
    assert.equal(geometry.channels[8]!.shank, 1);
    assert.equal(geometry.shankPitchUm, 250);
  } finally {
    cleanup();
  }
});

test('info on bad input exits 3 with a message naming the file', () => {
  const { dir, cleanup } = tmpDir();
  try {
    const meta = path.join(dir, 'bad.imec0.ap.meta');
    writeFileSync(meta, 'imSampRate=30000\nsnsApLfSy=384,0,1\n');
    writeFileSync(path.join(dir, 'bad.imec0.ap.bin'), Buffer.alloc(770));
    const r = runCli(['info', meta]);
    assert.equal(r.status, 3);
    assert.ok(r.stderr.includes(`${meta}: missing key nSavedChans`), r.stderr);

    const missing = runCli(['info', path.join(dir, 'absent.ap.bin')]);
    assert.equal(missing.status, 3);
    assert.match(missing.stderr, /absent\.ap\.bin: no such file/);
  } finally {
    cleanup();
  }
});

test('info on a truncated .bin exits 3 and names the flag; --allow-partial-sample reports a problem instead', () => {
  const { dir, cleanup } = tmpDir();
  try {
    writeSession(dir, 11);
    const r = runCli(['info', dir]);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /run_g0_t0\.imec1\.ap\.bin: holds 198011 bytes/);
    assert.match(r.stderr, /leaves 11 bytes over/);
    assert.match(r.stderr, /--allow-partial-sample/);
    assert.match(r.stdout, /^imec0:/, 'the probes that can be read are still described');

    const ok = runCli(['info', '--allow-partial-sample', dir]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /problems +- .*11 bytes over.*3000 whole samples are used/);
  } finally {
    cleanup();
  }
});

// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { discoverSession } from '../../../native/lib/index.js';
import { InputError } from '../../../proto/errors.js';
import { tmpDir } from '../../helpers/tmp.js';
import { metaText, np1Meta, np3aMeta, writeBin, writeSpikeGlx } from './fixtures.js';

test('a SpikeGLX run folder: probes found in their sub-folders, sorted by probe index, strays reported', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    // imec1 is created first and sorts before imec0 by folder name only if sorted wrongly.
    for (const i of [1, 0]) {
      const sub = path.join(dir, 'run_g0', `run_g0_imec${i}`);
      mkdirSync(sub, { recursive: true });
      writeSpikeGlx(path.join(sub, `run_g0_t0.imec${i}.ap`), np1Meta(10), 10);
      writeFileSync(path.join(sub, `run_g0_t0.imec${i}.lf.meta`), 'typeThis=imec\n');
      writeBin(path.join(sub, `run_g0_t0.imec${i}.lf.bin`), 1, 385);
    }
    writeFileSync(path.join(dir, 'run_g0', 'run_g0_t0.nidq.meta'), 'typeThis=nidq\n');
    writeBin(path.join(dir, 'run_g0', 'run_g0_t0.nidq.bin'), 1, 9);
    writeFileSync(path.join(dir, 'orphan.imec7.ap.meta'), metaText(np1Meta(10)));
    writeBin(path.join(dir, 'lonely.bin'), 1, 4);
    writeFileSync(path.join(dir, 'notes.json'), '{}');
    writeBin(path.join(dir, 'renamed.bin'), 1, 385);
    writeFileSync(path.join(dir, 'renamed.meta'), metaText(np1Meta(1)));

    const s = await discoverSession(dir);
    assert.equal(s.root, dir);
    assert.deepEqual(
      s.probes.map((p) => [p.label, p.probeIndex, p.format]),
      [
        ['imec0', 0, 'spikeglx'],
        ['imec1', 1, 'spikeglx'],
      ],
    );
    assert.equal(s.probes[0]!.binPath, path.join(dir, 'run_g0', 'run_g0_imec0', 'run_g0_t0.imec0.ap.bin'));
    assert.equal(s.probes[0]!.metaPath, path.join(dir, 'run_g0', 'run_g0_imec0', 'run_g0_t0.imec0.ap.meta'));
    assert.equal(s.problems.length, 3);
    assert.ok(s.problems.some((p) => /renamed\.bin is not named like an AP stream/.test(p)));
    assert.ok(s.problems.some((p) => /orphan\.imec7\.ap\.meta has no orphan\.imec7\.ap\.bin/.test(p)));
    assert.ok(s.problems.some((p) => /lonely\.bin has neither a \.meta nor a \.json/.test(p)));
  } finally {
    cleanup();
  }
});

test('a .bin without its .meta is reported; plain .bin + .json pairs are probes', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    writeBin(path.join(dir, 'x_g0_t0.imec0.ap.bin'), 2, 385);
    writeBin(path.join(dir, 'tetrode.bin'), 2, 4);
    writeFileSync(path.join(dir, 'tetrode.json'), '{}');
    const s = await discoverSession(dir);
    assert.deepEqual(
      s.probes.map((p) => [p.label, p.format]),
      [['tetrode', 'raw']],
    );
    assert.deepEqual(s.problems, ['x_g0_t0.imec0.ap.bin has no x_g0_t0.imec0.ap.meta beside it; skipped']);
  } finally {
    cleanup();
  }
});

test('3A files all named .imec. get their folder names as labels', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    for (const probe of ['probe01', 'probe00']) {
      mkdirSync(path.join(dir, probe));
      writeSpikeGlx(path.join(dir, probe, `_spikeglx_ephysData_${probe}_g0_t0.imec.ap`), np3aMeta(4), 4);
    }
    const s = await discoverSession(dir);
    assert.deepEqual(
      s.probes.map((p) => p.label),
      ['probe00', 'probe01'],
    );
    assert.equal(s.problems.length, 2);
  } finally {
    cleanup();
  }
});

test('a single file gives its own probe; a folder without probes is an InputError naming it', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const base = path.join(dir, 'r_g0_t0.imec2.ap');
    writeSpikeGlx(base, np1Meta(3), 3);
    const single = await discoverSession(`${base}.meta`);
    assert.deepEqual(
      single.probes.map((p) => [p.label, p.probeIndex, p.binPath]),
      [['imec2', 2, `${base}.bin`]],
    );

    const empty = path.join(dir, 'empty');
    mkdirSync(path.join(empty, 'deeper'), { recursive: true });
    writeFileSync(path.join(empty, 'deeper', 'y.imec0.ap.meta'), 'x=1\n');
    await assert.rejects(discoverSession(empty), (e: unknown) => {
      return (
        e instanceof InputError &&
        e.file === empty &&
        /no probe recording found/.test(e.message) &&
        /y\.imec0\.ap\.meta has no/.test(e.message)
      );
    });
    await assert.rejects(discoverSession(path.join(dir, 'nope')), /no such file or folder/);
  } finally {
    cleanup();
  }
});

test('the search stops at maxDepth', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const deep = path.join(dir, 'a', 'b', 'c');
    mkdirSync(deep, { recursive: true });
    writeSpikeGlx(path.join(deep, 'r.imec0.ap'), np1Meta(2), 2);
    assert.equal((await discoverSession(dir, { maxDepth: 3 })).probes.length, 1);
    await assert.rejects(discoverSession(dir, { maxDepth: 2 }), /searched 2 folder levels/);
  } finally {
    cleanup();
  }
});

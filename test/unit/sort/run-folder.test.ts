// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Progress } from '../../../coordinator/progress.js';
import {
  Checkpoints,
  RUN_FOLDER_VERSION,
  LOCK_FILE,
  describeDifferences,
  lockRunFolder,
  runDigest,
  runEntries,
  sweepTemporaries,
  type InputFingerprint,
} from '../../../coordinator/sort/run-folder.js';
import { runRound } from '../../../coordinator/sort/rounds.js';
import { Slots } from '../../../coordinator/sort/slots.js';
import { silentLogger } from '../../../proto/log.js';
import { resolveParams } from '../../../proto/params.js';
import { tmpDir } from '../../helpers/tmp.js';

const input: InputFingerprint = {
  probe: 'imec0',
  bin: '/a/x.imec0.ap.bin',
  meta: '/a/x.imec0.ap.meta',
  fileBytes: 1000,
  channels: 32,
  samples: 100,
  sampleRateHz: 30000,
  metaSha256: 'm',
  binEndsSha256: 'b',
};
const versions = { spikeshard: '0.1.0', core: 1 };

test('runRound hands results to inOrder in item order whatever order they finish in, loaded ones included', async () => {
  // Item i finishes after delay[i] ticks: with 3 lanes, items 2–4 finish before item 0 and item 5 last.
  const delay = [3, 0, 1, 2, 1, 8];
  const ticks = (n: number): Promise<void> =>
    n === 0 ? Promise.resolve() : new Promise((resolve) => setImmediate(() => void ticks(n - 1).then(resolve)));
  const seen: string[] = [];
  const results = await runRound(
    silentLogger(),
    'round',
    [0, 1, 2, 3, 4, 5],
    3,
    async (x) => {
      await ticks(delay[x]!);
      seen.push(`done ${x}`);
      return x * 10;
    },
    {
      load: (i) => (i === 1 ? 10 : undefined),
      inOrder: (i, r) => {
        seen.push(`in order ${i}`);
        return r + 1;
      },
    },
  );
  assert.deepEqual(results, [1, 11, 21, 31, 41, 51]);
  const order = seen.filter((s) => s.startsWith('in order')).map((s) => Number(s.split(' ')[2]));
  assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
  // Item 0 is handed over only after it finished, and items 1.. not before item 0 (no waiting for the whole round).
  assert.ok(seen.indexOf('in order 0') > seen.indexOf('done 0'));
  assert.ok(seen.indexOf('done 0') > seen.indexOf('done 3'), 'the later items finished first');
  assert.ok(seen.indexOf('in order 4') < seen.indexOf('done 5'), 'item 4 was handed over before the round ended');
});

test('the digest ignores where the data lives but not what it is or how it is sorted', () => {
  const params = resolveParams({});
  const d = runDigest([input], params, versions);
  assert.equal(runDigest([{ ...input, bin: '/moved/x.bin' }], params, versions), d);
  assert.notEqual(runDigest([{ ...input, binEndsSha256: 'c' }], params, versions), d);
  assert.notEqual(runDigest([input], resolveParams({ seed: 2 }), versions), d);
  assert.notEqual(runDigest([input], params, { ...versions, core: 2 }), d);
});

test('differences are named: parameters, probes, contents, versions', () => {
  const params = resolveParams({});
  const earlier = { runFolder: RUN_FOLDER_VERSION, inputs: [input], params, versions };
  assert.deepEqual(describeDifferences(earlier, { inputs: [input], params, versions }), []);
  const diffs = describeDifferences(earlier, {
    inputs: [
      { ...input, metaSha256: 'n' },
      { ...input, probe: 'imec1' },
    ],
    params: resolveParams({ batchSamples: 32768 }),
    versions: { ...versions, spikeshard: '0.2.0' },
  });
  assert.deepEqual(diffs, [
    'parameter batchSamples: 65600 before, 32768 now',
    'probes: imec0 before, imec0,imec1 now',
    'recording imec0: metadata contents differ (/a/x.imec0.ap.bin before, /a/x.imec0.ap.bin now)',
    'spikeshard version: 0.1.0 before, 0.2.0 now',
  ]);
  assert.match(describeDifferences({}, { inputs: [input], params, versions })[0]!, /layout version undefined/);
});

test('temporaries are swept, other files kept; only a sort’s entries count as an earlier run', () => {
  const { dir, cleanup } = tmpDir('spikeshard-runfolder-');
  try {
    mkdirSync(path.join(dir, '.run', 'imec0', 'drift'), { recursive: true });
    mkdirSync(path.join(dir, 'imec0', '.phy.partial-123-abcd0123'), { recursive: true });
    writeFileSync(path.join(dir, '.run', 'imec0', 'drift', '.batch-00001.rec.77.0.tmp'), 'torn');
    writeFileSync(path.join(dir, '.run', 'imec0', 'drift', 'batch-00000.rec'), 'kept');
    mkdirSync(path.join(dir, 'workers'));
    writeFileSync(path.join(dir, '.secret'), 's');
    assert.equal(sweepTemporaries(path.join(dir, '.run')) + sweepTemporaries(path.join(dir, 'imec0')), 2);
    assert.ok(existsSync(path.join(dir, '.run', 'imec0', 'drift', 'batch-00000.rec')));
    assert.deepEqual(runEntries(dir, ['imec0']).sort(), ['.run', 'imec0']);
  } finally {
    cleanup();
  }
});

test('a round loads what an earlier run finished and computes only the rest', async () => {
  const { dir, cleanup } = tmpDir('spikeshard-runfolder-');
  try {
    const cp = new Checkpoints(dir, silentLogger());
    const items = [10, 20, 30, 40, 50];
    cp.save('extraction/batch-00001', Float64Array.from([21]));
    cp.save('extraction/batch-00003', Float64Array.from([41]));
    const computed: number[] = [];
    const results = await runRound(
      silentLogger(),
      'extraction',
      items,
      2,
      (x) => {
        computed.push(x);
        return Promise.resolve(Float64Array.from([x + 1]));
      },
      {
        load: (i) => cp.load<Float64Array>(`extraction/batch-0000${i}`),
        save: (i, r) => cp.save(`extraction/batch-0000${i}`, r),
      },
    );
    assert.deepEqual(computed.sort(), [10, 30, 50]);
    assert.deepEqual(
      results.map((r) => r[0]),
      [11, 21, 31, 41, 51],
    );
    assert.ok(cp.has('extraction/batch-00004'));
    cp.removeBatches('extraction');
    assert.ok(!cp.has('extraction/batch-00004'));
  } finally {
    cleanup();
  }
});

test('an unsynced checkpoint reloads bit for bit; torn by a crash, it is treated as missing', () => {
  const { dir, cleanup } = tmpDir('spikeshard-runfolder-');
  try {
    const cp = new Checkpoints(dir, silentLogger());
    const dWU = [Float64Array.from([1.5, -0, Number.MIN_VALUE]), Float64Array.from([Math.PI, -2])];
    cp.saveUnsynced('learning/state', { roundsDone: 3, state: { dWU, nsp: [0.25, 7] } });
    const back = cp.load<{ roundsDone: number; state: { dWU: Float64Array[]; nsp: number[] } }>('learning/state');
    assert.ok(back !== undefined);
    assert.equal(back.roundsDone, 3);
    assert.deepEqual(back.state.nsp, [0.25, 7]);
    back.state.dWU.forEach((d, j) => assert.deepEqual(new Uint8Array(d.buffer), new Uint8Array(dWU[j]!.buffer)));
    // Replaced in place, as every learning round does.
    cp.saveUnsynced('learning/state', { roundsDone: 4, state: { dWU, nsp: [1, 2] } });
    assert.equal(cp.load<{ roundsDone: number }>('learning/state')?.roundsDone, 4);
    // What a machine crash can leave under the new name: the body cut short.
    const file = cp.pathOf('learning/state');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 8));
    assert.equal(cp.load('learning/state'), undefined);
  } finally {
    cleanup();
  }
});

test('a checkpoint saved in the background is in place when its promise resolves; a failed one leaves nothing', async () => {
  const { dir, cleanup } = tmpDir('spikeshard-runfolder-');
  try {
    const cp = new Checkpoints(dir, silentLogger());
    const dWU = [Float64Array.from({ length: 5000 }, (_, i) => Math.sin(i)), Float64Array.from([-0, 2])];
    cp.saveUnsynced('learning/state', { roundsDone: 1, state: { dWU, nsp: [1, 2] } });
    const pending = cp.saveUnsyncedInBackground('learning/state', { roundsDone: 2, state: { dWU, nsp: [3, 4] } });
    await pending;
    const back = cp.load<{ roundsDone: number; state: { dWU: Float64Array[]; nsp: number[] } }>('learning/state');
    assert.equal(back?.roundsDone, 2);
    assert.deepEqual(back.state.nsp, [3, 4]);
    back.state.dWU.forEach((d, j) => assert.deepEqual(new Uint8Array(d.buffer), new Uint8Array(dWU[j]!.buffer)));
    // A key whose path is a non-empty folder cannot be renamed onto: the promise rejects and no
    // temporary file is left behind.
    mkdirSync(path.join(cp.pathOf('learning/blocked'), 'x'), { recursive: true });
    await assert.rejects(cp.saveUnsyncedInBackground('learning/blocked', { dWU }));
    assert.deepEqual(
      readdirSync(path.join(dir, 'learning')).filter((n) => n.endsWith('.tmp')),
      [],
    );
  } finally {
    cleanup();
  }
});

test('shared slots never exceed the capacity and serve probes in turn', async () => {
  const slots = new Slots(() => 2);
  let inFlight = 0;
  let most = 0;
  const order: string[] = [];
  const job = (probe: string, n: number) =>
    runRound(
      silentLogger(),
      probe,
      Array.from({ length: n }, (_, i) => i),
      2,
      async (i) => {
        inFlight++;
        most = Math.max(most, inFlight);
        order.push(`${probe}${i}`);
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        return i;
      },
      { slots },
    );
  await Promise.all([job('a', 6), job('b', 6)]);
  assert.equal(most, 2);
  // Both probes' requests are interleaved from the start: neither waits for the other to finish.
  assert.ok(
    order.slice(0, 4).some((s) => s.startsWith('b')),
    order.join(' '),
  );
  assert.ok(
    order.slice(0, 4).some((s) => s.startsWith('a')),
    order.join(' '),
  );
});

test('progress: loaded items count as done but not in the rate; bars of concurrent rounds share a line', () => {
  let t = 0;
  const drawn: string[] = [];
  const opts = {
    tty: true,
    now: () => t,
    write: (s: string) => void drawn.push(s),
    columns: () => 200,
    unit: 'batches',
  };
  const log = silentLogger().child({ probe: 'imec1' });
  const a = new Progress(log, 'extraction', 10, opts);
  const b = new Progress(silentLogger().child({ probe: 'imec0' }), 'learning round 2/5', 8, opts);
  a.skip(4);
  t = 2000;
  a.advance(2);
  const f = a.fields(t);
  assert.equal(f.done, 6);
  assert.equal(f.loaded, 4);
  assert.equal(f.perSecond, 1);
  assert.equal(f.etaS, 4);
  const last = drawn.at(-1)!;
  assert.match(last, /imec1 extraction \[######----\] 60% 4s \| imec0 learning round 2\/5 \[----------\] 0% \?/);
  a.finish();
  b.finish();
  t = 3000;
  const c = new Progress(log, 'drift detection', 4, opts);
  t = 4000;
  c.advance(4);
  assert.match(drawn.at(-1)!, /^\rimec1 drift detection \[#{30}\] 100% 4\/4 batches, 4\.00\/s, 0s left/);
  c.finish();
});

test('a run folder is held by one sort: a live holder is refused, a dead one taken over', () => {
  const { dir, cleanup } = tmpDir('spikeshard-lock-');
  try {
    const lock = path.join(dir, LOCK_FILE);
    const release = lockRunFolder(dir, silentLogger());
    assert.equal((JSON.parse(readFileSync(lock, 'utf8')) as { pid: number }).pid, process.pid);
    release();
    assert.ok(!existsSync(lock));
    // The test runner's parent is alive on this host.
    writeFileSync(lock, JSON.stringify({ pid: process.ppid, host: os.hostname(), startedAt: 'x' }));
    assert.throws(() => lockRunFolder(dir, silentLogger()), /is in use by another spikeshard sort \(pid \d+/);
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(lock, JSON.stringify({ pid: Number(gone.stdout), host: os.hostname(), startedAt: 'x' }));
    const again = lockRunFolder(dir, silentLogger());
    assert.equal((JSON.parse(readFileSync(lock, 'utf8')) as { pid: number }).pid, process.pid);
    again();
    writeFileSync(lock, '{"pid": 1');
    lockRunFolder(dir, silentLogger())();
    assert.ok(!existsSync(lock));
    writeFileSync(lock, 'a file');
    assert.throws(
      () => lockRunFolder(path.join(lock, 'x'), silentLogger()),
      /output folder .* cannot be written: ENOTDIR/,
    );
  } finally {
    cleanup();
  }
});

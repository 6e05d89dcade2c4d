// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The native split kernels give the bits of the plain TS loops they replaced (sequential sums in
 * spike / feature order), on any thread count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bimodalPursuitRows,
  projectRows,
  runningMeanRows,
  solveLinearSystem,
  splitPursuit,
  weightedGram,
} from '../../../native/lib/index.js';
import { loadCpuBinding } from '../../../native/lib/load.js';
import { SeededRandom } from '../../../coordinator/plan/random.js';

function randomRows(seed: number, n: number, dims: number): Float64Array {
  const rng = new SeededRandom(seed);
  const x = Float64Array.from({ length: n * dims }, () => (rng.next() - 0.5) * 100);
  // Zeros (channels a spike's template lacks) take the kernels' one-spike path.
  for (let i = 0; i < n; i += 5) x[i * dims + (i % dims)] = 0;
  return x;
}

/** Bitwise equality of two float arrays (−0 and NaN included). */
function sameBits(got: Float64Array, want: Float64Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const a = new BigUint64Array(got.buffer, got.byteOffset, got.length);
  const b = new BigUint64Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < a.length; i++) assert.equal(a[i], b[i], `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

test('weightedGram is the sequential loop bit for bit, weighted or not, on 1 or 2 threads', () => {
  const n = 301;
  const dims = 13;
  const x = randomRows(1, n, dims);
  const rng = new SeededRandom(2);
  const w = Float64Array.from({ length: n }, () => rng.next() + 0.5);
  const t = Float64Array.from({ length: n }, () => rng.next() - 0.5);
  const want = new Float64Array(dims * dims);
  const wantRhs = new Float64Array(dims);
  const plain = new Float64Array(dims * dims);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < dims; c++) {
      const xc = x[i * dims + c]!;
      if (xc === 0) continue;
      wantRhs[c]! += xc * t[i]!;
      const q = xc * w[i]!;
      for (let d = c; d < dims; d++) {
        want[c * dims + d]! += q * x[i * dims + d]!;
        plain[c * dims + d]! += xc * x[i * dims + d]!;
      }
    }
  }
  for (let c = 0; c < dims; c++) {
    for (let d = 0; d < c; d++) {
      want[c * dims + d] = want[d * dims + c]!;
      plain[c * dims + d] = plain[d * dims + c]!;
    }
  }
  try {
    for (const threads of [1, 2]) {
      loadCpuBinding().setThreads(threads);
      const got = weightedGram(x, n, dims, w, t);
      sameBits(got.gram, want, `gram (${threads} threads)`);
      sameBits(got.rhs!, wantRhs, `rhs (${threads} threads)`);
      assert.equal(weightedGram(x, n, dims).rhs, null);
      sameBits(weightedGram(x, n, dims).gram, plain, `plain gram (${threads} threads)`);
    }
  } finally {
    loadCpuBinding().setThreads(0);
  }
  assert.throws(() => weightedGram(x, n + 1, dims), RangeError);
  assert.throws(() => weightedGram(x, n, dims, new Float64Array(3)), RangeError);
});

test('runningMeanRows is three running box sums, renormalised, as the former TS loop', () => {
  const n = 700;
  const dims = 5;
  const half = 40;
  const x = randomRows(3, n, dims);
  // The former implementation: one column at a time, add the entering row then drop the leaving one.
  let cur = x;
  let weight = new Float64Array(n).fill(1);
  for (let pass = 0; pass < 3; pass++) {
    const next = new Float64Array(n * dims);
    const nextW = new Float64Array(n);
    for (let d = -1; d < dims; d++) {
      const get = (i: number): number => (d < 0 ? weight[i]! : cur[i * dims + d]!);
      let acc = 0;
      for (let i = 0; i < Math.min(n, half + 1); i++) acc += get(i);
      for (let i = 0; i < n; i++) {
        if (d < 0) nextW[i] = acc;
        else next[i * dims + d] = acc;
        if (i + half + 1 < n) acc += get(i + half + 1);
        if (i - half >= 0) acc -= get(i - half);
      }
    }
    cur = next;
    weight = nextW;
  }
  const want = Float64Array.from(cur, (v, k) => v / weight[Math.floor(k / dims)]!);
  sameBits(runningMeanRows(x, n, dims, half), want, 'running mean');
  // Fewer rows than the window: every row sees all of them.
  const few = runningMeanRows(Float64Array.of(1, 2, 3), 3, 1, 10);
  for (const v of few) assert.ok(Math.abs(v - 2) < 1e-12);
});

test('projectRows sums each row in feature order', () => {
  const n = 103;
  const dims = 11;
  const x = randomRows(4, n, dims);
  const w = Float64Array.from({ length: dims }, (_, d) => 1 / (d + 1));
  const want = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dims; d++) s += x[i * dims + d]! * w[d]!;
    want[i] = s;
  }
  sameBits(projectRows(x, n, dims, w), want, 'projections');
  assert.throws(() => projectRows(x, n, dims, new Float64Array(dims + 1)), RangeError);
});

test('solveLinearSystem is the former elimination bit for bit, and refuses a singular matrix', () => {
  const n = 23;
  const rng = new SeededRandom(6);
  const a = Float64Array.from({ length: n * n }, () => rng.next() - 0.5);
  for (let i = 0; i < n; i++) a[i * n + ((i * 7) % n)]! += 2; // pivots off the diagonal: rows swap
  a[5 * n] = 0; // a zero factor is skipped
  const b = Float64Array.from({ length: n }, () => rng.next());
  // The former TS implementation.
  const m = Float64Array.from(a);
  const want = Float64Array.from(b);
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r * n + col]!) > Math.abs(m[piv * n + col]!)) piv = r;
    for (let k = 0; k < n; k++) [m[col * n + k], m[piv * n + k]] = [m[piv * n + k]!, m[col * n + k]!];
    [want[col], want[piv]] = [want[piv]!, want[col]!];
    for (let r = col + 1; r < n; r++) {
      const f = m[r * n + col]! / m[col * n + col]!;
      if (f === 0) continue;
      for (let k = col; k < n; k++) m[r * n + k]! -= f * m[col * n + k]!;
      want[r]! -= f * want[col]!;
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = want[r]!;
    for (let k = r + 1; k < n; k++) s -= m[r * n + k]! * want[k]!;
    want[r] = s / m[r * n + r]!;
  }
  sameBits(solveLinearSystem(a, b, n), want, 'solution');
  // A·x ≈ b
  const x = solveLinearSystem(a, b, n);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += a[r * n + k]! * x[k]!;
    assert.ok(Math.abs(s - b[r]!) < 1e-9, `row ${r}`);
  }
  assert.throws(() => solveLinearSystem(Float64Array.of(1, 2, 2, 4), Float64Array.of(1, 1), 2), /singular/);
});

/** Byte equality of two float arrays (fast on millions of values; sameBits says where they differ). */
function sameBytes(got: Float64Array, want: Float64Array, what: string): void {
  const a = Buffer.from(got.buffer, got.byteOffset, got.byteLength);
  const b = Buffer.from(want.buffer, want.byteOffset, want.byteLength);
  if (!a.equals(b)) sameBits(got, want, what);
}

test('the kernels give the same bits for any explicit thread count, and refuse a bad one', () => {
  // Large enough that the kernels use the threads they are given (small inputs run on one).
  const n = 66_000;
  const dims = 64;
  const x = randomRows(7, n, dims);
  const rng = new SeededRandom(8);
  const w = Float64Array.from({ length: n }, () => rng.next() + 0.5);
  const t = Float64Array.from({ length: n }, () => rng.next() - 0.5);
  const dir = Float64Array.from({ length: dims }, (_, d) => Math.cos(d));
  const one = weightedGram(x, n, dims, w, t, 1);
  const oneMean = runningMeanRows(x, n, dims, 100, 1);
  const oneProj = projectRows(x, n, dims, dir, 1);
  for (const threads of [0, 3]) {
    const got = weightedGram(x, n, dims, w, t, threads);
    sameBytes(got.gram, one.gram, `gram (${threads} threads)`);
    sameBytes(got.rhs!, one.rhs!, `rhs (${threads} threads)`);
    sameBytes(runningMeanRows(x, n, dims, 100, threads), oneMean, `running mean (${threads} threads)`);
    sameBytes(projectRows(x, n, dims, dir, threads), oneProj, `projections (${threads} threads)`);
  }
  const binding = loadCpuBinding();
  assert.throws(() => binding.postprocessWeightedGram(x, n, dims, null, null, -1), RangeError);
  assert.throws(() => binding.postprocessRunningMean(x, n, dims, 3, 1.5), RangeError);
  assert.throws(() => binding.postprocessProject(x, n, dims, dir, 5000), /at most 4096/);
});

/** Two populations 9 apart on the first feature, with a slow drift of every feature over spike order. */
function driftingBlobs(seed: number, n: number, dims: number): Float64Array {
  const rng = new SeededRandom(seed);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const x = new Float64Array(n * dims);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dims; d++) x[i * dims + d] = gauss() + (3 * i) / n;
    x[i * dims]! += i % 4 === 0 ? 6 : -3;
  }
  return x;
}

test('bimodalPursuitRows finds two populations; splitPursuit on its own thread is the same steps, bit for bit', async () => {
  const n = 800;
  const nPc = 2;
  const k = 3;
  const dims = nPc * k;
  const raw = driftingBlobs(3, n, dims);
  const half = 12;
  const centred = runningMeanRows(raw, n, dims, half, 1);
  for (let i = 0; i < centred.length; i++) centred[i] = raw[i]! - centred[i]!;
  const sync = bimodalPursuitRows(centred, n, dims, 1);
  const firstIsBlob = sync.inFirst[0] === 1;
  for (let i = 0; i < n; i++) assert.equal(sync.inFirst[i] === 1, (i % 4 === 0) === firstIsBlob, `spike ${i}`);
  assert.ok(Math.min(sync.confidenceFirst, sync.confidenceSecond) > 0.95);
  // The same features as float32 rows of template 0 (channels 4, 5, 6) behind decoy rows of
  // template 1 (channels 6, 5, 4: the same channels in reverse): members are every other row.
  const rows = new Float32Array(2 * n * dims);
  const templates = new Uint32Array(2 * n);
  const pcFeatureInd = Uint32Array.from([4, 5, 6, 6, 5, 4]);
  const exact = Float64Array.from(raw, (v) => Math.fround(v));
  for (let i = 0; i < n; i++) {
    rows.set(exact.subarray(i * dims, (i + 1) * dims), (2 * i + 1) * dims);
    templates[2 * i] = 1;
    rows.fill(1000, 2 * i * dims, (2 * i + 1) * dims);
  }
  const members = Int32Array.from({ length: n }, (_, i) => 2 * i + 1);
  const want = runningMeanRows(exact, n, dims, half, 1);
  for (let i = 0; i < want.length; i++) want[i] = exact[i]! - want[i]!;
  const wantFit = bimodalPursuitRows(want, n, dims, 1);
  const mean = (first: boolean): Float64Array => {
    const out = new Float64Array(dims);
    let count = 0;
    for (let i = 0; i < n; i++) {
      if ((wantFit.inFirst[i] === 1) !== first) continue;
      count++;
      for (let d = 0; d < dims; d++) out[d]! += exact[i * dims + d]!;
    }
    return out.map((v) => v / Math.max(1, count));
  };
  // Several at once, on 1 and 3 kernel threads: each the same as the calls on this thread.
  const fits = await Promise.all(
    [1, 3, 1].map((threads) => splitPursuit(rows, templates, members, pcFeatureInd, nPc, k, 0, half, threads)),
  );
  for (const fit of fits) {
    assert.deepEqual(fit.inFirst, wantFit.inFirst);
    assert.equal(fit.confidenceFirst, wantFit.confidenceFirst);
    assert.equal(fit.confidenceSecond, wantFit.confidenceSecond);
    sameBits(fit.meanFirst, mean(true), 'meanFirst');
    sameBits(fit.meanSecond, mean(false), 'meanSecond');
  }
});

test('the pursuits refuse bad arguments', async () => {
  const x = new Float64Array(12);
  assert.throws(() => bimodalPursuitRows(x, 5, 2), RangeError);
  assert.throws(() => bimodalPursuitRows(x, 6, 0), RangeError);
  assert.throws(() => bimodalPursuitRows(new Float32Array(12) as unknown as Float64Array, 6, 2), TypeError);
  const rows = new Float32Array(12);
  const templates = new Uint32Array(6);
  const ind = Uint32Array.from([0, 1]);
  const all = Int32Array.from([0, 1, 2, 3, 4, 5]);
  assert.throws(() => splitPursuit(rows, templates.subarray(1), all, ind, 1, 2, 0, 1), RangeError);
  assert.throws(() => splitPursuit(rows, templates, all, ind, 1, 2, 1, 1), RangeError);
  assert.throws(() => splitPursuit(rows, templates, all, ind, 1, 2, 0, -1), RangeError);
  assert.throws(
    () => splitPursuit(rows, templates, Uint32Array.from(all) as unknown as Int32Array, ind, 1, 2, 0, 1),
    TypeError,
  );
  await assert.rejects(splitPursuit(rows, templates, Int32Array.from([6]), ind, 1, 2, 0, 1), RangeError);
  // A constant cluster: no spike above the mean, so the EM stops at once and the second half holds all.
  const flat = await splitPursuit(rows.fill(2), templates, all, ind, 1, 2, 0, 1);
  assert.deepEqual([...flat.inFirst], [0, 0, 0, 0, 0, 0]);
  assert.equal(flat.confidenceFirst, 0);
  assert.deepEqual([...flat.meanSecond], [2, 2]);
});

// SPDX-License-Identifier: GPL-3.0-or-later
/** IBL's waveform extraction (waveforms.*): selection, neighbourhoods, values cut from a known raw file, the files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { writeAlf } from '../../../coordinator/export/alf.js';
import {
  channelNeighbourhoods,
  extractIblWaveforms,
  median,
  selectWaveformSpikes,
  type IblWaveforms,
} from '../../../coordinator/export/ibl-waveforms.js';
import { float16Bits, float16FromFloat32 } from '../../../coordinator/formats/float16.js';
import { decodeNpy, readNpy, toFloat64 } from '../../../coordinator/formats/npy.js';
import type { SortingResult } from '../../../coordinator/formats/sorting-result.js';
import {
  compressBin,
  finishIblWaveformsAsync,
  loadCpuBinding,
  toFloat16Bits,
  waveformMedians,
} from '../../../native/lib/index.js';
import { InputError } from '../../../proto/errors.js';
import { readStoredZip } from '../../helpers/alf-waveforms.js';
import { channelPeakToPeak, loadChecked } from '../../helpers/export-checks.js';
import { FIXTURE_UV_PER_COUNT, makeSortingFixture } from '../../helpers/sorting-fixture.js';
import { tmpDir } from '../../helpers/tmp.js';

const V_PER_COUNT = FIXTURE_UV_PER_COUNT * 1e-6;
const FLOAT16_NAN = 0x7e00;

/** The float32 volts of a raw count without preprocessing, rounded as the extraction rounds them (µV, then V). */
const rawVolts = (counts: number): number => Math.fround(Math.fround(counts * FIXTURE_UV_PER_COUNT) * 1e-6);

/** waveforms.traces as float16 bit patterns (U·M·N·L, C order). */
const traceBits = (w: IblWaveforms): Uint16Array => readNpy(w.tracesFile).data as Uint16Array;

/** A known value for every raw sample and column. */
const rawValue = (sample: number, column: number): number => ((sample * 7 + column * 13) % 2000) - 1000;

function writeRaw(file: string, r: SortingResult, value: (t: number, column: number) => number): void {
  const data = new Int16Array(r.nSamples * r.nChannelsDat);
  for (let t = 0; t < r.nSamples; t++)
    for (let c = 0; c < r.nChannelsDat; c++) data[t * r.nChannelsDat + c] = value(t, c);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, data);
}

function argmax(values: number[]): number {
  return values.indexOf(Math.max(...values));
}

test('median: the middle value, or the mean of the two middle ones, as after a sort (−0 before 0)', () => {
  assert.equal(median(Float64Array.from([3, 1, 2])), 2);
  assert.equal(median(Float64Array.from([4, 1, 3, 2])), 2.5);
  assert.ok(Object.is(median(Float64Array.from([0, -0, -0])), -0));
  assert.ok(Object.is(median(Float64Array.from([0, -0, 0])), 0));
  let seed = 3;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let trial = 0; trial < 2000; trial++) {
    const n = 1 + Math.floor(random() * 40);
    // Few distinct values, so that ties and runs are common; some sorted inputs.
    const values = Float64Array.from({ length: n }, () => Math.floor(random() * 7) - 3 + (random() < 0.2 ? 0.5 : 0));
    if (trial % 5 === 0) values.sort();
    const sorted = Float64Array.from(values).sort();
    const h = n >> 1;
    const want = n % 2 === 1 ? sorted[h]! : (sorted[h - 1]! + sorted[h]!) / 2;
    assert.ok(Object.is(median(values), want), `trial ${trial}: ${Array.from(sorted).join(' ')}`);
  }
});

test('native medians and float16: the same as median() and float16FromFloat32 on values with ties, ±0 and NaN', () => {
  let seed = 11;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (const m of [1, 2, 3, 8, 255, 256]) {
    const nValues = 70;
    // Few distinct values (ties, −0 and 0, NaN as missing waveforms) and some wide ones (odd means in float64).
    const traces = Float32Array.from({ length: m * nValues }, () => {
      const r = random();
      if (r < 0.1) return NaN;
      if (r < 0.3) return random() < 0.5 ? -0 : 0;
      if (r < 0.6) return Math.floor(random() * 5) - 2;
      return (random() - 0.5) * 1e-4;
    });
    const got = new Float32Array(nValues);
    waveformMedians(traces, got);
    for (let p = 0; p < nValues; p++) {
      const kept = Float64Array.from({ length: m }, (_, w) => traces[w * nValues + p]!).filter((v) => !Number.isNaN(v));
      const want = kept.length === 0 ? NaN : Math.fround(median(kept));
      assert.ok(Object.is(got[p], want), `m ${m}, value ${p}: ${got[p]} vs ${want}`);
    }
    const bits = new Uint16Array(traces.length);
    const want = new Uint16Array(traces.length);
    toFloat16Bits(traces, bits);
    float16FromFloat32(traces, want);
    assert.deepEqual(bits, want);
  }
  // Every float16 rounding case: all float32 patterns with a 13-bit low part of 0x0fff, 0x1000 or 0x1001.
  const patterns = new Uint32Array(3 * 2 ** 19);
  for (let hi = 0; hi < 2 ** 19; hi++) for (let k = 0; k < 3; k++) patterns[3 * hi + k] = (hi << 13) | (0x0fff + k);
  const values = new Float32Array(patterns.buffer);
  const bits = new Uint16Array(values.length);
  const want = new Uint16Array(values.length);
  toFloat16Bits(values, bits);
  float16FromFloat32(values, want);
  assert.deepEqual(bits, want);
});

test('native finish: per cluster, the medians and float16 of its scattered scratch rows, NaN-padded, for any thread count', async () => {
  const { dir, cleanup } = tmpDir('ibl-finish-');
  let seed = 5;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const nValues = 150;
  const M = 4;
  // 9 scratch rows in time order; clusters of 3, 0, 4 and 2 waveforms scattered over them.
  const scratchRows = Float32Array.from({ length: 9 * nValues }, () =>
    random() < 0.1 ? NaN : (random() - 0.5) * (random() < 0.5 ? 1e-4 : 1),
  );
  const rows = Uint32Array.from([7, 0, 4, 1, 2, 8, 5, 3, 6]);
  const firstRow = Float64Array.from([0, 3, 3, 7, 9]);
  const U = firstRow.length - 1;
  const scratchFile = path.join(dir, 'scratch');
  writeFileSync(scratchFile, scratchRows);
  const header = 10;
  const results: Buffer[] = [];
  for (const threads of [1, 3]) {
    loadCpuBinding().setThreads(threads);
    const tracesFile = path.join(dir, `traces-${threads}`);
    writeFileSync(tracesFile, Buffer.alloc(header, 0xab));
    const scratchFd = openSync(scratchFile, 'r');
    const tracesFd = openSync(tracesFile, 'r+');
    const templates = new Float32Array(U * nValues);
    try {
      await finishIblWaveformsAsync(
        { scratchFd, tracesFd, tracesOffset: header, rows, firstRow, maxPerCluster: M, nValues },
        templates,
      );
    } finally {
      closeSync(scratchFd);
      closeSync(tracesFd);
    }
    const bytes = readFileSync(tracesFile);
    assert.equal(bytes.length, header + U * M * nValues * 2);
    assert.ok(
      bytes.subarray(0, header).every((b) => b === 0xab),
      'the bytes before tracesOffset are left alone',
    );
    const traces = new Uint16Array(bytes.buffer.slice(bytes.byteOffset + header, bytes.byteOffset + bytes.length));
    for (let u = 0; u < U; u++) {
      const m = firstRow[u + 1]! - firstRow[u]!;
      const cluster = new Float32Array(m * nValues);
      for (let k = 0; k < m; k++) {
        const r = rows[firstRow[u]! + k]!;
        cluster.set(scratchRows.subarray(r * nValues, (r + 1) * nValues), k * nValues);
      }
      const want = new Float32Array(nValues);
      waveformMedians(cluster, want);
      assert.deepEqual(templates.subarray(u * nValues, (u + 1) * nValues), want, `cluster ${u}: medians`);
      const halves = new Uint16Array(M * nValues).fill(FLOAT16_NAN);
      toFloat16Bits(cluster, halves.subarray(0, m * nValues));
      assert.deepEqual(traces.subarray(u * M * nValues, (u + 1) * M * nValues), halves, `cluster ${u}: float16 traces`);
    }
    results.push(bytes);
  }
  loadCpuBinding().setThreads(0);
  assert.ok(results[0]!.equals(results[1]!));
  // A scratch file without the rows it should hold: the promise rejects.
  truncateSync(scratchFile, 3 * nValues * 4);
  const scratchFd = openSync(scratchFile, 'r');
  const tracesFd = openSync(path.join(dir, 'traces-short'), 'w');
  try {
    await assert.rejects(
      finishIblWaveformsAsync(
        { scratchFd, tracesFd, tracesOffset: 0, rows, firstRow, maxPerCluster: M, nValues },
        new Float32Array(U * nValues),
      ),
      /scratch read of \d+ bytes at byte \d+: the file ended/,
    );
  } finally {
    closeSync(scratchFd);
    closeSync(tracesFd);
  }
  assert.throws(
    () =>
      finishIblWaveformsAsync(
        { scratchFd, tracesFd, tracesOffset: 0, rows, firstRow: Float64Array.from([0, 5]), maxPerCluster: M, nValues },
        new Float32Array(nValues),
      ),
    RangeError,
  );
  cleanup();
});

test('neighbourhoods: channels within the radius in index order, padded with C', () => {
  // Four sites on a line at y = 0, 10, 30, 100 µm.
  const { index, width } = channelNeighbourhoods(Float64Array.from([0, 0, 0, 10, 0, 30, 0, 100]), 25);
  assert.equal(width, 3);
  assert.deepEqual(Array.from(index), [0, 1, 4, 0, 1, 2, 1, 2, 4, 3, 4, 4]);
  // The fixture's NP1.0 staggered sites (43/11/59/27 µm across, 20 µm rows): 200 µm holds all 8.
  const r = makeSortingFixture();
  assert.equal(channelNeighbourhoods(r.probe.sortingPositionsUm, 200).width, 8);
});

test('selection: spikes whose window fits, all of a small cluster, an even spread of a large one', () => {
  // Window of 10 samples with the trough at 3: the trough must be in (3, 100 − 7) = 4..92.
  const samples = [3, 4, 10, 20, 30, 40, 50, 92, 93, 60];
  const clusters = [0, 0, 0, 0, 0, 0, 0, 0, 2, 5];
  const { clusterIds, picked } = selectWaveformSpikes(samples, clusters, 100, 3, 3, 10);
  assert.deepEqual(Array.from(clusterIds), [0, 2, 5]);
  // Cluster 0 has 7 eligible spikes (1..7); k-th of 3 is eligible[⌊k·7/3⌋] = [0, 2, 4] → spikes 1, 3, 5.
  assert.deepEqual(picked, [[1, 3, 5], [], [9]]);
});

test('selection: the same picks as the definition, on random spikes of many clusters', () => {
  let seed = 7;
  const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const n = 5000;
  const samples = Array.from({ length: n }, () => Math.floor(random() * 20000)).sort((a, b) => a - b);
  const clusters = Array.from({ length: n }, () => Math.floor(random() * random() * 40));
  for (const max of [1, 7, 64, 1000]) {
    const { clusterIds, picked } = selectWaveformSpikes(samples, clusters, 20000, max, 42, 128);
    const ids = [...new Set(clusters)].sort((a, b) => a - b);
    assert.deepEqual(Array.from(clusterIds), ids);
    ids.forEach((id, u) => {
      const eligible = samples.flatMap((t, s) => (clusters[s] === id && t > 42 && t < 20000 - 86 ? [s] : []));
      const m = eligible.length;
      const want = m <= max ? eligible : Array.from({ length: max }, (_, k) => eligible[Math.floor((k * m) / max)]!);
      assert.deepEqual(picked[u], want, `cluster ${id}, at most ${max}`);
    });
  }
  assert.throws(() => selectWaveformSpikes([10], [-1], 100, 3, 3, 10), RangeError);
});

/** Writes the raw file and extracts without preprocessing; the values are raw counts × V per count. */
function rawCase(fn: (r: SortingResult, w: IblWaveforms, dir: string) => void | Promise<void>): Promise<void> {
  const { dir, cleanup } = tmpDir();
  const raw = path.join(dir, 'raw', 'rec.ap.bin');
  const r = makeSortingFixture({ datPath: raw, nSpikes: 200 });
  // A spike too close to the start (no whole window) and template 2 with only 3 spikes.
  r.spikes.samples[0] = 30;
  let kept = 0;
  r.spikes.templates.forEach((t, s) => {
    if (t === 2 && kept++ >= 3) r.spikes.templates[s] = 1;
  });
  writeRaw(raw, r, rawValue);
  return extractIblWaveforms(r, path.join(dir, 'wf'), { maxPerCluster: 5, preprocess: false, radiusUm: 30 })
    .then((w) => fn(r, w, dir))
    .finally(cleanup);
}

test('raw waveforms: 128 samples from 42 before the trough, on the peak channel neighbourhood, in volts', () =>
  rawCase((r, w, dir) => {
    const T = r.templates.count;
    const C = 8;
    assert.deepEqual(Array.from(w.clusterIds), [0, 1, 2]);
    const { index: nbr, width: N } = channelNeighbourhoods(r.probe.sortingPositionsUm, 30);
    assert.equal(w.nChannels, N);
    assert.ok(N < C, 'a 30 µm radius leaves some rows padded');
    const bits = traceBits(w);
    assert.deepEqual(readNpy(w.tracesFile).shape, [T, 5, N, 128]);
    // Only the traces file stays in the extraction's folder (no scratch file).
    assert.deepEqual(readdirSync(path.join(dir, 'wf')), ['waveforms.traces.npy']);
    const peaks = Array.from({ length: T }, (_, t) => argmax(channelPeakToPeak(r, null, t)));
    const own = (t: number): number[] =>
      Array.from(r.spikes.templates.keys()).filter((s) => r.spikes.templates[s] === t && r.spikes.samples[s]! > 42);
    for (let u = 0; u < T; u++) {
      const spikes = own(u);
      const n = spikes.length;
      const chosen = n <= 5 ? spikes : [0, 1, 2, 3, 4].map((k) => spikes[Math.floor((k * n) / 5)]!);
      for (let k = 0; k < 5; k++) {
        for (let j = 0; j < N; j++) {
          const c = nbr[peaks[u]! * N + j]!;
          for (const i of [0, 42, 127]) {
            const got = bits[((u * 5 + k) * N + j) * 128 + i]!;
            if (k >= chosen.length || c === C) {
              assert.equal(got, FLOAT16_NAN, `missing waveform or padding channel is NaN (${u}, ${k}, ${j})`);
              continue;
            }
            const want = rawVolts(rawValue(r.spikes.samples[chosen[k]!]! - 42 + i, r.probe.channelMap[c]!));
            assert.equal(got, float16Bits(want), `traces[${u}, ${k}, ${j}, ${i}]: float16 of ${want}`);
          }
        }
      }
    }
    // Spike 0 (trough at sample 30) has no whole window: it is never chosen.
    assert.ok(!Array.from(w.table.sample).includes(30));
  }));

test('raw waveforms: templates are medians, the table and channels follow cluster then time', () =>
  rawCase((r, w) => {
    const N = w.nChannels;
    const peaks = Array.from({ length: 3 }, (_, t) => argmax(channelPeakToPeak(r, null, t)));
    // Medians by hand of the float32 values (not of their float16 rounding in the traces file):
    // clusters 0 and 1 have 5 waveforms, cluster 2 has 3.
    const { index: nbr } = channelNeighbourhoods(r.probe.sortingPositionsUm, 30);
    for (const [u, m] of [
      [0, 5],
      [1, 5],
      [2, 3],
    ] as const) {
      for (const [j, i] of [
        [0, 60],
        [1, 42],
      ] as const) {
        const c = nbr[peaks[u]! * N + j]!;
        if (c === 8) continue;
        const values = Array.from({ length: m }, (_, k) =>
          rawVolts(rawValue(w.table.sample[u * 5 + k]! - 42 + i, r.probe.channelMap[c]!)),
        ).sort((a, b) => a - b);
        assert.equal(w.templates[(u * N + j) * 128 + i], values[(m - 1) / 2], `template (${u}, ${j}, ${i})`);
      }
    }
    // Table: rows u·5 + k; cluster 2 has 2 missing rows (NaN sample, index, channel; channels −1).
    assert.deepEqual(Array.from(w.table.cluster), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    assert.ok(Number.isNaN(w.table.sample[13]!) && Number.isNaN(w.table.index[14]!));
    assert.ok(Number.isNaN(w.table.peakChannel[14]!));
    assert.deepEqual(Array.from(w.channels.subarray(13 * N, 15 * N)), new Array(2 * N).fill(-1));
    for (let row = 0; row < 13; row++) {
      const u = Math.floor(row / 5);
      if (row % 5 > 0) assert.ok(w.table.sample[row]! > w.table.sample[row - 1]!, 'ascending within a cluster');
      assert.equal(w.table.peakChannel[row], peaks[u]);
      assert.deepEqual(
        Array.from(w.channels.subarray(row * N, (row + 1) * N)),
        Array.from(nbr.subarray(peaks[u]! * N, (peaks[u]! + 1) * N)),
      );
    }
    // "index": each waveform's rank among all 13 in time order.
    const real = Array.from({ length: 13 }, (_, row) => row);
    const byTime = [...real].sort((a, b) => w.table.sample[a]! - w.table.sample[b]!);
    byTime.forEach((row, rank) => assert.equal(w.table.index[row], rank));
  }));

test('preprocessed waveforms: offsets and a common signal removed, a planted spike kept', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const raw = path.join(dir, 'rec.ap.bin');
    const r = makeSortingFixture({ datPath: raw, nSpikes: 60 });
    r.probe.type = 'raw'; // no ADC shift, so the common signal is the same on every channel
    const peaks = Array.from({ length: 3 }, (_, t) => argmax(channelPeakToPeak(r, null, t)));
    const spikeAt = new Map<number, number>(); // sample → raw column of its cluster's peak channel
    r.spikes.samples.forEach((s, i) => spikeAt.set(s, r.probe.channelMap[peaks[r.spikes.templates[i]!]!]!));
    // Offsets of up to ±500 counts, a 1.5 kHz common signal of 100 counts, and a −200-count,
    // 3-sample trough at each spike on its cluster's peak channel.
    const pulse = (t: number, column: number): number => {
      for (let d = -1; d <= 1; d++) if (spikeAt.get(t - d) === column) return -200;
      return 0;
    };
    writeRaw(
      raw,
      r,
      (t, c) => ((c * 131) % 1000) - 500 + Math.round(100 * Math.sin((2 * Math.PI * 1500 * t) / 30000)) + pulse(t, c),
    );
    const w = await extractIblWaveforms(r, path.join(dir, 'wf'), { maxPerCluster: 4 });
    const N = w.nChannels;
    const volts = toFloat64(readNpy(w.tracesFile));
    assert.equal(N, 8);
    let checked = 0;
    for (let u = 0; u < 3; u++) {
      for (let k = 0; k < 4; k++) {
        const row = u * 4 + k;
        const sample = w.table.sample[row]!;
        const clear = [...spikeAt.keys()].every((s) => s === sample || Math.abs(s - sample) > 150);
        if (!clear) continue; // another spike in the window
        checked++;
        for (let j = 0; j < N; j++) {
          const c = w.channels[row * N + j]!;
          const trace = volts.subarray((row * N + j) * 128, (row * N + j + 1) * 128);
          if (c === peaks[u]) {
            // The 3-sample trough survives the 300 Hz high-pass at about 80 % of its depth.
            const trough = trace[42]! / V_PER_COUNT;
            assert.ok(trough < -150 && trough > -210, `trough ${trough} counts`);
          } else {
            const worst = Math.max(...Array.from(trace, (v) => Math.abs(v / V_PER_COUNT)));
            assert.ok(worst < 15, `channel ${c}: offset and common signal left ${worst} counts`);
          }
        }
      }
    }
    assert.ok(checked >= 6, `${checked} waveforms without a neighbour spike`);
  } finally {
    cleanup();
  }
});

test('preprocessed waveforms: the first columns in order are read in place, with the same result as a copy', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    // The fixture's map skips raw column 4; the same channels in columns 0..7 read in place.
    const mapped = makeSortingFixture({ datPath: path.join(dir, 'mapped.ap.bin'), nSpikes: 40 });
    mapped.probe.type = 'raw'; // no ADC shift, which follows the raw column
    const inPlace: SortingResult = {
      ...mapped,
      datPath: path.join(dir, 'in-place.ap.bin'),
      probe: { ...mapped.probe, channelMap: Int32Array.from({ length: 8 }, (_, c) => c) },
    };
    const noisy = (t: number, column: number): number => ((t * 31 + column * 17) % 400) - 200;
    writeRaw(mapped.datPath, mapped, noisy);
    writeRaw(inPlace.datPath, inPlace, (t, column) => (column < 8 ? noisy(t, mapped.probe.channelMap[column]!) : 1000));
    const a = await extractIblWaveforms(mapped, path.join(dir, 'a'), { maxPerCluster: 3 });
    const b = await extractIblWaveforms(inPlace, path.join(dir, 'b'), { maxPerCluster: 3 });
    assert.deepEqual(readFileSync(b.tracesFile), readFileSync(a.tracesFile));
    assert.deepEqual(b.templates, a.templates);
    assert.ok(a.templates.some((v) => v !== 0 && !Number.isNaN(v)));
  } finally {
    cleanup();
  }
});

test('a .cbin gives the same waveforms as its .bin; a short raw file is an InputError and leaves no file', async () => {
  const { dir, cleanup } = tmpDir();
  try {
    const raw = path.join(dir, 'rec.ap.bin');
    const r = makeSortingFixture({ datPath: raw, nSpikes: 50 });
    writeRaw(raw, r, rawValue);
    const fromBin = await extractIblWaveforms(r, path.join(dir, 'bin'), { maxPerCluster: 3 });
    const { cbinPath } = await compressBin(raw, {
      nChannels: r.nChannelsDat,
      sampleRateHz: 30000,
      chunkDurationS: 0.3,
    });
    const fromCbin = await extractIblWaveforms({ ...r, datPath: cbinPath }, path.join(dir, 'cbin'), {
      maxPerCluster: 3,
    });
    assert.deepEqual(readFileSync(fromCbin.tracesFile), readFileSync(fromBin.tracesFile));
    assert.deepEqual(fromCbin.templates, fromBin.templates);
    writeFileSync(raw, Buffer.alloc(100));
    await assert.rejects(extractIblWaveforms(r, path.join(dir, 'short')), InputError);
    assert.deepEqual(readdirSync(path.join(dir, 'short')), [], 'neither the traces nor the scratch file is left');
  } finally {
    cleanup();
  }
});

test('ALF: waveforms.traces (float16 V), templates (float32 V), table.pqt and channels.npz', () =>
  rawCase(async (r, w, dir) => {
    const alf = writeAlf(path.join(dir, 'alf'), r, { runId: 'w', waveforms: w });
    const N = w.nChannels;
    loadChecked(alf, 'waveforms.traces.npy', '<f2', [3, 5, N, 128]);
    // The extraction's file itself (linked, not consumed: it is still in place).
    assert.deepEqual(readFileSync(path.join(alf, 'waveforms.traces.npy')), readFileSync(w.tracesFile));
    assert.deepEqual(loadChecked(alf, 'waveforms.templates.npy', '<f4', [3, N, 128]).data, w.templates);
    const zip = readStoredZip(readFileSync(path.join(alf, 'waveforms.channels.npz')));
    assert.deepEqual([...zip.keys()], ['channels.npy']);
    const channels = decodeNpy(zip.get('channels.npy')!);
    assert.equal(channels.dtype, '<i2');
    assert.deepEqual(channels.shape, [15, N]);
    assert.deepEqual(channels.data, w.channels);
    const buffer = readFileSync(path.join(alf, 'waveforms.table.pqt'));
    const rows = (await parquetReadObjects({
      file: buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength),
    })) as Record<string, unknown>[];
    assert.equal(rows.length, 15);
    assert.deepEqual(Object.keys(rows[0]!), ['index', 'sample', 'cluster', 'peak_channel']);
    assert.equal(rows[0]!['sample'], w.table.sample[0]);
    assert.equal(rows[14]!['cluster'], 2n);
    assert.ok(Number.isNaN(rows[14]!['sample']));
    // Without the option nothing of it is written; waveforms of another result are refused.
    const plain = writeAlf(path.join(dir, 'alf2'), r, { runId: 'w' });
    assert.ok(!readFileSync(path.join(plain, 'params.py'), 'utf8').includes('waveforms'));
    const other = makeSortingFixture({ nTemplates: 2 });
    assert.throws(() => writeAlf(path.join(dir, 'alf3'), other, { runId: 'w', waveforms: w }), /clusterIds\[2\]/);
    // A traces file of another shape or cut short is refused before anything is written.
    assert.throws(
      () => writeAlf(path.join(dir, 'alf4'), r, { runId: 'w', waveforms: { ...w, maxPerCluster: 4 } }),
      RangeError,
    );
    truncateSync(w.tracesFile, 1000);
    assert.throws(() => writeAlf(path.join(dir, 'alf5'), r, { runId: 'w', waveforms: w }), InputError);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith('alf')),
      ['alf', 'alf2'],
    );
  }));

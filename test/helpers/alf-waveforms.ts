// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Checks of a sort's IBL waveform datasets (`waveforms.*` in an ALF collection) read back from
 * disk, against the same collection's spikes and clusters: shapes that agree with each other,
 * rows that are real spikes of their cluster, NaN exactly where nothing was cut.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { parquetReadObjects } from 'hyparquet';
import { float16Value } from '../../coordinator/formats/float16.js';
import { decodeNpy, readNpy, toFloat64 } from '../../coordinator/formats/npy.js';

export const IBL_WAVEFORM_FILES = [
  'waveforms.traces.npy',
  'waveforms.templates.npy',
  'waveforms.table.pqt',
  'waveforms.channels.npz',
] as const;

/** IBL's window: 128 samples, trough at sample 42. */
const LENGTH_SAMPLES = 128;
const TROUGH_SAMPLE = 42;

/** The members of a stored (uncompressed) ZIP, read by the APPNOTE layout, CRCs checked. */
export function readStoredZip(bytes: Buffer): Map<string, Buffer> {
  const members = new Map<string, Buffer>();
  const end = bytes.length - 22;
  assert.equal(bytes.readUInt32LE(end), 0x06054b50);
  const n = bytes.readUInt16LE(end + 10);
  let at = bytes.readUInt32LE(end + 16);
  for (let i = 0; i < n; i++) {
    assert.equal(bytes.readUInt32LE(at), 0x02014b50);
    const nameLength = bytes.readUInt16LE(at + 28);
    const name = bytes.toString('latin1', at + 46, at + 46 + nameLength);
    const local = bytes.readUInt32LE(at + 42);
    assert.equal(bytes.readUInt32LE(local), 0x04034b50);
    assert.equal(bytes.readUInt16LE(local + 8), 0, 'stored');
    const size = bytes.readUInt32LE(local + 18);
    const start = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    const body = bytes.subarray(start, start + size);
    assert.equal(zlib.crc32(body), bytes.readUInt32LE(local + 14), `${name} CRC-32`);
    members.set(name, body);
    at += 46 + nameLength + bytes.readUInt16LE(at + 30) + bytes.readUInt16LE(at + 32);
  }
  return members;
}

/** The rows of a parquet file as objects (hyparquet). */
export async function readParquetRows(file: string): Promise<Record<string, unknown>[]> {
  const buffer = readFileSync(file);
  return (await parquetReadObjects({
    file: buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength),
  })) as Record<string, unknown>[];
}

const isNaN16 = (bits: number): boolean => (bits & 0x7c00) === 0x7c00 && (bits & 0x3ff) !== 0;

/** What {@link checkAlfWaveforms} found. */
export interface AlfWaveformSummary {
  /** U, M, N, L of waveforms.traces. */
  clusters: number;
  perCluster: number;
  channels: number;
  samples: number;
  /** Table rows that hold a waveform (the others are NaN padding of clusters with fewer than M). */
  extracted: number;
  /** Clusters whose median waveform (waveforms.templates) is lowest on the peak channel within 3 samples of 42 (of those with waveforms). */
  troughAt42: number;
}

/**
 * Checks the four `waveforms.*` files of the collection `alf` (written with `perCluster` waveforms
 * per cluster from a recording of `nSamples` samples) against its spikes.* and clusters.*.
 */
export async function checkAlfWaveforms(
  alf: string,
  perCluster: number,
  nSamples: number,
): Promise<AlfWaveformSummary> {
  const spikeSamples = toFloat64(readNpy(path.join(alf, 'spikes.samples.npy')));
  const spikeClusters = toFloat64(readNpy(path.join(alf, 'spikes.clusters.npy')));
  const peakChannels = toFloat64(readNpy(path.join(alf, 'clusters.channels.npy')));
  const C = readNpy(path.join(alf, 'channels.rawInd.npy')).shape[0]!;

  const traces = readNpy(path.join(alf, 'waveforms.traces.npy'));
  assert.equal(traces.dtype, '<f2', 'waveforms.traces dtype');
  assert.equal(traces.shape.length, 4, `waveforms.traces shape ${JSON.stringify(traces.shape)}`);
  const [U, M, N, L] = traces.shape as [number, number, number, number];
  assert.equal(M, perCluster, 'waveforms per cluster');
  assert.equal(L, LENGTH_SAMPLES, 'samples per waveform');
  assert.ok(N >= 1 && N <= C, `channels per waveform ${N} of ${C}`);
  const bits = traces.data as Uint16Array;
  const templates = readNpy(path.join(alf, 'waveforms.templates.npy'));
  assert.equal(templates.dtype, '<f4');
  assert.deepEqual(templates.shape, [U, N, L], 'waveforms.templates shape');
  const zip = readStoredZip(readFileSync(path.join(alf, 'waveforms.channels.npz')));
  assert.deepEqual([...zip.keys()], ['channels.npy']);
  const channels = decodeNpy(zip.get('channels.npy')!);
  assert.equal(channels.dtype, '<i2');
  assert.deepEqual(channels.shape, [U * M, N], 'waveforms.channels shape');
  const rows = await readParquetRows(path.join(alf, 'waveforms.table.pqt'));
  assert.equal(rows.length, U * M, 'waveforms.table rows = clusters × waveforms per cluster');
  if (rows.length > 0) assert.deepEqual(Object.keys(rows[0]!), ['index', 'sample', 'cluster', 'peak_channel']);

  // Every cluster with a spike has its block of rows (empty when all its spikes are too close
  // to an end of the recording), in ascending cluster order.
  const spikesOf = new Map<number, number[]>();
  spikeClusters.forEach((c, s) => {
    if (!spikesOf.has(c)) spikesOf.set(c, []);
    spikesOf.get(c)!.push(spikeSamples[s]!);
  });
  const fits = (t: number): boolean => t > TROUGH_SAMPLE && t < nSamples - (L - TROUGH_SAMPLE);
  const clusterIds = Array.from({ length: U }, (_, u) => Number(rows[u * M]!['cluster']));
  assert.deepEqual(
    clusterIds,
    [...spikesOf.keys()].sort((a, b) => a - b),
    'one block of rows per cluster with spikes',
  );

  const ch = channels.data as Int16Array;
  const tpl = templates.data as Float32Array;
  const valid: { row: number; sample: number; index: number }[] = [];
  let troughAt42 = 0;
  for (let u = 0; u < U; u++) {
    const id = clusterIds[u]!;
    const own = spikesOf.get(id)!;
    const ownSamples = new Set(own);
    const eligible = own.filter(fits).length;
    let filled = 0;
    let previous = -Infinity;
    for (let k = 0; k < M; k++) {
      const row = u * M + k;
      const r = rows[row]!;
      assert.equal(Number(r['cluster']), id, `row ${row} cluster`);
      const sample = r['sample'] as number;
      const rowBits = bits.subarray(row * N * L, (row + 1) * N * L);
      const rowChannels = Array.from(ch.subarray(row * N, (row + 1) * N));
      if (Number.isNaN(sample)) {
        assert.ok(Number.isNaN(r['index']) && Number.isNaN(r['peak_channel']), `row ${row}`);
        assert.ok(
          rowChannels.every((c) => c === -1),
          `row ${row}: channels of a missing waveform are -1`,
        );
        assert.ok(rowBits.every(isNaN16), `row ${row}: a missing waveform is NaN`);
        continue;
      }
      assert.equal(k, filled, `row ${row}: waveforms come before the missing ones`);
      filled++;
      assert.ok(ownSamples.has(sample) && fits(sample), `row ${row}: sample ${sample} is a spike of ${id}`);
      assert.ok(sample > previous, `row ${row}: a cluster's waveforms are in time order`);
      previous = sample;
      valid.push({ row, sample, index: r['index'] as number });
      const peak = peakChannels[id]!;
      assert.equal(r['peak_channel'], peak, `row ${row} peak channel`);
      assert.ok(rowChannels.includes(peak), `row ${row}: the peak channel ${peak} is among ${rowChannels.join(',')}`);
      rowChannels.forEach((c, n) => {
        assert.ok(c >= 0 && c <= C && (n === 0 || c > rowChannels[n - 1]! || c === C), `row ${row} channels`);
        const wave = rowBits.subarray(n * L, (n + 1) * L);
        // Padding channels (C) are NaN, real ones hold volts of a plausible size.
        if (c === C) assert.ok(wave.every(isNaN16), `row ${row}: padding channel is NaN`);
        else
          assert.ok(
            wave.every((b) => Math.abs(float16Value(b)) < 0.01),
            `row ${row} channel ${c}: finite volts`,
          );
      });
    }
    assert.equal(filled, Math.min(M, eligible), `cluster ${id}: waveforms cut`);
    if (filled === 0) {
      const none = tpl.subarray(u * N * L, (u + 1) * N * L);
      assert.ok(
        none.every((v) => Number.isNaN(v)),
        `cluster ${id}: no waveforms, NaN median`,
      );
      continue;
    }
    const n = Array.from(ch.subarray(u * M * N, (u * M + 1) * N)).indexOf(peakChannels[id]!);
    const peakWave = tpl.subarray((u * N + n) * L, (u * N + n + 1) * L);
    assert.ok(
      peakWave.every((v) => Number.isFinite(v)),
      `cluster ${id}: median waveform on the peak channel`,
    );
    const trough = peakWave.indexOf(Math.min(...peakWave));
    if (Math.abs(trough - TROUGH_SAMPLE) <= 3) troughAt42++;
  }
  // index: the waveforms' order in time over all clusters.
  valid.sort((a, b) => a.index - b.index);
  valid.forEach((v, i) => {
    assert.equal(v.index, i, 'index numbers the waveforms 0..n-1');
    assert.ok(i === 0 || v.sample >= valid[i - 1]!.sample, `row ${v.row}: index is the time order`);
  });
  return { clusters: U, perCluster: M, channels: N, samples: L, extracted: valid.length, troughAt42 };
}

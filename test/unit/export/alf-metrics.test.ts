// SPDX-License-Identifier: GPL-3.0-or-later
/** The ALF collection's Parquet tables and channel noise, read back with an independent reader. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { writeAlf } from '../../../coordinator/export/alf.js';
import { readNpy } from '../../../coordinator/formats/npy.js';
import type { SortingResult } from '../../../coordinator/formats/sorting-result.js';
import { UNIT_METRIC_COLUMNS, unitMetrics } from '../../../coordinator/postprocess/metrics.js';
import { FIXTURE_UV_PER_COUNT, makeSortingFixture } from '../../helpers/sorting-fixture.js';
import { hasPandasParquet, python } from '../../helpers/python.js';
import { tmpDir } from '../../helpers/tmp.js';

async function readTable(file: string): Promise<Record<string, unknown>[]> {
  const bytes = readFileSync(file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return (await parquetReadObjects({ file: buffer })) as Record<string, unknown>[];
}

function numbers(file: string): number[] {
  return Array.from(readNpy(file).data as ArrayLike<number>, Number);
}

async function withAlf(
  change: (r: SortingResult) => void,
  fn: (alf: string, r: SortingResult) => Promise<void> | void,
  size: { nTemplates: number; nSpikes: number } = { nTemplates: 4, nSpikes: 600 },
): Promise<void> {
  const { dir, cleanup } = tmpDir();
  try {
    const r = makeSortingFixture(size);
    change(r);
    await fn(writeAlf(path.join(dir, 'alf'), r, { runId: 'metrics' }), r);
  } finally {
    cleanup();
  }
}

test('clusters.metrics.pqt: one row per cluster, IBL columns in order, values from the ALF spikes', async () => {
  await withAlf(
    () => {},
    async (alf, r) => {
      const rows = await readTable(path.join(alf, 'clusters.metrics.pqt'));
      const T = r.templates.count;
      assert.equal(rows.length, T);
      assert.deepEqual(Object.keys(rows[0]!), [...UNIT_METRIC_COLUMNS]);
      // Recomputed from the collection's own files (amps stored as float32 there, so compare loosely).
      const times = numbers(path.join(alf, 'spikes.times.npy'));
      const clusters = numbers(path.join(alf, 'spikes.clusters.npy'));
      const want = unitMetrics({
        timesS: times,
        clusters,
        ampsV: numbers(path.join(alf, 'spikes.amps.npy')),
        depthsUm: numbers(path.join(alf, 'spikes.depths.npy')),
        nClusters: T,
        ks2Labels: r.templates.labels,
      });
      for (let j = 0; j < T; j++) {
        const row = rows[j]!;
        assert.equal(row['cluster_id'], BigInt(j));
        assert.equal(row['spike_count'], clusters.filter((c) => c === j).length);
        assert.equal(row['ks2_label'], r.templates.labels[j]);
        assert.equal(row['bitwise_fail'], want.bitwise_fail[j]);
        for (const name of ['firing_rate', 'presence_ratio', 'amp_median', 'drift', 'max_confidence'] as const) {
          const got = row[name] as number;
          const expected = want[name][j]!;
          assert.ok(Math.abs(got - expected) <= 1e-5 * Math.abs(expected), `${name}[${j}]: ${got} vs ${expected}`);
        }
      }
    },
  );
});

test(
  'pandas reads clusters.metrics.pqt and passingSpikes.table.pqt as hyparquet does',
  { skip: hasPandasParquet() ? false : 'skipped: python3 has no pandas with a Parquet engine here' },
  async () => {
    await withAlf(
      () => {},
      async (alf) => {
        for (const name of ['clusters.metrics.pqt', 'passingSpikes.table.pqt']) {
          const file = path.join(alf, name);
          const rows = await readTable(file);
          // Column names from the schema (flat: the root, then one leaf per column): a table may have no rows.
          const bytes = readFileSync(file);
          const schema = parquetMetadata(
            bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
          ).schema;
          const columns = schema.slice(1).map((e) => e.name);
          const got = JSON.parse(
            python(
              `import json, pandas as pd; d = pd.read_parquet(${JSON.stringify(file)}); ` +
                'print(json.dumps({"columns": list(d.columns), "rows": len(d)}))',
            ),
          ) as { columns: string[]; rows: number };
          assert.deepEqual(got, { columns, rows: rows.length }, name);
        }
      },
    );
  },
);

test('passingSpikes.table.pqt holds exactly the spikes of clusters with bitwise_fail 0', async () => {
  // One unit firing every 11 ms (no refractory violation, ~90 Hz over 2 s), amplitudes spread
  // over a range: it passes every criterion; shrunk 1000× it fails the amplitude criterion.
  const regular = (r: SortingResult, ampScale: number): void => {
    r.spikes.samples = Float64Array.from(r.spikes.samples, (_, k) => 61 + k * 330);
    for (let s = 0; s < r.spikes.amplitudes.length; s++) r.spikes.amplitudes[s]! *= ampScale;
  };
  for (const [scale, passes] of [
    [10, true],
    [0.01, false],
  ] as const) {
    await withAlf(
      (r) => regular(r, scale),
      async (alf) => {
        const metrics = await readTable(path.join(alf, 'clusters.metrics.pqt'));
        assert.equal(metrics[0]!['bitwise_fail'], passes ? 0 : 4, `scale ${scale}`);
        const rows = await readTable(path.join(alf, 'passingSpikes.table.pqt'));
        const times = numbers(path.join(alf, 'spikes.times.npy'));
        assert.equal(rows.length, passes ? times.length : 0);
        if (passes) {
          assert.deepEqual(Object.keys(rows[0]!), ['times', 'clusters', 'amps', 'depths', 'templates', 'samples']);
          assert.deepEqual(
            rows.map((row) => row['times']),
            times,
          );
          assert.equal(rows[5]!['samples'], BigInt(61 + 5 * 330));
          assert.equal(rows[5]!['clusters'], 0);
        }
      },
      { nTemplates: 1, nSpikes: 180 },
    );
  }
});

test('channel noise from the whitening: a diagonal whitening 1/σ gives σ × V per count', async () => {
  const sigmaCounts = [5, 6, 7, 8, 9, 10, 11, 12];
  await withAlf(
    (r) => {
      const C = sigmaCounts.length;
      r.whitening.fill(0);
      for (let c = 0; c < C; c++) r.whitening[c * C + c] = 1 / sigmaCounts[c]!;
    },
    (alf) => {
      const noise = numbers(path.join(alf, '_spikeshard_channels.noiseRms.npy'));
      sigmaCounts.forEach((s, c) => {
        const want = s * FIXTURE_UV_PER_COUNT * 1e-6;
        assert.ok(Math.abs(noise[c]! - want) < 1e-12 * want + 1e-18, `channel ${c}: ${noise[c]} vs ${want}`);
      });
    },
  );
});

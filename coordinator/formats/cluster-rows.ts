// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * A cluster-ordered copy of one kind of feature rows, in a scratch file: each cluster's rows lie
 * contiguously, in spike order, so that a cluster is one read instead of one read per run of
 * consecutive spikes in every extraction record (thousands for a cluster spread over a long
 * recording). The copy is written by one scan over the source, through a bounded staging buffer
 * kept in cluster order: memory is the staging buffer, not the rows.
 *
 * File layout: float32 rows (`width` values each, little-endian as in memory), the clusters'
 * blocks back to back in ascending cluster id; it has no header and lives only as long as the
 * object (close() deletes it).
 */
import { closeSync, mkdirSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { RunError } from '../../proto/errors.js';
import type { FeatureKind, FeatureReadStats, SpikeFeatures } from './spike-features.js';

/** Staging buffer of the write, in bytes. */
export const DEFAULT_STAGE_BYTES = 32 * 2 ** 20;

/** What writing the copy cost. */
export interface ClusterRowsWriteStats {
  /** Positioned writes. */
  writes: number;
  bytes: number;
  /** Wall seconds of the scan and the writes together. */
  seconds: number;
}

export class ClusterOrderedRows {
  /** Floats per row. */
  readonly width: number;
  /** Reads of cluster blocks made so far. */
  readonly readStats: FeatureReadStats = { reads: 0, bytes: 0, seconds: 0 };
  readonly writeStats: ClusterRowsWriteStats = { writes: 0, bytes: 0, seconds: 0 };
  /** First row of each cluster's block; −1 for clusters not copied. */
  private readonly firstRow: Float64Array;
  private readonly nRows: Int32Array;
  private fd: number | null;

  /**
   * Writes the copy to `file` (its folder is created; a file left there is replaced).
   * @param members (nClusters) each cluster's spikes, ascending spike indices of `source`
   * @param wanted (nClusters) 1 for the clusters to copy
   * @param stageBytes staging buffer size; at least one row is staged
   */
  constructor(
    source: SpikeFeatures,
    kind: FeatureKind,
    members: readonly Int32Array[],
    wanted: Uint8Array,
    readonly file: string,
    stageBytes = DEFAULT_STAGE_BYTES,
  ) {
    if (wanted.length !== members.length) {
      throw new RangeError(`a mask of ${wanted.length} clusters does not fit ${members.length} clusters`);
    }
    const t0 = performance.now();
    const w = source.width(kind);
    this.width = w;
    const nClusters = members.length;
    this.firstRow = new Float64Array(nClusters).fill(-1);
    this.nRows = new Int32Array(nClusters);
    // The cluster of every copied spike (−1: not copied), and each cluster's next row in the file.
    const clusterOf = new Int32Array(source.nSpikes).fill(-1);
    const next = new Float64Array(nClusters);
    let total = 0;
    for (let c = 0; c < nClusters; c++) {
      if (!wanted[c]) continue;
      this.firstRow[c] = total;
      this.nRows[c] = members[c]!.length;
      next[c] = total;
      total += members[c]!.length;
      for (const s of members[c]!) {
        if (!(s >= 0 && s < source.nSpikes) || clusterOf[s] !== -1) {
          throw new RangeError(`spike ${s} of cluster ${c} is outside 0…${source.nSpikes - 1} or in two clusters`);
        }
        clusterOf[s] = c;
      }
    }
    // The cluster of each row the scan will deliver (the kept spikes, in spike order).
    const keep = new Uint8Array(source.nSpikes);
    const rowCluster = new Int32Array(total);
    for (let s = 0, r = 0; s < clusterOf.length; s++) {
      if (clusterOf[s]! < 0) continue;
      keep[s] = 1;
      rowCluster[r++] = clusterOf[s]!;
    }
    mkdirSync(path.dirname(file), { recursive: true });
    this.fd = openSync(file, 'w+');
    try {
      if (total > 0 && w > 0) this.copy(source, kind, keep, rowCluster, next, stageBytes);
    } catch (err) {
      this.close();
      throw err;
    }
    this.writeStats.seconds = (performance.now() - t0) / 1000;
  }

  /**
   * The scan's rows go straight to their place in a staging buffer kept in cluster order (which
   * rows a stage will receive is known in advance: `rowCluster`); a full stage is written with
   * one write per cluster present.
   */
  private copy(
    source: SpikeFeatures,
    kind: FeatureKind,
    keep: Uint8Array,
    rowCluster: Int32Array,
    next: Float64Array,
    stageBytes: number,
  ): void {
    const w = this.width;
    const total = rowCluster.length;
    const stageRows = Math.max(1, Math.min(total, Math.floor(stageBytes / (4 * w))));
    // Rows are copied as 32-bit integers: every bit pattern as it is.
    const staged = new Int32Array(stageRows * w);
    const nClusters = next.length;
    const start = new Int32Array(nClusters);
    const count = new Int32Array(nClusters);
    const at = new Int32Array(nClusters); // next value of each cluster in `staged`
    let end = 0; // end of the current stage's rows
    let row = 0; // the next row the scan delivers
    const prepare = (): void => {
      const first = end;
      end = Math.min(total, first + stageRows);
      count.fill(0);
      for (let r = first; r < end; r++) count[rowCluster[r]!]!++;
      let s = 0;
      for (let c = 0; c < nClusters; c++) {
        start[c] = s;
        at[c] = s * w;
        s += count[c]!;
      }
    };
    const flush = (): void => {
      for (let c = 0; c < nClusters; c++) {
        if (count[c] === 0) continue;
        const bytes = Buffer.from(staged.buffer, staged.byteOffset + start[c]! * w * 4, count[c]! * w * 4);
        const written = writeSync(this.fd!, bytes, 0, bytes.length, next[c]! * w * 4);
        if (written !== bytes.length) {
          throw new RunError(`${this.file}: short write (${written} of ${bytes.length} bytes)`);
        }
        this.writeStats.writes++;
        this.writeStats.bytes += written;
        next[c]! += count[c]!;
      }
    };
    prepare();
    source.scan(kind, keep, (chunk) => {
      const rows = chunk.length / w;
      if (row + rows > total) throw new RunError(`${this.file}: the source scanned more rows than were kept`);
      const from = new Int32Array(chunk.buffer, chunk.byteOffset, chunk.length);
      for (let r = 0; r < rows; r++) {
        const c = rowCluster[row]!;
        // Value by value: a view per row would cost more than its few dozen values.
        const dst = at[c]!;
        const src = r * w;
        for (let k = 0; k < w; k++) staged[dst + k] = from[src + k]!;
        at[c] = dst + w;
        if (++row === end) {
          flush();
          prepare();
        }
      }
    });
    if (row !== total) throw new RunError(`${this.file}: the source scanned ${row} rows, expected ${total}`);
  }

  /** Whether cluster `c`'s rows were copied. */
  has(c: number): boolean {
    return (this.firstRow[c] ?? -1) >= 0;
  }

  /** Cluster `c`'s rows (its spikes in ascending order × width), one read. */
  rows(c: number): Float32Array {
    if (!this.has(c)) throw new RangeError(`cluster ${c} has no rows in ${this.file}`);
    if (this.fd === null) throw new RunError(`${this.file}: read after close`);
    const out = new Float32Array(this.nRows[c]! * this.width);
    if (out.length === 0) return out;
    const t0 = performance.now();
    const bytes = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    const got = readSync(this.fd, bytes, 0, bytes.length, this.firstRow[c]! * this.width * 4);
    if (got !== bytes.length) throw new RunError(`${this.file}: cluster ${c}'s rows run past the end of the file`);
    this.readStats.reads++;
    this.readStats.bytes += got;
    this.readStats.seconds += (performance.now() - t0) / 1000;
    return out;
  }

  /** Closes and deletes the file. */
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    rmSync(this.file, { force: true });
  }
}

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The per-spike feature rows of a sort (template features, nSimilar floats per spike; PC features,
 * 3 × nNeighbours floats per spike): about 0.5 kB per spike, most of a sort's memory when held
 * whole. Post-processing reads them by cluster and the exporters in spike order, so a sort keeps
 * them where extraction's checkpoint records already hold them on disk and reads rows on demand:
 * memory is then bounded by the largest cluster, not by the recording's length.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { RunError } from '../../proto/errors.js';
import { locateRecordArrays } from './record.js';

export type FeatureKind = 'template' | 'pc';

export interface SpikeFeatures {
  readonly nSpikes: number;
  /** Floats per spike of each kind. */
  width(kind: FeatureKind): number;
  /** The rows of the given spikes (indices ascending), packed in that order. */
  gather(kind: FeatureKind, rows: ArrayLike<number>): Float32Array;
  /**
   * Every row (or those whose `keep` entry is 1), in spike order, in consecutive chunks of whole
   * rows. A chunk may be the source's own memory: the sink reads it before returning and keeps no
   * reference to it.
   */
  scan(kind: FeatureKind, keep: Uint8Array | null, sink: (chunk: Float32Array) => void): void;
  /** Releases open files. */
  close(): void;
}

function checkAscending(rows: ArrayLike<number>, nSpikes: number): void {
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (!(r >= 0 && r < nSpikes) || (i > 0 && r <= rows[i - 1]!)) {
      throw new RangeError(`feature rows must be ascending spike indices below ${nSpikes}; row ${i} is ${r}`);
    }
  }
}

/** Runs of at least this many floats are copied with one `set`; shorter ones value by value (no view per run). */
const SET_MIN_FLOATS = 512;

/**
 * Copies `count` rows of `width` floats from `from` (at row `fromRow`) to `to` (at row `toRow`),
 * as 32-bit integers: every bit pattern as it is, NaN payloads included.
 */
function copyRows(
  from: Int32Array,
  fromRow: number,
  to: Int32Array,
  toRow: number,
  count: number,
  width: number,
): void {
  const n = count * width;
  const src = fromRow * width;
  const dst = toRow * width;
  if (n >= SET_MIN_FLOATS) to.set(from.subarray(src, src + n), dst);
  else for (let k = 0; k < n; k++) to[dst + k] = from[src + k]!;
}

function int32View(a: Float32Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, a.length);
}

/**
 * The rows of `values` (`count` rows from spike `first`) whose `keep` entry is 1: `values` itself
 * when all are, else a packed copy, in `into` when given (large enough) or a new array.
 */
function keptRows(
  values: Float32Array,
  width: number,
  keep: Uint8Array,
  first: number,
  count: number,
  into: Float32Array | null = null,
): Float32Array {
  let n = 0;
  for (let i = 0; i < count; i++) n += keep[first + i]!;
  if (n === count) return values;
  const out = into === null ? new Float32Array(n * width) : into.subarray(0, n * width);
  const from = int32View(values);
  const to = int32View(out);
  let at = 0;
  for (let i = 0; i < count;) {
    if (!keep[first + i]) {
      i++;
      continue;
    }
    let end = i + 1;
    while (end < count && keep[first + end]) end++;
    copyRows(from, i, to, at, end - i, width);
    at += end - i;
    i = end;
  }
  return out;
}

/** Features held in memory (runs without a run folder, tests). */
export class MemorySpikeFeatures implements SpikeFeatures {
  constructor(
    readonly nSpikes: number,
    private readonly template: Float32Array,
    private readonly pc: Float32Array,
  ) {
    if (nSpikes > 0 && (template.length % nSpikes !== 0 || pc.length % nSpikes !== 0)) {
      throw new RangeError(
        `feature arrays of ${template.length} and ${pc.length} floats do not hold ${nSpikes} equal rows`,
      );
    }
  }

  private values(kind: FeatureKind): Float32Array {
    return kind === 'template' ? this.template : this.pc;
  }

  width(kind: FeatureKind): number {
    return this.nSpikes === 0 ? 0 : this.values(kind).length / this.nSpikes;
  }

  gather(kind: FeatureKind, rows: ArrayLike<number>): Float32Array {
    checkAscending(rows, this.nSpikes);
    const w = this.width(kind);
    const v = this.values(kind);
    const out = new Float32Array(rows.length * w);
    for (let i = 0; i < rows.length; i++) out.set(v.subarray(rows[i]! * w, (rows[i]! + 1) * w), i * w);
    return out;
  }

  scan(kind: FeatureKind, keep: Uint8Array | null, sink: (chunk: Float32Array) => void): void {
    if (this.nSpikes === 0) return;
    const v = this.values(kind);
    sink(keep === null ? v : keptRows(v, this.width(kind), keep, 0, this.nSpikes));
  }

  close(): void {}
}

/** One extraction batch's rows in its checkpoint record. */
export interface FeaturePart {
  file: string;
  /** Spikes of the batch. */
  count: number;
  /** Byte offsets in `file` of the batch's template and PC feature arrays (float32, row-major). */
  templateOffset: number;
  pcOffset: number;
}

/** Locates a saved extraction batch's feature arrays (keys templateFeatures, pcFeatures). */
export function featurePartOf(file: string, count: number): FeaturePart {
  const at = locateRecordArrays(file, ['templateFeatures', 'pcFeatures']);
  for (const [key, loc] of Object.entries(at)) {
    if (loc.dtype !== 'f4') throw new RunError(`${file}: ${key} is ${loc.dtype}, expected float32`);
  }
  return { file, count, templateOffset: at['templateFeatures']!.byteOffset, pcOffset: at['pcFeatures']!.byteOffset };
}

/** What a file-backed feature source has read so far (benchmarks, logs). */
export interface FeatureReadStats {
  /** Positioned reads. */
  reads: number;
  bytes: number;
  /** Wall seconds spent in them. */
  seconds: number;
}

/**
 * Features read from extraction's checkpoint records (one per batch, in spike order). Rows are read
 * with positioned reads, a whole batch's array at once when many of its rows are wanted.
 */
export class RecordSpikeFeatures implements SpikeFeatures {
  readonly nSpikes: number;
  /** Reads made so far. */
  readonly stats: FeatureReadStats = { reads: 0, bytes: 0, seconds: 0 };
  private readonly starts: number[];
  private readonly fds = new Map<string, number>();

  constructor(
    private readonly parts: readonly FeaturePart[],
    private readonly widths: { template: number; pc: number },
  ) {
    this.starts = [];
    let n = 0;
    for (const p of parts) {
      this.starts.push(n);
      n += p.count;
    }
    this.nSpikes = n;
  }

  width(kind: FeatureKind): number {
    return this.widths[kind];
  }

  private fd(file: string): number {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      fd = openSync(file, 'r');
      this.fds.set(file, fd);
    }
    return fd;
  }

  private read(part: FeaturePart, kind: FeatureKind, firstRow: number, nRows: number, into: Float32Array): void {
    const w = this.widths[kind];
    const base = kind === 'template' ? part.templateOffset : part.pcOffset;
    const bytes = Buffer.from(into.buffer, into.byteOffset, nRows * w * 4);
    const t0 = performance.now();
    const got = readSync(this.fd(part.file), bytes, 0, bytes.length, base + firstRow * w * 4);
    this.stats.reads++;
    this.stats.bytes += got;
    this.stats.seconds += (performance.now() - t0) / 1000;
    if (got !== bytes.length) {
      throw new RunError(`${part.file}: feature rows ${firstRow}…${firstRow + nRows - 1} run past the end of the file`);
    }
  }

  gather(kind: FeatureKind, rows: ArrayLike<number>): Float32Array {
    checkAscending(rows, this.nSpikes);
    const w = this.widths[kind];
    const out = new Float32Array(rows.length * w);
    let i = 0;
    let p = 0;
    while (i < rows.length) {
      while (this.starts[p]! + this.parts[p]!.count <= rows[i]!) p++;
      const part = this.parts[p]!;
      const start = this.starts[p]!;
      let end = i;
      while (end < rows.length && rows[end]! < start + part.count) end++;
      // Many rows of this batch: one read of its whole array is cheaper than a read per run.
      if ((end - i) * 8 >= part.count) {
        const whole = new Float32Array(part.count * w);
        this.read(part, kind, 0, part.count, whole);
        for (let k = i; k < end; k++)
          out.set(whole.subarray((rows[k]! - start) * w, (rows[k]! - start + 1) * w), k * w);
      } else {
        for (let k = i; k < end;) {
          let run = 1;
          while (k + run < end && rows[k + run]! === rows[k]! + run) run++;
          this.read(part, kind, rows[k]! - start, run, out.subarray(k * w, (k + run) * w));
          k += run;
        }
      }
      i = end;
    }
    return out;
  }

  scan(kind: FeatureKind, keep: Uint8Array | null, sink: (chunk: Float32Array) => void): void {
    const w = this.widths[kind];
    // The sink keeps no chunk past its call, so every batch is read into (and packed in) the same two buffers.
    let largest = 0;
    for (const part of this.parts) largest = Math.max(largest, part.count);
    const buffer = new Float32Array(largest * w);
    const packed = keep === null ? null : new Float32Array(largest * w);
    this.parts.forEach((part, p) => {
      if (part.count === 0) return;
      const values = buffer.subarray(0, part.count * w);
      this.read(part, kind, 0, part.count, values);
      sink(keep === null ? values : keptRows(values, w, keep, this.starts[p]!, part.count, packed));
    });
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

/**
 * The rows of some spikes of `base` (after duplicates removal, after the cut-off), renumbered
 * 0…n−1 in order, with template-feature rows optionally padded with zeros or cut to a given width
 * (phy's template_features holds K columns while extraction found nSimilar). Nothing is copied:
 * rows are read from `base` when gathered or scanned.
 */
export class SelectedSpikeFeatures implements SpikeFeatures {
  readonly nSpikes: number;
  /** Index in `base` of each selected spike, ascending. */
  private readonly baseRows: Int32Array;
  private readonly templateWidth: number;

  /**
   * @param keep (base.nSpikes,) 1 for the spikes selected
   * @param templateWidth floats per template-feature row; the base's width when null
   */
  constructor(
    private readonly base: SpikeFeatures,
    keep: Uint8Array,
    templateWidth: number | null = null,
  ) {
    if (keep.length !== base.nSpikes) {
      throw new RangeError(`a selection of ${keep.length} spikes does not fit features of ${base.nSpikes} spikes`);
    }
    let n = 0;
    for (const k of keep) n += k ? 1 : 0;
    this.baseRows = new Int32Array(n);
    let at = 0;
    for (let i = 0; i < keep.length; i++) if (keep[i]) this.baseRows[at++] = i;
    this.nSpikes = n;
    this.templateWidth = templateWidth ?? base.width('template');
    if (!(Number.isInteger(this.templateWidth) && this.templateWidth >= 0)) {
      throw new RangeError(`template-feature width must be a non-negative integer, got ${this.templateWidth}`);
    }
  }

  width(kind: FeatureKind): number {
    return kind === 'template' ? this.templateWidth : this.base.width('pc');
  }

  /** Base rows of `kind` at this view's width: the base's own when it already has that width. */
  private fit(kind: FeatureKind, rows: Float32Array): Float32Array {
    const from = this.base.width(kind);
    const to = this.width(kind);
    if (from === to) return rows;
    const n = from === 0 ? 0 : rows.length / from;
    const copied = Math.min(from, to);
    const out = new Float32Array(n * to);
    const src = int32View(rows);
    const dst = int32View(out);
    for (let r = 0; r < n; r++) for (let k = 0; k < copied; k++) dst[r * to + k] = src[r * from + k]!;
    return out;
  }

  gather(kind: FeatureKind, rows: ArrayLike<number>): Float32Array {
    checkAscending(rows, this.nSpikes);
    const mapped = new Int32Array(rows.length);
    for (let i = 0; i < rows.length; i++) mapped[i] = this.baseRows[rows[i]!]!;
    return this.fit(kind, this.base.gather(kind, mapped));
  }

  scan(kind: FeatureKind, keep: Uint8Array | null, sink: (chunk: Float32Array) => void): void {
    if (keep !== null && keep.length !== this.nSpikes) {
      throw new RangeError(`a keep mask of ${keep.length} spikes does not fit features of ${this.nSpikes} spikes`);
    }
    if (this.nSpikes === 0) return;
    const baseKeep = new Uint8Array(this.base.nSpikes);
    for (let i = 0; i < this.nSpikes; i++) baseKeep[this.baseRows[i]!] = keep === null ? 1 : keep[i]! ? 1 : 0;
    this.base.scan(kind, baseKeep, (chunk) => sink(this.fit(kind, chunk)));
  }

  /** Closes the base. */
  close(): void {
    this.base.close();
  }
}

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * One probe's recording: its description and streaming reads of sample ranges from the `.bin`.
 * Reads are positioned reads through one file handle in bounded chunks, so a worker holds only
 * the batch it asked for, never the file. A `.bin` batch is read natively, on several threads
 * straight into the caller's array; a `.cbin`'s decoded rows have their columns gathered natively.
 */
import { constants as bufferConstants } from 'node:buffer';
import { open, stat, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import { InputError, ParameterError, expected } from '../../../proto/errors.js';
import type { ProbeGeometry } from './geometry.js';
import type { RecordingLayout } from './layout.js';
import { readSpikeGlxMeta } from './meta-file.js';
import { CbinReader, chPathOf, type MtscompHeader } from './mtscomp.js';
import { readPlainLayout } from './plain-format.js';
import type { ProbeType } from './probe-table.js';
import { gatherColumns, readBinColumns } from './row-gather.js';
import { recordingFiles, type SessionProbe } from './session.js';
import { spikeGlxLayout } from './spikeglx.js';

/** Everything known about a recording before reading its samples. */
export interface RecordingInfo {
  readonly format: 'spikeglx' | 'raw';
  readonly binPath: string;
  /** The `.meta` (SpikeGLX) or `.json` (plain format). */
  readonly metaPath: string;
  /** e.g. `imec0`; unique within a session. */
  readonly probeLabel: string;
  /** `custom` for a plain-format recording that names no Neuropixels type. */
  readonly probeType: ProbeType | 'custom';
  /** `imDatPrb_type` (0 for NP1.0 and 3A); `null` for plain-format recordings. */
  readonly probeTypeCode: number | null;
  /** e.g. 'Neuropixels 1.0'. */
  readonly probeName: string;
  /** int16 columns per sample in the `.bin`, sync included. */
  readonly nSavedChannels: number;
  /** Neural channels: the columns {@link Recording.read} returns. */
  readonly nChannels: number;
  /** The `.bin` column of each neural channel, in channel order. */
  readonly neuralColumns: Int32Array;
  /** The column of the sync channel, kept out of the neural data; `null` if there is none. */
  readonly syncColumn: number | null;
  readonly sampleRateHz: number;
  /** Whole samples in the `.bin`. */
  readonly nSamples: number;
  readonly durationS: number;
  /** Size of the `.bin` in bytes, as found on disk (of a `.cbin`: the size decompressed). */
  readonly fileBytes: number;
  /** Set for an mtscomp-compressed recording (binPath is the `.cbin`). */
  readonly compressed?: { readonly chPath: string; readonly cbinBytes: number; readonly nChunks: number };
  /** µV per int16 count, per neural channel. */
  readonly uvPerCount: Float64Array;
  readonly geometry: ProbeGeometry;
  /** Non-fatal findings, each a sentence for the user. */
  readonly problems: readonly string[];
}

export interface OpenRecordingOptions {
  /**
   * Accept a `.bin` whose size is not a whole number of samples (a copy cut short): the whole
   * samples are used and a problem is recorded. @default false
   */
  allowPartialSample: boolean;
  /** Largest single read from the file, in bytes; bounds the memory of a read beyond its result. @default 8 MiB */
  readChunkBytes: number;
  /** `.cbin` only: most bytes of decoded chunks kept between reads. @default 128 MiB */
  cbinCacheBytes: number;
  /**
   * Read a `.bin` natively (pread on several threads, columns gathered natively, also for the rows
   * of a `.cbin`). false: FileHandle.read in chunks and a JavaScript copy of each row, the reader
   * before the native one, kept for comparisons and benchmarks. @default true
   */
  nativeRead: boolean;
  /** Native threads of a read; 0 for the native default (the worker's --threads). @default 0 */
  readThreads: number;
  /**
   * `.cbin` only: chunks decoded ahead of a forward read (kept until read, whatever
   * cbinCacheBytes). 0 for readers of scattered windows, where each would decode chunks nobody
   * reads. @default the native task pool's thread count
   */
  cbinPrefetchChunks?: number;
}

/** A read of a range plus halo, clipped at the ends of the file; the caller pads. */
export interface HaloRead {
  /** Samples [firstSample, endSample) of the neural channels, sample-major. */
  readonly data: Int16Array;
  readonly firstSample: number;
  readonly endSample: number;
}

const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;

function checkOptions(options: Partial<OpenRecordingOptions>): OpenRecordingOptions {
  const readChunkBytes = options.readChunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isSafeInteger(readChunkBytes) || readChunkBytes < 1) {
    throw new ParameterError(`readChunkBytes: ${expected('a positive integer', readChunkBytes)}`);
  }
  const cbinCacheBytes = options.cbinCacheBytes ?? 128 * 1024 * 1024;
  const readThreads = options.readThreads ?? 0;
  if (!Number.isSafeInteger(readThreads) || readThreads < 0 || readThreads > 4096) {
    throw new ParameterError(`readThreads: ${expected('an integer in [0, 4096]', readThreads)}`);
  }
  return {
    allowPartialSample: options.allowPartialSample ?? false,
    readChunkBytes,
    cbinCacheBytes,
    nativeRead: options.nativeRead ?? true,
    readThreads,
    ...(options.cbinPrefetchChunks !== undefined ? { cbinPrefetchChunks: options.cbinPrefetchChunks } : {}),
  };
}

async function layoutOf(files: SessionProbe): Promise<RecordingLayout> {
  return files.format === 'spikeglx'
    ? spikeGlxLayout(await readSpikeGlxMeta(files.metaPath))
    : await readPlainLayout(files.metaPath);
}

function buildInfo(
  files: SessionProbe,
  layout: RecordingLayout,
  fileBytes: number,
  options: OpenRecordingOptions,
  mtscomp?: { header: MtscompHeader; cbinBytes: number },
): RecordingInfo {
  const { binPath } = files;
  if (mtscomp !== undefined && mtscomp.header.nChannels !== layout.nSavedChannels) {
    throw new InputError(
      mtscomp.header.chPath,
      `n_channels is ${mtscomp.header.nChannels} but ${files.metaPath} describes ${layout.nSavedChannels} saved channels`,
    );
  }
  const problems = [...layout.problems];
  const bytesPerSample = 2 * layout.nSavedChannels;
  const nSamples = Math.floor(fileBytes / bytesPerSample);
  const leftoverBytes = fileBytes - nSamples * bytesPerSample;
  if (leftoverBytes !== 0) {
    const sizes =
      `holds ${fileBytes} bytes, not a whole number of samples: ${layout.nSavedChannels} channels × 2 bytes = ` +
      `${bytesPerSample} bytes per sample leaves ${leftoverBytes} bytes over`;
    if (!options.allowPartialSample) {
      throw new InputError(
        binPath,
        `${sizes} (a truncated copy?). Pass allowPartialSample: true (CLI --allow-partial-sample) to sort the ` +
          `${nSamples} whole samples.`,
      );
    }
    problems.push(`${sizes}; the ${nSamples} whole samples are used (allowPartialSample)`);
  }
  if (nSamples === 0)
    throw new InputError(binPath, `holds ${fileBytes} bytes: not one whole sample of ${bytesPerSample} bytes`);
  const declared = layout.declaredFileBytes;
  if (declared !== undefined && declared !== fileBytes) {
    problems.push(
      `the meta says fileSizeBytes=${declared} but the file holds ${fileBytes} bytes; the file is trusted ` +
        `(${nSamples} samples, ${(nSamples / layout.sampleRateHz).toFixed(3)} s), as IBL does`,
    );
  }
  return {
    format: files.format,
    binPath,
    metaPath: files.metaPath,
    probeLabel: files.label,
    probeType: layout.probeType,
    probeTypeCode: layout.probeTypeCode,
    probeName: layout.probeName,
    nSavedChannels: layout.nSavedChannels,
    nChannels: layout.neuralColumns.length,
    neuralColumns: layout.neuralColumns,
    syncColumn: layout.syncColumn,
    sampleRateHz: layout.sampleRateHz,
    nSamples,
    durationS: nSamples / layout.sampleRateHz,
    fileBytes,
    ...(mtscomp === undefined
      ? {}
      : {
          compressed: {
            chPath: mtscomp.header.chPath,
            cbinBytes: mtscomp.cbinBytes,
            nChunks: mtscomp.header.chunkBounds.length - 1,
          },
        }),
    uvPerCount: layout.uvPerCount,
    geometry: layout.geometry,
    problems,
  };
}

function isCompressed(files: SessionProbe): boolean {
  return files.binPath.endsWith('.cbin');
}

/** The samples a `.cbin` holds, as bytes of the uncompressed `.bin`. */
function uncompressedBytes(header: MtscompHeader): number {
  return header.nSamples * header.nChannels * 2;
}

function binMissing(files: SessionProbe, err: unknown): InputError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return new InputError(files.binPath, `no such file (the recording described by ${files.metaPath} is missing)`);
  }
  return new InputError(files.binPath, `cannot be opened: ${(err as Error).message}`, { cause: err });
}

/** Describes a recording without keeping it open (the `info` command). */
export async function inspectRecording(
  target: string | SessionProbe,
  options: Partial<OpenRecordingOptions> = {},
): Promise<RecordingInfo> {
  const opts = checkOptions(options);
  const files = typeof target === 'string' ? await recordingFiles(target) : target;
  const layout = await layoutOf(files);
  let fileBytes: number;
  try {
    const s = await stat(files.binPath);
    if (!s.isFile()) throw new InputError(files.binPath, 'is not a regular file');
    fileBytes = s.size;
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw binMissing(files, err);
  }
  if (isCompressed(files)) {
    // Opening checks the .cbin's size against the .ch (a truncated copy names its chunk).
    const reader = await CbinReader.open(files.binPath, files.chPath ?? chPathOf(files.binPath), { cacheBytes: 0 });
    await reader.close();
    const { header } = reader;
    return buildInfo(files, layout, uncompressedBytes(header), opts, { header, cbinBytes: fileBytes });
  }
  return buildInfo(files, layout, fileBytes, opts);
}

/**
 * Opens a recording: `X.ap.bin`, `X.ap.cbin` (mtscomp, with `X.ap.ch`) or `X.ap.meta` (SpikeGLX), `X.bin` or `X.json` (plain format),
 * or a probe found by {@link discoverSession}. Bad input is an {@link InputError} naming the file.
 */
export async function openRecording(
  target: string | SessionProbe,
  options: Partial<OpenRecordingOptions> = {},
): Promise<Recording> {
  if (os.endianness() !== 'LE')
    throw new Error('spikeshard reads little-endian int16 files and needs a little-endian CPU');
  const opts = checkOptions(options);
  const files = typeof target === 'string' ? await recordingFiles(target) : target;
  const layout = await layoutOf(files);
  if (isCompressed(files)) {
    const reader = await CbinReader.open(files.binPath, files.chPath ?? chPathOf(files.binPath), {
      cacheBytes: opts.cbinCacheBytes,
      ...(opts.cbinPrefetchChunks !== undefined ? { prefetchChunks: opts.cbinPrefetchChunks } : {}),
    });
    try {
      const cbinBytes = reader.header.chunkOffsets[reader.header.chunkOffsets.length - 1]!;
      const info = buildInfo(files, layout, uncompressedBytes(reader.header), opts, {
        header: reader.header,
        cbinBytes,
      });
      return new Recording(info, reader, opts);
    } catch (err) {
      await reader.close();
      throw err;
    }
  }
  let handle: FileHandle;
  try {
    handle = await open(files.binPath, 'r');
  } catch (err) {
    throw binMissing(files, err);
  }
  try {
    const s = await handle.stat();
    if (!s.isFile()) throw new InputError(files.binPath, 'is not a regular file');
    return new Recording(buildInfo(files, layout, s.size, opts), handle, opts);
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** An open recording. Call {@link Recording.close} when done. Sample indices are exact up to 2^53. */
export class Recording {
  private handle: FileHandle | CbinReader | null;
  private readonly bytesPerSample: number;
  /** `[first, count]` when the neural columns are one contiguous block (the usual case), else `null`. */
  private readonly neuralBlock: [number, number] | null;
  private readonly readChunkBytes: number;
  private readonly nativeRead: boolean;
  private readonly readThreads: number;
  /**
   * Reads not yet settled. A native read uses the handle's descriptor number on its own threads:
   * {@link Recording.close} waits for them, so that a descriptor closed and reused by another file
   * is never read.
   */
  private readonly readsInFlight = new Set<Promise<void>>();

  /** @internal use {@link openRecording}. */
  constructor(
    readonly info: RecordingInfo,
    handle: FileHandle | CbinReader,
    options: Pick<OpenRecordingOptions, 'readChunkBytes' | 'nativeRead' | 'readThreads'>,
  ) {
    this.handle = handle;
    this.readChunkBytes = options.readChunkBytes;
    this.nativeRead = options.nativeRead;
    this.readThreads = options.readThreads;
    this.bytesPerSample = 2 * info.nSavedChannels;
    const cols = info.neuralColumns;
    const first = cols[0]!;
    this.neuralBlock = cols.every((c, i) => c === first + i) ? [first, cols.length] : null;
  }

  /**
   * Neural channels of samples [startSample, endSample), sample-major:
   * `data[t * nChannels + c]` is channel c at sample startSample + t, in counts.
   * `into`, if given, receives the data (it must hold at least that many values) and the
   * returned array is a view of its start; workers pass the same array batch after batch.
   */
  async read(startSample: number, endSample: number, into?: Int16Array): Promise<Int16Array> {
    this.checkRange('read', startSample, endSample);
    return this.readColumns(startSample, endSample, this.info.neuralColumns, this.neuralBlock, into);
  }

  /** The sync channel (16 digital lines in one int16) of samples [startSample, endSample). */
  async readSync(startSample: number, endSample: number): Promise<Int16Array> {
    this.checkRange('readSync', startSample, endSample);
    const column = this.info.syncColumn;
    if (column === null) throw new InputError(this.info.binPath, 'has no sync channel');
    return this.readColumns(startSample, endSample, Int32Array.of(column), [column, 1], undefined);
  }

  /**
   * Samples [startSample − haloSamples, endSample + haloSamples) clipped to the file, for a batch
   * whose filters need context on both sides. `into` as for {@link Recording.read}.
   */
  async readWithHalo(
    startSample: number,
    endSample: number,
    haloSamples: number,
    into?: Int16Array,
  ): Promise<HaloRead> {
    this.checkRange('readWithHalo', startSample, endSample);
    if (!Number.isSafeInteger(haloSamples) || haloSamples < 0) {
      throw new RangeError(`readWithHalo: haloSamples ${expected('an integer >= 0', haloSamples)}`);
    }
    const firstSample = Math.max(0, startSample - haloSamples);
    const last = Math.min(this.info.nSamples, endSample + haloSamples);
    return { data: await this.read(firstSample, last, into), firstSample, endSample: last };
  }

  /** Releases the file once the reads in flight have settled. Reads after this throw. */
  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    await Promise.allSettled(this.readsInFlight);
    await h?.close();
  }

  private checkRange(method: string, startSample: number, endSample: number): void {
    const n = this.info.nSamples;
    const ok =
      Number.isSafeInteger(startSample) &&
      Number.isSafeInteger(endSample) &&
      startSample >= 0 &&
      startSample <= endSample &&
      endSample <= n;
    if (!ok) {
      throw new RangeError(
        `${method}(${startSample}, ${endSample}): expected integers with 0 <= startSample <= endSample <= ` +
          `nSamples = ${n} of ${this.info.binPath}`,
      );
    }
  }

  private async readColumns(
    startSample: number,
    endSample: number,
    columns: Int32Array,
    block: [number, number] | null,
    into: Int16Array | undefined,
  ): Promise<Int16Array> {
    const handle = this.handle;
    if (handle === null) throw new Error(`${this.info.binPath}: the recording is closed`);
    const nSamples = endSample - startSample;
    const nOut = columns.length;
    let out: Int16Array;
    if (into !== undefined) {
      if (into.length < nSamples * nOut) {
        throw new RangeError(
          `into holds ${into.length} values; ${nSamples} samples × ${nOut} channels need ${nSamples * nOut}`,
        );
      }
      out = into.subarray(0, nSamples * nOut);
    } else {
      if (nSamples * nOut * 2 > bufferConstants.MAX_LENGTH) {
        throw new RangeError(
          `read of ${nSamples} samples × ${nOut} channels is too large for one array; read in batches`,
        );
      }
      // Not zeroed (tens of MB per batch): every value is overwritten or the read throws.
      out = new Int16Array(Buffer.allocUnsafeSlow(nSamples * nOut * 2).buffer, 0, nSamples * nOut);
    }
    if (nSamples === 0) return out;
    const read =
      handle instanceof CbinReader
        ? this.readRowsInChunks(handle, startSample, endSample, columns, block, out)
        : this.nativeRead
          ? readBinColumns(
              { fd: handle.fd, path: this.info.binPath, fileBytes: this.info.fileBytes },
              startSample,
              nSamples,
              this.info.nSavedChannels,
              columns,
              out,
              { chunkBytes: this.readChunkBytes, threads: this.readThreads },
            )
          : this.readRowsInChunks(handle, startSample, endSample, columns, block, out);
    // `this` (and through it the FileHandle, which Node closes when collected) stays reachable
    // until the read settles: the finally below uses it.
    this.readsInFlight.add(read);
    try {
      await read;
    } finally {
      this.readsInFlight.delete(read);
    }
    return out;
  }

  /**
   * Whole rows in chunks of readChunkBytes (the next chunk read while the current one is copied
   * out), then their columns: a `.cbin`'s decoded rows, or a `.bin` read without the native reader.
   */
  private async readRowsInChunks(
    handle: FileHandle | CbinReader,
    startSample: number,
    endSample: number,
    columns: Int32Array,
    block: [number, number] | null,
    out: Int16Array,
  ): Promise<void> {
    const nSamples = endSample - startSample;
    const nOut = columns.length;
    const nSaved = this.info.nSavedChannels;
    const bytesPerSample = this.bytesPerSample;
    const chunkSamples = Math.min(nSamples, Math.max(1, Math.floor(this.readChunkBytes / bytesPerSample)));
    // Two chunk buffers: the next chunk is read while the current one is copied out. Each is a
    // buffer of its own at offset 0 (allocUnsafeSlow), so the Int16Array views are aligned.
    const nBuffers = nSamples > chunkSamples ? 2 : 1;
    const buffers = Array.from({ length: nBuffers }, () => Buffer.allocUnsafeSlow(chunkSamples * bytesPerSample));
    const readChunk = (k: number): Promise<void> => {
      const s = startSample + k * chunkSamples;
      const n = Math.min(chunkSamples, endSample - s);
      const buffer = buffers[k % nBuffers]!;
      if (handle instanceof CbinReader) {
        return handle.readRows(s, s + n, new Int16Array(buffer.buffer, buffer.byteOffset, n * nSaved));
      }
      return this.readFully(handle, buffer, n * bytesPerSample, s);
    };
    const nChunks = Math.ceil(nSamples / chunkSamples);
    if (handle instanceof CbinReader) handle.planRead(startSample, endSample);
    let pending = readChunk(0);
    for (let k = 0; k < nChunks; k++) {
      await pending;
      if (k + 1 < nChunks) pending = readChunk(k + 1);
      const buffer = buffers[k % nBuffers]!;
      const s = startSample + k * chunkSamples;
      const n = Math.min(chunkSamples, endSample - s);
      const outBase = (s - startSample) * nOut;
      if (this.nativeRead) {
        const rows = new Int16Array(buffer.buffer, buffer.byteOffset, n * nSaved);
        gatherColumns(rows, n, nSaved, columns, out.subarray(outBase, outBase + n * nOut), this.readThreads);
        continue;
      }
      const rows = new Int16Array(buffer.buffer, buffer.byteOffset, chunkSamples * nSaved);
      if (block !== null) {
        const [first, count] = block;
        for (let t = 0; t < n; t++) {
          out.set(rows.subarray(t * nSaved + first, t * nSaved + first + count), outBase + t * nOut);
        }
      } else {
        for (let t = 0; t < n; t++) {
          const r = t * nSaved;
          const o = outBase + t * nOut;
          for (let c = 0; c < nOut; c++) out[o + c] = rows[r + columns[c]!]!;
        }
      }
    }
  }

  private async readFully(handle: FileHandle, buffer: Buffer, length: number, sample: number): Promise<void> {
    const position = sample * this.bytesPerSample;
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
      if (bytesRead === 0) {
        throw new InputError(
          this.info.binPath,
          `ended at byte ${position + done} while ${this.info.fileBytes} bytes were expected (did it shrink while open?)`,
        );
      }
      done += bytesRead;
    }
  }
}

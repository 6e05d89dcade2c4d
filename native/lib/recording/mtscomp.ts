// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * mtscomp-compressed recordings (`.cbin` + `.ch`, formats.md §2): random access by chunk, a
 * bounded cache of decoded chunks, integrity checks, and a writer. Each chunk is a zlib stream of
 * the chunk's int16 samples, differenced along time (first row kept, wrapping int16 arithmetic),
 * stored channel by channel (Fortran order). Decoding is inflate, then a wrapping cumulative sum
 * along time per channel, back into sample-major rows. Both directions run natively, several chunks
 * at once, on the engine's task pool (as many threads as `setThreads` / the CLI's `--threads`, or
 * all cores), not on libuv's pool of 4.
 */
import { createHash } from 'node:crypto';
import { open, readFile, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { InputError, ParameterError, expected } from '../../../proto/errors.js';
import { loadCpuBinding } from '../load.js';

/** What a `.ch` file says. Sample and byte offsets are exact below 2^53. */
export interface MtscompHeader {
  readonly chPath: string;
  readonly nSamples: number;
  /** Columns per sample (385 for a SpikeGLX AP file). */
  readonly nChannels: number;
  readonly sampleRateHz: number;
  /** Sample boundaries of the chunks: `[0, …, nSamples]`, length nChunks + 1. */
  readonly chunkBounds: readonly number[];
  /** Byte offsets of the chunks in the `.cbin`: `[0, …, cbinBytes]`, length nChunks + 1. */
  readonly chunkOffsets: readonly number[];
  /** Hex SHA-1 of the whole `.cbin`, when the `.ch` has one. */
  readonly sha1Compressed: string | null;
  /** Hex SHA-1 of the uncompressed int16 samples (sample-major), when the `.ch` has one. */
  readonly sha1Uncompressed: string | null;
}

function bad(chPath: string, what: string, got: unknown): InputError {
  return new InputError(chPath, `${what}: ${expected(whatExpected(what), got)}`);
}

function whatExpected(what: string): string {
  const table: Record<string, string> = {
    algorithm: '"zlib"',
    chunk_order: '"F"',
    dtype: '"int16"',
    do_time_diff: 'true',
    do_spatial_diff: 'false (spatial differencing is not supported)',
    n_channels: 'a positive integer',
    sample_rate: 'a positive number',
    shape: '[nSamples, nChannels] matching n_channels',
    chunk_bounds: 'increasing integers from 0 to the number of samples',
    chunk_offsets: 'increasing integers from 0, one more than the chunks',
  };
  return table[what] ?? 'a valid value';
}

function isIncreasingIntegers(v: unknown, first: number): v is number[] {
  return (
    Array.isArray(v) &&
    v.length >= 2 &&
    v[0] === first &&
    v.every((x, i) => Number.isSafeInteger(x) && (i === 0 || (x as number) > (v[i - 1] as number)))
  );
}

/** Reads and checks a `.ch` file. */
export async function readMtscompHeader(chPath: string): Promise<MtscompHeader> {
  let text: string;
  try {
    text = await readFile(chPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(chPath, code === 'ENOENT' ? 'no such file (the .cbin needs its .ch)' : String(err), {
      cause: err,
    });
  }
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new InputError(chPath, `is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) throw bad(chPath, 'content', 'not a JSON object');
  if (j['algorithm'] !== undefined && j['algorithm'] !== 'zlib') throw bad(chPath, 'algorithm', j['algorithm']);
  if ((j['chunk_order'] ?? 'F') !== 'F') throw bad(chPath, 'chunk_order', j['chunk_order']);
  if (j['dtype'] !== 'int16') throw bad(chPath, 'dtype', j['dtype']);
  if ((j['do_time_diff'] ?? true) !== true) throw bad(chPath, 'do_time_diff', j['do_time_diff']);
  if ((j['do_spatial_diff'] ?? false) !== false) throw bad(chPath, 'do_spatial_diff', j['do_spatial_diff']);
  const nChannels = j['n_channels'];
  if (!Number.isSafeInteger(nChannels) || (nChannels as number) < 1) throw bad(chPath, 'n_channels', nChannels);
  const sampleRateHz = j['sample_rate'];
  if (typeof sampleRateHz !== 'number' || !(sampleRateHz > 0)) throw bad(chPath, 'sample_rate', sampleRateHz);
  const bounds = j['chunk_bounds'];
  if (!isIncreasingIntegers(bounds, 0)) throw bad(chPath, 'chunk_bounds', JSON.stringify(bounds)?.slice(0, 80));
  const offsets = j['chunk_offsets'];
  if (!isIncreasingIntegers(offsets, 0) || offsets.length !== bounds.length) {
    throw bad(chPath, 'chunk_offsets', JSON.stringify(offsets)?.slice(0, 80));
  }
  const nSamples = bounds[bounds.length - 1]!;
  const shape = j['shape'];
  if (
    shape !== undefined &&
    (!Array.isArray(shape) || shape.length !== 2 || shape[0] !== nSamples || shape[1] !== nChannels)
  ) {
    throw bad(chPath, 'shape', JSON.stringify(shape));
  }
  const sha = (key: string): string | null => {
    const v = j[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string' || !/^[0-9a-f]{40}$/i.test(v)) throw bad(chPath, key, v);
    return v.toLowerCase();
  };
  return {
    chPath,
    nSamples,
    nChannels: nChannels as number,
    sampleRateHz,
    chunkBounds: bounds,
    chunkOffsets: offsets,
    sha1Compressed: sha('sha1_compressed'),
    sha1Uncompressed: sha('sha1_uncompressed'),
  };
}

/** The `.ch` beside a `.cbin`: same name with `.ch` for `.cbin`. */
export function chPathOf(cbinPath: string): string {
  return cbinPath.replace(/\.cbin$/, '') + '.ch';
}

export interface CbinReaderOptions {
  /** Most bytes of decoded chunks kept; at least two chunks and those decoded ahead are always kept. @default 128 MiB */
  cacheBytes: number;
  /**
   * Chunks decoded ahead of the one being copied out: within a read, and past its end when reads
   * go forward through the file (batch after batch). Their decoding (inflate, then the cumulative
   * sum, natively) runs on the engine's task pool, several chunks at once, while this thread copies
   * out the current one (inflate runs at ~190 MB/s of samples per thread, so reading at disk speed
   * needs several). 0: one chunk at a time.
   * @default the task pool's threads (`setThreads`, or all cores), at most 8, read at each read
   */
  prefetchChunks: number;
}

/**
 * The default read-ahead's cap: chunks decoded ahead are kept until read whatever the cache's byte
 * bound, and 16 of them (one per thread on a 16-core machine, ~23 MB each at 384 channels) put a
 * 60-s .cbin sort's peak at 2.8 GB against 1.2 GB from its .bin (H100 machine, 2026-11-25).
 */
const MAX_DEFAULT_PREFETCH = 8;

const DEFAULT_CACHE_BYTES = 128 * 1024 * 1024;

/**
 * Random access to the samples of a `.cbin`. Reads touch only the chunks they overlap; decoded
 * chunks are kept in a least-recently-used cache bounded in bytes, so consecutive batches whose
 * halos overlap decode each chunk about once.
 */
export class CbinReader {
  private handle: FileHandle | null;
  private readonly cache = new Map<number, Int16Array>();
  /** Chunks being decoded (requested or prefetched), so that none is decoded twice at once. */
  private readonly pending = new Map<number, Promise<Int16Array>>();
  private cachedBytes = 0;
  /** The samples of the current read plan ({@link CbinReader.planRead}), and the last chunk it may decode. */
  private plan = { start: -1, end: -1, horizon: -1 };
  /** Chunks decoded so far (cache misses, prefetches included), for tests and diagnostics. */
  decodedChunks = 0;

  private constructor(
    readonly cbinPath: string,
    readonly header: MtscompHeader,
    handle: FileHandle,
    private readonly cacheBytes: number,
    /** null: as many as the task pool has threads at the time. */
    private readonly prefetchOption: number | null,
  ) {
    this.handle = handle;
  }

  /**
   * Chunks decoded ahead: the option, or one per task-pool thread up to {@link MAX_DEFAULT_PREFETCH}
   * (the chunks of the read itself are decoded side by side too).
   */
  private get prefetchChunks(): number {
    return this.prefetchOption ?? Math.min(MAX_DEFAULT_PREFETCH, loadCpuBinding().taskPoolThreads());
  }

  /**
   * Opens a `.cbin` with its `.ch`. A `.cbin` shorter than the `.ch` says (a truncated copy) is an
   * {@link InputError} naming the first chunk that is not complete.
   */
  static async open(
    cbinPath: string,
    chPath = chPathOf(cbinPath),
    options: Partial<CbinReaderOptions> = {},
  ): Promise<CbinReader> {
    const cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    if (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0) {
      throw new ParameterError(`cacheBytes: ${expected('an integer >= 0', cacheBytes)}`);
    }
    const prefetchChunks = options.prefetchChunks ?? null;
    if (prefetchChunks !== null && (!Number.isSafeInteger(prefetchChunks) || prefetchChunks < 0)) {
      throw new ParameterError(`prefetchChunks: ${expected('an integer >= 0', prefetchChunks)}`);
    }
    const header = await readMtscompHeader(chPath);
    let handle: FileHandle;
    try {
      handle = await open(cbinPath, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new InputError(cbinPath, code === 'ENOENT' ? 'no such file' : `cannot be opened: ${String(err)}`, {
        cause: err,
      });
    }
    try {
      const size = (await handle.stat()).size;
      checkCbinSize(cbinPath, header, size);
      return new CbinReader(cbinPath, header, handle, cacheBytes, prefetchChunks);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  get nChunks(): number {
    return this.header.chunkBounds.length - 1;
  }

  /**
   * All columns of samples [startSample, endSample) into `out` (sample-major, at least
   * (end − start) × nChannels values).
   */
  async readRows(startSample: number, endSample: number, out: Int16Array): Promise<void> {
    const { chunkBounds, nChannels, nSamples } = this.header;
    if (!(Number.isSafeInteger(startSample) && Number.isSafeInteger(endSample))) {
      throw new RangeError(`readRows(${startSample}, ${endSample}): expected integers`);
    }
    if (startSample < 0 || endSample > nSamples || startSample > endSample) {
      throw new RangeError(
        `readRows(${startSample}, ${endSample}): expected 0 <= start <= end <= ${nSamples} of ${this.cbinPath}`,
      );
    }
    if (out.length < (endSample - startSample) * nChannels) {
      throw new RangeError(`readRows: out holds ${out.length} values, ${(endSample - startSample) * nChannels} needed`);
    }
    if (startSample === endSample) return;
    if (startSample < this.plan.start || endSample > this.plan.end) this.planRead(startSample, endSample);
    const first = chunkContaining(chunkBounds, startSample);
    const last = chunkContaining(chunkBounds, endSample - 1);
    let s = startSample;
    for (let chunk = first; chunk <= last; chunk++) {
      for (let k = chunk + 1; k <= Math.min(this.plan.horizon, chunk + this.prefetchChunks); k++) this.prefetch(k);
      const c0 = chunkBounds[chunk]!;
      const c1 = chunkBounds[chunk + 1]!;
      const rows = await this.chunk(chunk);
      const to = Math.min(endSample, c1);
      out.set(rows.subarray((s - c0) * nChannels, (to - c0) * nChannels), (s - startSample) * nChannels);
      s = to;
    }
  }

  /**
   * Announces that samples [startSample, endSample) are about to be read, possibly in several
   * {@link CbinReader.readRows} calls (Recording reads a batch in pieces): chunks up to its end are
   * decoded ahead. Past its end only when this read starts inside the previous one (consecutive
   * batches with halos): readers that jump (workers taking every n-th batch, spike subsets)
   * would not use those chunks. readRows outside the current plan makes its own.
   */
  planRead(startSample: number, endSample: number): void {
    if (endSample <= startSample) return;
    const { chunkBounds } = this.header;
    const forward = startSample >= this.plan.start && startSample <= this.plan.end;
    const last = chunkContaining(chunkBounds, Math.min(endSample, this.header.nSamples) - 1);
    const horizon = Math.min(this.nChunks - 1, forward ? last + this.prefetchChunks : last);
    this.plan = { start: startSample, end: endSample, horizon };
  }

  /** Releases the file and the cache (after any decode still running has settled). */
  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    await Promise.allSettled(this.pending.values());
    this.cache.clear();
    this.cachedBytes = 0;
    await h?.close();
  }

  /** Starts decoding chunk `index` unless it is cached or on its way; its failure waits for a reader. */
  private prefetch(index: number): void {
    if (this.cache.has(index) || this.pending.has(index) || this.handle === null) return;
    this.decode(index).catch(() => undefined);
  }

  private chunk(index: number): Promise<Int16Array> {
    const hit = this.cache.get(index);
    if (hit !== undefined) {
      // Map iteration order is insertion order: re-inserting makes it the most recent.
      this.cache.delete(index);
      this.cache.set(index, hit);
      return Promise.resolve(hit);
    }
    return this.pending.get(index) ?? this.decode(index);
  }

  private decode(index: number): Promise<Int16Array> {
    const promise: Promise<Int16Array> = this.readAndDecode(index).finally(() => {
      if (this.pending.get(index) === promise) this.pending.delete(index);
    });
    this.pending.set(index, promise);
    return promise;
  }

  private async readAndDecode(index: number): Promise<Int16Array> {
    const handle = this.handle;
    if (handle === null) throw new Error(`${this.cbinPath}: the recording is closed`);
    const { chunkOffsets, chunkBounds, nChannels } = this.header;
    const from = chunkOffsets[index]!;
    const length = chunkOffsets[index + 1]! - from;
    const compressed = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(compressed, done, length - done, from + done);
      if (bytesRead === 0) {
        throw new InputError(
          this.cbinPath,
          `chunk ${index} (bytes ${from}..${from + length}) is truncated: the file ended at byte ${from + done}`,
        );
      }
      done += bytesRead;
    }
    const nSamples = chunkBounds[index + 1]! - chunkBounds[index]!;
    const rows = new Int16Array(nSamples * nChannels);
    try {
      await loadCpuBinding().decodeMtscompChunkAsync(compressed, nSamples, nChannels, rows);
    } catch (err) {
      throw chunkFailure(this.cbinPath, index, err);
    }
    this.decodedChunks++;
    if (this.handle === null) return rows; // closed meanwhile: nothing to cache
    this.cache.set(index, rows);
    this.cachedBytes += rows.byteLength;
    // The chunks decoded ahead are kept whatever the byte bound, or a small cache would evict them
    // before they are read and decode them twice.
    while (this.cache.size > 2 + this.prefetchChunks && this.cachedBytes > this.cacheBytes) {
      const oldest = this.cache.keys().next().value as number;
      this.cachedBytes -= this.cache.get(oldest)!.byteLength;
      this.cache.delete(oldest);
    }
    return rows;
  }
}

/**
 * A chunk's decoding problem (the native message says what: a damaged stream, or one of another
 * size) as an InputError naming the file and the chunk. Argument errors are bugs: rethrown as they are.
 */
function chunkFailure(cbinPath: string, index: number, err: unknown): Error {
  if (err instanceof TypeError || err instanceof RangeError || !(err instanceof Error)) return err as Error;
  return new InputError(cbinPath, `chunk ${index} ${err.message}`, { cause: err });
}

function checkCbinSize(cbinPath: string, header: MtscompHeader, size: number): void {
  const offsets = header.chunkOffsets;
  const end = offsets[offsets.length - 1]!;
  if (size < end) {
    let k = 0;
    while (offsets[k + 1]! <= size) k++;
    throw new InputError(
      cbinPath,
      `holds ${size} bytes but ${path.basename(header.chPath)} describes ${end}: chunk ${k} of ${offsets.length - 1} ` +
        `(bytes ${offsets[k]}..${offsets[k + 1]}) is truncated (an incomplete copy?)`,
    );
  }
  if (size > end) {
    throw new InputError(
      cbinPath,
      `holds ${size} bytes but ${path.basename(header.chPath)} describes ${end}: the .ch does not belong to this .cbin`,
    );
  }
}

/** Index of the chunk holding sample s (s < nSamples), by bisection of the bounds. */
function chunkContaining(bounds: readonly number[], s: number): number {
  let lo = 0;
  let hi = bounds.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (bounds[mid]! <= s) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Inflates one chunk (`compressed`, its zlib stream) and undoes the time difference, on this
 * thread: sample-major rows of nSamples × nChannels. A damaged stream or one of another size is an
 * {@link InputError} naming `cbinPath` and chunk `index`.
 */
export function decodeChunk(
  cbinPath: string,
  index: number,
  compressed: Uint8Array,
  nSamples: number,
  nChannels: number,
): Int16Array {
  const rows = new Int16Array(nSamples * nChannels);
  try {
    loadCpuBinding().decodeMtscompChunk(compressed, nSamples, nChannels, rows);
  } catch (err) {
    throw chunkFailure(cbinPath, index, err);
  }
  return rows;
}

/** Differences along time (first row kept, wrapping) in channel-major order, then zlib at `level`. */
export function encodeChunk(rows: Int16Array, nSamples: number, nChannels: number, level = -1): Buffer {
  return loadCpuBinding().encodeMtscompChunk(rows, nSamples, nChannels, level);
}

/** What {@link verifyCbin} checked. */
export interface CbinVerification {
  /** SHA-1 of the `.cbin` compared with `sha1_compressed` (false: the `.ch` has none). */
  compressedChecked: boolean;
  /** Every chunk decoded and the SHA-1 of the samples compared with `sha1_uncompressed`. */
  uncompressedChecked: boolean;
}

/**
 * Checks a `.cbin` against the checksums its `.ch` carries: SHA-1 of the compressed file
 * (`sha1_compressed`, what IBL's `verify_hash` checks) and, with `decode`, the SHA-1 of every
 * decoded sample (`sha1_uncompressed`), which also proves each chunk inflates to its size.
 * A mismatch is an {@link InputError}.
 */
export async function verifyCbin(
  cbinPath: string,
  options: { chPath?: string; decode?: boolean } = {},
): Promise<CbinVerification> {
  const reader = await CbinReader.open(cbinPath, options.chPath, { cacheBytes: 0 });
  try {
    const { header } = reader;
    const result: CbinVerification = { compressedChecked: false, uncompressedChecked: false };
    if (header.sha1Compressed !== null) {
      const hash = createHash('sha1');
      const h = await open(cbinPath, 'r');
      try {
        const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
        for (let pos = 0; ;) {
          const { bytesRead } = await h.read(buffer, 0, buffer.length, pos);
          if (bytesRead === 0) break;
          hash.update(buffer.subarray(0, bytesRead));
          pos += bytesRead;
        }
      } finally {
        await h.close();
      }
      const got = hash.digest('hex');
      if (got !== header.sha1Compressed) {
        throw new InputError(
          cbinPath,
          `SHA-1 ${got} differs from sha1_compressed ${header.sha1Compressed} in ${path.basename(header.chPath)} (corrupt copy)`,
        );
      }
      result.compressedChecked = true;
    }
    if (options.decode === true && header.sha1Uncompressed !== null) {
      const hash = createHash('sha1');
      for (let k = 0; k < reader.nChunks; k++) {
        const n = header.chunkBounds[k + 1]! - header.chunkBounds[k]!;
        const rows = new Int16Array(n * header.nChannels);
        await reader.readRows(header.chunkBounds[k]!, header.chunkBounds[k + 1]!, rows);
        hash.update(new Uint8Array(rows.buffer));
      }
      const got = hash.digest('hex');
      if (got !== header.sha1Uncompressed) {
        throw new InputError(
          cbinPath,
          `decoded samples have SHA-1 ${got}, not sha1_uncompressed ${header.sha1Uncompressed} of ${path.basename(header.chPath)}`,
        );
      }
      result.uncompressedChecked = true;
    }
    return result;
  } finally {
    await reader.close();
  }
}

export interface CompressOptions {
  /** int16 columns per sample of the `.bin`. */
  nChannels: number;
  sampleRateHz: number;
  /** Chunk length in seconds (mtscomp's default 1 s). @default 1 */
  chunkDurationS?: number;
  /** Output `.cbin`; default: the `.bin` path with `.cbin`. The `.ch` goes beside it. */
  cbinPath?: string;
  /**
   * Threads of the engine (`setThreads`), which compress that many chunks at once; 0: all cores.
   * Left out: as set before (all cores unless something set it).
   */
  threads?: number;
}

/**
 * Compresses an int16 `.bin` into `.cbin` + `.ch` in mtscomp's format (version 1.0, zlib level 6,
 * time difference, Fortran-order chunks), with both SHA-1 checksums. Files appear atomically.
 * @returns the paths written
 */
export async function compressBin(
  binPath: string,
  options: CompressOptions,
): Promise<{ cbinPath: string; chPath: string; header: MtscompHeader }> {
  const { nChannels, sampleRateHz } = options;
  if (!Number.isSafeInteger(nChannels) || nChannels < 1) {
    throw new ParameterError(`nChannels: ${expected('a positive integer', nChannels)}`);
  }
  if (!(sampleRateHz > 0)) throw new ParameterError(`sampleRateHz: ${expected('a positive number', sampleRateHz)}`);
  if (options.threads !== undefined) {
    if (!Number.isSafeInteger(options.threads) || options.threads < 0) {
      throw new ParameterError(`threads: ${expected('an integer >= 0', options.threads)}`);
    }
    loadCpuBinding().setThreads(options.threads);
  }
  const chunkDurationS = options.chunkDurationS ?? 1;
  const chunkSamples = Math.round(chunkDurationS * sampleRateHz);
  if (!(chunkSamples >= 1))
    throw new ParameterError(`chunkDurationS: ${expected('at least one sample', chunkDurationS)}`);
  const cbinPath = options.cbinPath ?? binPath.replace(/\.bin$/, '') + '.cbin';
  const chPath = chPathOf(cbinPath);
  const size = (await stat(binPath)).size;
  const bytesPerSample = 2 * nChannels;
  if (size % bytesPerSample !== 0 || size === 0) {
    throw new InputError(binPath, `holds ${size} bytes: ${expected(`a positive multiple of ${bytesPerSample}`, size)}`);
  }
  const nSamples = size / bytesPerSample;
  const bounds: number[] = [];
  for (let s = 0; s < nSamples; s += chunkSamples) bounds.push(s);
  bounds.push(nSamples);
  const offsets = [0];
  const tmp = `${cbinPath}.${process.pid}.tmp`;
  const input = await open(binPath, 'r');
  const output = await open(tmp, 'w');
  const sha1Raw = createHash('sha1');
  const sha1Compressed = createHash('sha1');
  // Chunks are compressed natively on the engine's task pool, one per thread at once (deflate at
  // level 6 is ~20× slower than reading), and written in order as each oldest one finishes; two
  // more than the threads are queued so that none waits while the oldest is written.
  const window = loadCpuBinding().taskPoolThreads() + 2;
  const deflating: Promise<Buffer>[] = [];
  const writeOldest = async (): Promise<void> => {
    const compressed = await deflating.shift()!;
    sha1Compressed.update(compressed);
    await output.write(compressed);
    offsets.push(offsets[offsets.length - 1]! + compressed.length);
  };
  try {
    for (let k = 0; k + 1 < bounds.length; k++) {
      const n = bounds[k + 1]! - bounds[k]!;
      const bytes = n * bytesPerSample;
      const buffer = Buffer.allocUnsafeSlow(bytes);
      let done = 0;
      while (done < bytes) {
        const { bytesRead } = await input.read(buffer, done, bytes - done, bounds[k]! * bytesPerSample + done);
        if (bytesRead === 0)
          throw new InputError(binPath, `ended early at sample ${bounds[k]! + done / bytesPerSample}`);
        done += bytesRead;
      }
      sha1Raw.update(buffer);
      const deflate = loadCpuBinding().encodeMtscompChunkAsync(
        new Int16Array(buffer.buffer, buffer.byteOffset, n * nChannels),
        n,
        nChannels,
        -1,
      );
      // Marked handled: a failure is thrown where the chunk's turn to be written comes.
      deflate.catch(() => undefined);
      deflating.push(deflate);
      if (deflating.length >= window) await writeOldest();
    }
    while (deflating.length > 0) await writeOldest();
  } catch (err) {
    await Promise.allSettled(deflating);
    await output.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  } finally {
    await input.close();
  }
  await output.close();
  const header = {
    algorithm: 'zlib',
    chunk_bounds: bounds,
    chunk_offsets: offsets,
    chunk_order: 'F',
    comp_level: -1,
    do_spatial_diff: false,
    do_time_diff: true,
    dtype: 'int16',
    n_channels: nChannels,
    sample_rate: sampleRateHz,
    sha1_compressed: sha1Compressed.digest('hex'),
    sha1_uncompressed: sha1Raw.digest('hex'),
    shape: [nSamples, nChannels],
    version: '1.0',
  };
  await writeFile(`${chPath}.${process.pid}.tmp`, JSON.stringify(header, null, 2));
  await rename(tmp, cbinPath);
  await rename(`${chPath}.${process.pid}.tmp`, chPath);
  return { cbinPath, chPath, header: await readMtscompHeader(chPath) };
}

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The run folder (design.md §5): `run.json` says what was sorted and how (inputs, resolved
 * parameters, versions, a digest of them all); `.run/<probe>/` holds the checkpoints that let a
 * run started again on the same folder skip every round and batch that finished.
 *
 *   run.json
 *   .run/<probe>/<round>/batch-NNNNN.rec   one record per finished batch of a per-batch round
 *   .run/<probe>/<round>/state.rec         the round's reduced global state
 *   <probe>/phy/, alf/<probe>/             the outputs
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RecordingInfo } from '../../native/lib/index.js';
import { InputError, ParameterError } from '../../proto/errors.js';
import type { Logger } from '../../proto/log.js';
import type { SortParams } from '../../proto/params.js';
import type { RunBackend } from './executor.js';
import { writeFileAtomic } from '../formats/atomic.js';
import { readRecord, writeRecord, writeRecordInBackground } from '../formats/record.js';

/** Version of the run-folder layout; a folder of another version is not resumed. */
export const RUN_FOLDER_VERSION = 1;
export const CHECKPOINT_DIR = '.run';

/** What identifies one probe's input without reading all of it. */
export interface InputFingerprint {
  probe: string;
  bin: string;
  meta: string;
  fileBytes: number;
  channels: number;
  samples: number;
  sampleRateHz: number;
  /** SHA-256 of the metadata file's bytes. */
  metaSha256: string;
  /** SHA-256 of the first and last MiB of the `.bin` (hashing 80 GB on every start would cost minutes). */
  binEndsSha256: string;
}

export interface RunVersions {
  spikeshard: string;
  /** The native core's version number. */
  core: number;
}

/** One finished probe in `run.json`. */
export interface ProbeSummary {
  probe: string;
  clusters: number;
  good: number;
  spikes: number;
  phy: string;
  alf: string;
  timings: Record<string, number>;
  /** Where the per-batch kernels ran (absent in runs written before the backend choice). */
  backend?: RunBackend;
}

/** The contents of `run.json`. */
export interface RunManifest {
  runFolder: number;
  /** SHA-256 of (inputs, params, versions): equal digests mean a run may be resumed. */
  digest: string;
  runId: string;
  startedAt: string;
  /** One entry per later start on the same folder. */
  resumedAt: string[];
  recording: string;
  versions: RunVersions;
  inputs: InputFingerprint[];
  params: SortParams;
  results: ProbeSummary[];
}

const ENDS_BYTES = 1 << 20;

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function sha256Ends(file: string, size: number): string {
  const hash = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    const ranges =
      size <= 2 * ENDS_BYTES
        ? [[0, size]]
        : [
            [0, ENDS_BYTES],
            [size - ENDS_BYTES, ENDS_BYTES],
          ];
    for (const [start, length] of ranges) {
      const buf = Buffer.alloc(length!);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, start! + got);
        if (n === 0) break;
        got += n;
      }
      hash.update(buf.subarray(0, got));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

export function fingerprint(info: RecordingInfo): InputFingerprint {
  return {
    probe: info.probeLabel,
    bin: path.resolve(info.binPath),
    meta: path.resolve(info.metaPath),
    fileBytes: info.fileBytes,
    channels: info.nChannels,
    samples: info.nSamples,
    sampleRateHz: info.sampleRateHz,
    metaSha256: sha256File(info.metaPath),
    binEndsSha256: sha256Ends(info.binPath, info.fileBytes),
  };
}

/** Paths are left out: a session moved to another disk is still the same input. */
function identity(inputs: readonly InputFingerprint[]): unknown[] {
  return inputs.map((i) => ({
    probe: i.probe,
    fileBytes: i.fileBytes,
    channels: i.channels,
    samples: i.samples,
    sampleRateHz: i.sampleRateHz,
    metaSha256: i.metaSha256,
    binEndsSha256: i.binEndsSha256,
  }));
}

function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

export function runDigest(inputs: readonly InputFingerprint[], params: SortParams, versions: RunVersions): string {
  return createHash('sha256')
    .update(canonical({ runFolder: RUN_FOLDER_VERSION, inputs: identity(inputs), params, versions }))
    .digest('hex');
}

/** Sentences naming what differs between an earlier run and this one (empty when nothing does). */
export function describeDifferences(
  earlier: Partial<RunManifest>,
  now: Pick<RunManifest, 'inputs' | 'params' | 'versions'>,
): string[] {
  const out: string[] = [];
  if (earlier.runFolder !== RUN_FOLDER_VERSION) {
    out.push(`run-folder layout version ${String(earlier.runFolder)} (this spikeshard writes ${RUN_FOLDER_VERSION})`);
    return out;
  }
  const before = earlier.params as Record<string, unknown> | undefined;
  const after = now.params as unknown as Record<string, unknown>;
  for (const k of Object.keys({ ...before, ...after }).sort()) {
    const a = before?.[k];
    const b = after[k];
    if (canonical(a) !== canonical(b)) out.push(`parameter ${k}: ${canonical(a)} before, ${canonical(b)} now`);
  }
  const oldInputs = earlier.inputs ?? [];
  const oldLabels = oldInputs.map((i) => i.probe).join(',');
  const newLabels = now.inputs.map((i) => i.probe).join(',');
  if (oldLabels !== newLabels) out.push(`probes: ${oldLabels || 'none'} before, ${newLabels} now`);
  for (const n of now.inputs) {
    const o = oldInputs.find((i) => i.probe === n.probe);
    if (!o) continue;
    for (const k of ['fileBytes', 'channels', 'samples', 'sampleRateHz', 'metaSha256', 'binEndsSha256'] as const) {
      if (o[k] !== n[k]) {
        const what = k === 'metaSha256' ? 'metadata contents' : k === 'binEndsSha256' ? 'raw data contents' : k;
        out.push(`recording ${n.probe}: ${what} differ (${o.bin} before, ${n.bin} now)`);
        break;
      }
    }
  }
  for (const k of ['spikeshard', 'core'] as const) {
    const a = earlier.versions?.[k];
    if (a !== now.versions[k]) out.push(`${k} version: ${String(a)} before, ${now.versions[k]} now`);
  }
  return out;
}

export function readManifest(outDir: string): Partial<RunManifest> | null {
  const file = path.join(outDir, 'run.json');
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Partial<RunManifest>;
  } catch (err) {
    throw new InputError(file, `not a readable run description: ${(err as Error).message}; start over with --fresh`, {
      cause: err,
    });
  }
}

export function writeManifest(outDir: string, manifest: RunManifest): void {
  writeFileAtomic(path.join(outDir, 'run.json'), JSON.stringify(manifest, null, 2) + '\n');
  syncDir(outDir);
}

/** Makes a rename in `dir` durable (a no-op where directories cannot be opened). */
export function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Names in an output folder that belong to a sort; anything else (workers/, .secret, logs) is left alone. */
export function runEntries(outDir: string, probeLabels: readonly string[]): string[] {
  if (!existsSync(outDir)) return [];
  const ours = new Set(['run.json', CHECKPOINT_DIR, 'alf', ...probeLabels]);
  return readdirSync(outDir).filter((n) => ours.has(n) || /^imec\d+$/.test(n) || n.startsWith('.run.json.'));
}

/** `--fresh`: deletes an earlier run's files (not the folder's other contents). */
export function removeEarlierRun(outDir: string, probeLabels: readonly string[], log: Logger): void {
  const earlier = readManifest(outDir);
  const labels = [...probeLabels, ...(earlier?.inputs ?? []).map((i) => i.probe)];
  const entries = runEntries(outDir, labels);
  for (const name of entries) rmSync(path.join(outDir, name), { recursive: true, force: true });
  if (entries.length > 0) log.info({ removed: entries }, `--fresh: removed the earlier run (${entries.join(', ')})`);
}

/** Names the process that holds a run folder, so that two sorts never write the same folder. */
export const LOCK_FILE = '.run.lock';

interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the run folder for this process; returns the function that gives it back. A lock left by
 * a process that is gone (killed, pre-empted) is taken over; one held by a live process on this
 * host is refused. A holder on another host cannot be checked: under SLURM a requeued job's
 * earlier incarnation is dead, so it is taken over with a warning.
 */
export function lockRunFolder(outDir: string, log: Logger): () => void {
  const file = path.join(outDir, LOCK_FILE);
  const unwritable = (err: unknown): ParameterError =>
    new ParameterError(`output folder ${outDir} cannot be written: ${(err as Error).message}`, { cause: err });
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (err) {
    throw unwritable(err);
  }
  const me: LockHolder = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() };
  try {
    const fd = openSync(file, 'wx');
    try {
      writeSync(fd, JSON.stringify(me) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritable(err);
    let holder: Partial<LockHolder> = {};
    try {
      holder = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    } catch {
      // A lock torn by a crash while it was written: nobody holds it.
    }
    const who = `pid ${String(holder.pid)} on ${String(holder.host)}, since ${String(holder.startedAt)}`;
    if (holder.host === me.host && typeof holder.pid === 'number' && holder.pid !== me.pid && alive(holder.pid)) {
      throw new ParameterError(
        `${outDir} is in use by another spikeshard sort (${who}); wait for it to end or choose another output folder`,
      );
    }
    if (holder.host !== undefined && holder.host !== me.host) {
      log.warn({ holder }, `taking over ${outDir} from a sort on another host (${who}); it must not be running`);
    } else {
      log.info({ holder }, `taking over ${outDir} from a sort that is no longer running (${who})`);
    }
    writeFileAtomic(file, JSON.stringify(me) + '\n');
  }
  return () => {
    try {
      const holder = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
      if (holder.pid === me.pid && holder.host === me.host) rmSync(file, { force: true });
    } catch {
      // Already gone: nothing to give back.
    }
  };
}

/** Removes temporary files and staged folders a killed process left behind (they are never read). */
export function sweepTemporaries(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.name.endsWith('.tmp') || /\.(partial|old)-\d+-[0-9a-f]+$/.test(entry.name)) {
      rmSync(full, { recursive: true, force: true });
      n++;
    } else if (entry.isDirectory() && !entry.isSymbolicLink()) {
      n += sweepTemporaries(full);
    }
  }
  return n;
}

/**
 * One probe's checkpoints under `.run/<probe>/`. A record that cannot be read (damaged disk) is
 * reported and treated as missing, so its work is redone rather than trusted.
 */
export class Checkpoints {
  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {}

  /** The record file of a key (it exists once the key is saved). */
  pathOf(key: string): string {
    return path.join(this.dir, `${key}.rec`);
  }

  has(key: string): boolean {
    return existsSync(this.pathOf(key));
  }

  load<T>(key: string): T | undefined {
    const file = this.pathOf(key);
    if (!existsSync(file)) return undefined;
    try {
      return readRecord(file, key.replace(/-\d+/g, '')) as T;
    } catch (err) {
      this.log.warn({ file }, `ignoring an unreadable checkpoint, its work is redone: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** Saves atomically; `durable` also syncs the folder, for records that end a round. */
  save(key: string, value: unknown, durable = false): void {
    const file = this.pathOf(key);
    const dir = path.dirname(file);
    mkdirSync(dir, { recursive: true });
    writeRecord(file, key.replace(/-\d+/g, ''), value);
    if (durable) syncDir(dir);
  }

  /**
   * Saves atomically without fsync: a killed process leaves the old record or the new one (the
   * page cache outlives it), and a record torn by a machine crash fails its SHA-256 on load and is
   * treated as missing. For large records that are replaced often and whose loss costs only a redo.
   */
  saveUnsynced(key: string, value: unknown): void {
    const file = this.pathOf(key);
    mkdirSync(path.dirname(file), { recursive: true });
    writeRecord(file, key.replace(/-\d+/g, ''), value, { sync: false });
  }

  /**
   * saveUnsynced with the writing on libuv's thread pool: the record is encoded (and hashed) now,
   * written while the caller goes on, and renamed into place when complete. The typed arrays of
   * `value` must not change until the promise settles. A kill before then leaves the previous
   * record (and a temporary file, swept on the next start).
   */
  saveUnsyncedInBackground(key: string, value: unknown): Promise<void> {
    const file = this.pathOf(key);
    mkdirSync(path.dirname(file), { recursive: true });
    return writeRecordInBackground(file, key.replace(/-\d+/g, ''), value, { sync: false });
  }

  /** Deletes a key's record or a whole sub-folder of records. */
  remove(keyOrFolder: string): void {
    rmSync(this.pathOf(keyOrFolder), { force: true });
    rmSync(path.join(this.dir, keyOrFolder), { recursive: true, force: true });
  }

  /** Deletes a round's per-batch records (its state record stays). */
  removeBatches(round: string): void {
    const dir = path.join(this.dir, round);
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) if (name.startsWith('batch-')) rmSync(path.join(dir, name), { force: true });
  }

  mtimeMs(key: string): number | null {
    const file = this.pathOf(key);
    return existsSync(file) ? statSync(file).mtimeMs : null;
  }
}

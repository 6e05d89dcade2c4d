// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Finding the recordings of a session: the file pairs (`.ap.bin` + `.ap.meta`, or `.bin` +
 * `.json`) under a folder, or the pair a single file path belongs to.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../../../proto/errors.js';

/** The files of one probe's recording. */
export interface SessionProbe {
  /** Unique within the session: `imecN` from the file name, else a name made unique from the path. */
  readonly label: string;
  /** N of `imecN`; `null` when the name has none. Probes are sorted by it. */
  readonly probeIndex: number | null;
  readonly format: 'spikeglx' | 'raw';
  readonly binPath: string;
  /** The `.meta` (SpikeGLX) or `.json` (plain format). */
  readonly metaPath: string;
  /** The `.ch` of an mtscomp-compressed recording (binPath is then the `.cbin`). */
  readonly chPath?: string;
}

/** The probes of a session, sorted by probe index, and what else was found on the way. */
export interface Session {
  readonly root: string;
  readonly probes: readonly SessionProbe[];
  /** Unpaired or unusable files, each a sentence for the user. */
  readonly problems: readonly string[];
}

export interface DiscoverOptions {
  /** Folder levels searched below the given folder. @default 4 */
  maxDepth: number;
}

const IMEC_NAME = /\.(imec(\d*))\.(?:ap\.)?(?:bin|cbin|ch|meta|json)$/;

function labelOf(file: string): { label: string; probeIndex: number | null } {
  const base = path.basename(file);
  const m = IMEC_NAME.exec(base);
  if (m) return { label: m[1]!, probeIndex: m[2] === '' ? 0 : Number(m[2]) };
  return { label: base.replace(/(\.ap)?\.(bin|cbin|ch|meta|json)$/, ''), probeIndex: null };
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

function stem(file: string, suffix: string): string {
  return file.slice(0, file.length - suffix.length);
}

/**
 * The recording a single file path names: `X.ap.bin` or `X.ap.meta` (SpikeGLX), `X.bin` or
 * `X.json` (plain format). Files that are not there, or streams spikeshard does not sort (LF,
 * NI-DAQ, compressed), are an {@link InputError}.
 */
export async function recordingFiles(file: string): Promise<SessionProbe> {
  const p = path.resolve(file);
  if (/\.lf\.(bin|meta|cbin)$/.test(p)) {
    throw new InputError(p, 'is the LF stream; spikeshard sorts the AP stream (the .ap.bin next to it)');
  }
  if (/\.nidq\.(bin|meta)$/.test(p)) throw new InputError(p, 'is the NI-DAQ stream, not a probe (give an .ap.bin)');
  if (p.endsWith('.ch')) return recordingFiles(stem(p, '.ch') + '.cbin');
  let info;
  try {
    info = await stat(p);
  } catch {
    throw new InputError(p, 'no such file or folder');
  }
  if (info.isDirectory())
    throw new InputError(p, 'is a folder; give one recording file (or use the folder as a session)');
  const { label, probeIndex } = labelOf(p);
  const spikeglx = (binPath: string, metaPath: string): SessionProbe => ({
    label,
    probeIndex,
    format: 'spikeglx',
    binPath,
    metaPath,
  });
  if (p.endsWith('.ap.bin')) return spikeglx(p, stem(p, '.bin') + '.meta');
  if (p.endsWith('.meta')) {
    const bin = stem(p, '.meta') + '.bin';
    const cbin = stem(p, '.meta') + '.cbin';
    if (!(await isFile(bin)) && (await isFile(cbin))) return { ...spikeglx(cbin, p), chPath: stem(p, '.meta') + '.ch' };
    return spikeglx(bin, p);
  }
  if (p.endsWith('.cbin')) {
    const chPath = stem(p, '.cbin') + '.ch';
    const json = stem(p, '.cbin') + '.json';
    const meta = stem(p, '.cbin') + '.meta';
    if (await isFile(meta)) return { ...spikeglx(p, meta), chPath };
    if (await isFile(json)) return { label, probeIndex, format: 'raw', binPath: p, metaPath: json, chPath };
    throw new InputError(
      p,
      `has no description beside it: expected ${path.basename(meta)} (SpikeGLX) or ${path.basename(json)} (plain format)`,
    );
  }
  if (p.endsWith('.json')) return { label, probeIndex, format: 'raw', binPath: stem(p, '.json') + '.bin', metaPath: p };
  if (p.endsWith('.bin')) {
    const json = stem(p, '.bin') + '.json';
    const meta = stem(p, '.bin') + '.meta';
    if (await isFile(json)) return { label, probeIndex, format: 'raw', binPath: p, metaPath: json };
    if (await isFile(meta)) return spikeglx(p, meta);
    throw new InputError(
      p,
      `has no description beside it: expected ${path.basename(meta)} (SpikeGLX) or ${path.basename(json)} (plain format, docs/recording-formats.md)`,
    );
  }
  throw new InputError(
    p,
    'is not a recording file: expected .ap.bin, .ap.meta, .ap.cbin (mtscomp, with its .ch), or a plain-format .bin/.json',
  );
}

async function walk(dir: string, depth: number, maxDepth: number, files: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new InputError(dir, `cannot be listed: ${(err as Error).message}`, { cause: err });
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    let isDir = e.isDirectory();
    let isRegular = e.isFile();
    if (e.isSymbolicLink()) {
      const target = await stat(p).catch(() => undefined);
      isDir = target?.isDirectory() ?? false;
      isRegular = target?.isFile() ?? false;
    }
    if (isDir) {
      if (depth < maxDepth) await walk(p, depth + 1, maxDepth, files);
    } else if (isRegular) {
      files.push(p);
    }
  }
}

/**
 * The probes of a session. A folder is searched `maxDepth` levels down for `*.ap.bin` +
 * `*.ap.meta` pairs and plain `.bin` + `.json` pairs; a file gives its own recording. A folder
 * with no probe is an {@link InputError}; unpaired files are reported in `problems`.
 */
export async function discoverSession(target: string, options: Partial<DiscoverOptions> = {}): Promise<Session> {
  const root = path.resolve(target);
  const maxDepth = options.maxDepth ?? 4;
  let info;
  try {
    info = await stat(root);
  } catch {
    throw new InputError(root, 'no such file or folder');
  }
  if (!info.isDirectory()) return { root, probes: [await recordingFiles(root)], problems: [] };

  const files: string[] = [];
  await walk(root, 0, maxDepth, files);
  const present = new Set(files);
  const rel = (p: string): string => path.relative(root, p);
  const found: SessionProbe[] = [];
  const problems: string[] = [];
  for (const f of files) {
    if (f.endsWith('.ap.bin')) {
      const meta = stem(f, '.bin') + '.meta';
      if (present.has(meta)) found.push({ ...labelOf(f), format: 'spikeglx', binPath: f, metaPath: meta });
      else problems.push(`${rel(f)} has no ${path.basename(meta)} beside it; skipped`);
    } else if (f.endsWith('.ap.cbin')) {
      const meta = stem(f, '.cbin') + '.meta';
      const ch = stem(f, '.cbin') + '.ch';
      const bin = stem(f, '.cbin') + '.bin';
      if (present.has(bin)) problems.push(`${rel(f)} sits beside ${path.basename(bin)}; the .bin is read`);
      else if (!present.has(ch)) problems.push(`${rel(f)} has no ${path.basename(ch)} beside it; skipped`);
      else if (!present.has(meta)) problems.push(`${rel(f)} has no ${path.basename(meta)} beside it; skipped`);
      else found.push({ ...labelOf(f), format: 'spikeglx', binPath: f, metaPath: meta, chPath: ch });
    } else if (f.endsWith('.ap.meta')) {
      const bin = stem(f, '.meta') + '.bin';
      if (present.has(bin) || present.has(stem(f, '.meta') + '.cbin')) continue;
      problems.push(`${rel(f)} has no ${path.basename(bin)} (or .cbin) beside it; skipped`);
    } else if (f.endsWith('.cbin') && !/\.(lf|nidq|obx)\.cbin$/.test(f)) {
      const json = stem(f, '.cbin') + '.json';
      const ch = stem(f, '.cbin') + '.ch';
      if (present.has(json) && present.has(ch) && !present.has(stem(f, '.cbin') + '.bin')) {
        found.push({ ...labelOf(f), format: 'raw', binPath: f, metaPath: json, chPath: ch });
      } else if (!present.has(stem(f, '.cbin') + '.bin')) {
        problems.push(`${rel(f)} needs a .ch and a .json (or an .ap. name with a .meta) beside it; skipped`);
      }
    } else if (f.endsWith('.bin') && !/\.(lf|nidq|obx)\.bin$/.test(f)) {
      const json = stem(f, '.bin') + '.json';
      const meta = stem(f, '.bin') + '.meta';
      if (present.has(json)) found.push({ ...labelOf(f), format: 'raw', binPath: f, metaPath: json });
      else if (!present.has(meta)) problems.push(`${rel(f)} has neither a .meta nor a .json beside it; skipped`);
      else
        problems.push(`${rel(f)} is not named like an AP stream (.ap.bin); skipped (give the file itself to read it)`);
    }
  }
  if (found.length === 0) {
    const seen = problems.length > 0 ? ` Found instead: ${problems.join('; ')}.` : '';
    throw new InputError(
      root,
      `no probe recording found (searched ${maxDepth} folder levels down for *.ap.bin or *.ap.cbin + *.ap.meta, or .bin + .json pairs).${seen}`,
    );
  }
  const probes = uniqueLabels(found, root, problems);
  probes.sort(
    (a, b) =>
      (a.probeIndex ?? Infinity) - (b.probeIndex ?? Infinity) ||
      (a.label < b.label ? -1 : a.label > b.label ? 1 : 0) ||
      (a.binPath < b.binPath ? -1 : 1),
  );
  return { root, probes, problems };
}

/**
 * Two recordings with the same label (3A files all named `.imec.`, or several gates of one
 * probe) get the name of their folder, or their path, so that each output has its own name.
 */
function uniqueLabels(found: SessionProbe[], root: string, problems: string[]): SessionProbe[] {
  const count = (list: SessionProbe[], key: (p: SessionProbe) => string): Map<string, number> => {
    const m = new Map<string, number>();
    for (const p of list) m.set(key(p), (m.get(key(p)) ?? 0) + 1);
    return m;
  };
  const byLabel = count(found, (p) => p.label);
  if ([...byLabel.values()].every((n) => n === 1)) return found;
  const folderName = (p: SessionProbe): string => path.basename(path.dirname(p.binPath));
  const clashing = found.filter((p) => byLabel.get(p.label)! > 1);
  const byFolder = count(clashing, folderName);
  const out = found.map((p) => {
    if (byLabel.get(p.label)! === 1) return p;
    const folder = folderName(p);
    const relative = path
      .relative(root, p.binPath)
      .replace(/(\.ap)?\.c?bin$/, '')
      .replaceAll(path.sep, '_');
    const label = byFolder.get(folder) === 1 && !byLabel.has(folder) ? folder : relative;
    problems.push(`${path.relative(root, p.binPath)} is labelled ${label} (the name ${p.label} is taken twice)`);
    return { ...p, label };
  });
  return out;
}

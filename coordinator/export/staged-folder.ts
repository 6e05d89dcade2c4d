// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Folders that appear complete or not at all: everything is written into a hidden temporary
 * sibling (`.<name>.partial-XXXXXX`) that is renamed onto the target at the end. A crash leaves
 * only the hidden sibling, never a target folder with some files missing.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { ParameterError } from '../../proto/errors.js';

export interface StagedFolderOptions {
  /** Replace an existing folder at the target; without it an existing target is refused. */
  overwrite?: boolean;
}

/** Throws unless `target` is free, or is a folder that `overwrite` allows to replace. */
export function checkTarget(target: string, options: StagedFolderOptions): void {
  if (!existsSync(target)) return;
  if (!statSync(target).isDirectory()) {
    throw new ParameterError(`${target}: exists and is not a folder; refusing to replace it`);
  }
  if (options.overwrite !== true) {
    throw new ParameterError(`${target}: folder exists already; set overwrite to replace it`);
  }
}

/** Calls `fill` with a fresh temporary folder next to `target`, then moves it to `target`. */
export function writeFolderStaged(target: string, options: StagedFolderOptions, fill: (dir: string) => void): void {
  checkTarget(target, options);
  const parent = path.dirname(path.resolve(target));
  const name = path.basename(path.resolve(target));
  mkdirSync(parent, { recursive: true });
  const staging = uniqueSibling(parent, name, 'partial');
  try {
    fill(staging);
    // Checked again: another process may have created the target while we wrote.
    checkTarget(target, options);
    if (existsSync(target)) {
      const old = uniqueSibling(parent, name, 'old');
      renameSync(target, path.join(old, name));
      try {
        renameSync(staging, target);
      } catch (err) {
        renameSync(path.join(old, name), target);
        rmSync(old, { recursive: true, force: true });
        throw err;
      }
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(staging, target);
    }
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

/** A new hidden folder next to `name`, created with the default mode (mkdtemp's 0700 would stick to the result). */
function uniqueSibling(parent: string, name: string, kind: string): string {
  const dir = path.join(parent, `.${name}.${kind}-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir);
  return dir;
}

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Finds the ground-truth folder that `compare` was pointed at: either the truth folder itself
 * (truth.json) or a `spikeshard simulate` output folder holding `ground_truth/<probe>/`.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError, expected } from '../../proto/errors.js';
import { isGroundTruthDir } from '../formats/ground-truth.js';

/**
 * Resolves GT_DIR to a truth folder. With several probes under `ground_truth/`, `probe` picks
 * one; without it the error lists them.
 */
export function resolveTruthDir(dir: string, probe?: string): string {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new InputError(dir, 'no such folder (expected a ground-truth folder or a simulate output folder)');
  }
  if (isGroundTruthDir(dir)) {
    if (probe !== undefined)
      throw new InputError(dir, `is a single ground-truth folder; --probe ${probe} does not apply`);
    return dir;
  }
  const parent = path.join(dir, 'ground_truth');
  const probes =
    existsSync(parent) && statSync(parent).isDirectory()
      ? readdirSync(parent)
          .filter((name) => isGroundTruthDir(path.join(parent, name)))
          .sort()
      : [];
  if (probes.length === 0) {
    throw new InputError(
      dir,
      'not a ground-truth folder: expected truth.json, or ground_truth/<probe>/truth.json (made by `spikeshard simulate`)',
    );
  }
  if (probe !== undefined) {
    if (!probes.includes(probe))
      throw new InputError(parent, `probe ${expected(`one of ${probes.join(', ')}`, probe)}`);
    return path.join(parent, probe);
  }
  if (probes.length > 1) {
    throw new InputError(
      parent,
      `holds ${probes.length} ground truths (${probes.join(', ')}); choose one with --probe`,
    );
  }
  return path.join(parent, probes[0]!);
}

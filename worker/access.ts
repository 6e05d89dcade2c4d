// SPDX-License-Identifier: GPL-3.0-or-later
/** The worker's two gates: the per-run secret on every call, and the data roots on every file. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import path from 'node:path';

/** A file outside the data roots (gRPC PERMISSION_DENIED). */
export class PathRefusedError extends Error {
  override readonly name = 'PathRefusedError';
}

/** Constant-time comparison of a presented secret with the run's (hashes first, so lengths do not leak). */
export function secretMatches(presented: string | Buffer | undefined, secret: string): boolean {
  if (presented === undefined) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b);
}

/** The data roots, resolved once (symbolic links followed), so that checks compare real paths. */
export async function resolveRoots(roots: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const r of roots) out.push(await realpath(path.resolve(r)));
  return out;
}

/** True if `real` is a root or lies below one; both sides are real (resolved) paths. */
export function isUnder(real: string, roots: readonly string[]): boolean {
  return roots.some((root) => {
    const rel = path.relative(root, real);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  });
}

/**
 * Throws PathRefusedError unless every file, with symbolic links resolved, lies under a root. A
 * file that does not exist is checked on its absolute path, so the refusal does not reveal
 * whether it exists outside the roots.
 */
export async function checkFiles(files: readonly string[], roots: readonly string[]): Promise<void> {
  for (const f of files) {
    let real: string;
    try {
      real = await realpath(path.resolve(f));
    } catch {
      real = path.resolve(f);
    }
    if (!isUnder(real, roots)) {
      throw new PathRefusedError(`${f} lies outside the worker's data roots (${roots.join(', ')})`);
    }
  }
}

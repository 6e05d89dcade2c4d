// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Loads the native core. Loading is a user-facing step: when a backend cannot load, the error
 * says which file was tried, why it failed and what to do about it.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { NativeCpuBinding } from './binding.js';

const require = createRequire(import.meta.url);

/** The repository root, found from this file both in the sources and in dist/. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

export class NativeLoadError extends Error {
  constructor(
    readonly candidates: readonly string[],
    readonly reasons: readonly string[],
  ) {
    super(
      [
        'the spikeshard native core could not be loaded.',
        ...candidates.map((c, i) => `  tried ${c}: ${reasons[i] ?? 'unknown'}`),
        'Possible solutions:',
        '  - build it: npm ci (or npm run build:native) in the spikeshard folder;',
        '  - after upgrading Node.js, rebuild it: npm rebuild.',
      ].join('\n'),
    );
    this.name = 'NativeLoadError';
  }
}

let cpu: NativeCpuBinding | undefined;

/** The CPU backend (the reference). Cached after the first load. */
export function loadCpuBinding(): NativeCpuBinding {
  if (cpu) return cpu;
  const root = packageRoot();
  const candidates = [
    process.env['SPIKESHARD_NATIVE_CPU'],
    path.join(root, 'native', 'build', 'Release', 'spikeshard_cpu.node'),
  ].filter((c): c is string => c !== undefined && c !== '');
  const reasons: string[] = [];
  for (const candidate of candidates) {
    if (!existsSync(candidate)) {
      reasons.push('file not found');
      continue;
    }
    try {
      cpu = require(candidate) as NativeCpuBinding;
      return cpu;
    } catch (err) {
      reasons.push(err instanceof Error ? err.message : String(err));
    }
  }
  throw new NativeLoadError(candidates, reasons);
}

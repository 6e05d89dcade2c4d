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
import type { NativeCudaBinding, NativeCudaDescription } from './binding-cuda.js';

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

/** The result of {@link loadCudaBinding}: the binding with its description, or why not. */
export type CudaLoadResult =
  | { readonly ok: true; readonly binding: NativeCudaBinding; readonly description: NativeCudaDescription }
  | { readonly ok: false; readonly reason: string; readonly path: string };

let cuda: CudaLoadResult | undefined;

/**
 * The CUDA backend, if it can be used here: the addon file exists and loads, and device 0 is a
 * usable CUDA device. Never throws; a failure says which file was tried and why (file missing: the
 * build had no CUDA toolkit; no device; driver too old — CUDA's own error string). Cached.
 * SPIKESHARD_NATIVE_CUDA overrides the file.
 */
export function loadCudaBinding(): CudaLoadResult {
  if (cuda) return cuda;
  const file =
    process.env['SPIKESHARD_NATIVE_CUDA'] ||
    path.join(packageRoot(), 'native', 'build', 'Release', 'spikeshard_cuda.node');
  cuda = tryLoadCuda(file);
  return cuda;
}

function tryLoadCuda(file: string): CudaLoadResult {
  if (!existsSync(file)) {
    return {
      ok: false,
      path: file,
      reason: `${file} not found (the native build found no CUDA toolkit; install one and run npm run build:native)`,
    };
  }
  let binding: NativeCudaBinding;
  try {
    binding = require(file) as NativeCudaBinding;
  } catch (err) {
    return {
      ok: false,
      path: file,
      reason: `${file} failed to load: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  const description = binding.describe();
  if (!description.device.available) {
    return { ok: false, path: file, reason: `no usable CUDA device: ${description.device.reason}` };
  }
  return { ok: true, binding, description };
}

// SPDX-License-Identifier: GPL-3.0-or-later
// Prints the CUDA toolkit root whose bin/nvcc exists (CUDA_HOME, CUDA_PATH, then nvcc on PATH),
// or nothing. binding.gyp builds the spikeshard_cuda target only when this prints a path, so a
// machine without the toolkit (CI) skips the target and `npm ci` still succeeds.
// SPIKESHARD_NO_CUDA=1 forces the skip.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function hasNvcc(root) {
  try {
    return fs.statSync(path.join(root, 'bin', 'nvcc')).isFile();
  } catch {
    return false;
  }
}

function find() {
  if (process.env.SPIKESHARD_NO_CUDA === '1') return '';
  for (const key of ['CUDA_HOME', 'CUDA_PATH']) {
    const root = process.env[key];
    if (root && hasNvcc(root)) return path.resolve(root);
  }
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const nvcc = path.join(dir, 'nvcc');
    if (!fs.existsSync(nvcc)) continue;
    // /usr/local/bin/nvcc is often a wrapper script, not a link; prefer the conventional
    // /usr/local/cuda when the one found on PATH has no lib64 next to it.
    const root = path.dirname(path.dirname(fs.realpathSync(nvcc)));
    if (fs.existsSync(path.join(root, 'lib64', 'libcudart_static.a'))) return root;
    if (hasNvcc('/usr/local/cuda')) return '/usr/local/cuda';
    return root;
  }
  return '';
}

process.stdout.write(find());

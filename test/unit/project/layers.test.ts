// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The one-way layers of docs/architecture.md, checked on the sources:
 *   proto/ imports nothing of the project; native/lib/ only proto/; worker/ and coordinator/
 *   only proto/ and native/lib/ (through native/lib/index.ts), never each other; cli/ (the
 *   command-line entry) may import all of them; nothing imports cli/ or test/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../../native/lib/index.js';

const root = packageRoot();

function tsFiles(dir: string): string[] {
  const abs = path.join(root, dir);
  const out: string[] = [];
  if (!existsSync(abs)) return out;
  for (const name of readdirSync(abs)) {
    const p = path.join(abs, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(path.join(dir, name)));
    else if (name.endsWith('.ts')) out.push(path.join(dir, name));
  }
  return out;
}

function layerOf(file: string): string {
  const top = file.split(path.sep)[0]!;
  return top === 'native' ? 'native/lib' : top;
}

const allowed: Record<string, string[]> = {
  proto: ['proto'],
  'native/lib': ['native/lib', 'proto'],
  worker: ['worker', 'proto', 'native/lib'],
  coordinator: ['coordinator', 'proto', 'native/lib'],
  cli: ['cli', 'coordinator', 'worker', 'proto', 'native/lib'],
};

test('imports follow the one-way layers', () => {
  const violations: string[] = [];
  for (const layer of Object.keys(allowed)) {
    for (const file of tsFiles(layer === 'native/lib' ? 'native/lib' : layer)) {
      const text = readFileSync(path.join(root, file), 'utf8');
      for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g)) {
        const target = path.normalize(path.join(path.dirname(file), m[1]!));
        const targetLayer = layerOf(target);
        if (!allowed[layer]!.includes(targetLayer)) violations.push(`${file} imports ${m[1]} (${targetLayer})`);
        const crossesIntoNative = layer !== 'native/lib' && targetLayer === 'native/lib';
        if (crossesIntoNative && !target.endsWith(path.join('native', 'lib', 'index.js'))) {
          violations.push(`${file} imports ${m[1]}: use native/lib/index.js`);
        }
      }
    }
  }
  assert.deepEqual(violations, []);
});

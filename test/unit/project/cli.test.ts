// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../../native/lib/index.js';
import { VERSION } from '../../../coordinator/version.js';
import { runCli } from '../../helpers/cli.js';

test('VERSION equals package.json version', () => {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
});

test('--version prints the version and exits 0', () => {
  const r = runCli(['--version']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout.trim(), VERSION);
});

test('an unknown command exits with the usage code 2 and says so', () => {
  const r = runCli(['no-such-command']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^error: (unknown command|too many arguments)/m);
});

test('every command has --help that exits 0', () => {
  const top = runCli(['--help']);
  assert.equal(top.status, 0);
  const commandsSection = top.stdout.split(/^Commands:$/m)[1] ?? '';
  const names = [...commandsSection.matchAll(/^ {2}([a-z-]+)\b/gm)].map((m) => m[1]!).filter((n) => n !== 'help');
  for (const name of names) {
    const r = runCli([name, '--help']);
    assert.equal(r.status, 0, `${name} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Usage: spikeshard ${name}`));
  }
});

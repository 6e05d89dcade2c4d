// SPDX-License-Identifier: GPL-3.0-or-later
/** Headless Chromium for the report tests (Debian's `chromium`; CI installs it, .ci/setup-chromium.sh). */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';

/** The Chromium binary: $SPIKESHARD_CHROMIUM, else the first of the usual names that exists; null if none. */
export function findChromium(): string | null {
  const candidates = [
    process.env['SPIKESHARD_CHROMIUM'],
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
  ];
  for (const c of candidates) if (c !== undefined && c !== '' && existsSync(c)) return c;
  return null;
}

function run(binary: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'spikeshard-chromium-'));
  try {
    const r = spawnSync(
      binary,
      [
        '--headless',
        // Root in containers has no user namespace for the sandbox; the page is our own file.
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--hide-scrollbars',
        `--user-data-dir=${profile}`,
        ...args,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Screenshot of `htmlFile` at `width`×`height` into `pngFile`, after the page's scripts ran. */
export function screenshot(binary: string, htmlFile: string, pngFile: string, width: number, height: number): void {
  const r = run(binary, [
    `--screenshot=${pngFile}`,
    `--window-size=${width},${height}`,
    '--virtual-time-budget=5000',
    `file://${path.resolve(htmlFile)}`,
  ]);
  if (r.status !== 0) throw new Error(`chromium --screenshot exited ${r.status}: ${r.stderr.slice(-2000)}`);
}

/** The DOM of `htmlFile` after its scripts ran, serialised. */
export function dumpDom(binary: string, htmlFile: string): string {
  const r = run(binary, ['--dump-dom', '--virtual-time-budget=5000', `file://${path.resolve(htmlFile)}`]);
  if (r.status !== 0) throw new Error(`chromium --dump-dom exited ${r.status}: ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

export interface DecodedPng {
  width: number;
  height: number;
  /** Samples per pixel: 3 (RGB) or 4 (RGBA). */
  channels: number;
  /** Row-major 8-bit samples, rows without filter bytes. */
  pixels: Uint8Array;
}

/** Decodes an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium writes) with node:zlib. */
export function decodePng(bytes: Uint8Array): DecodedPng {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (!signature.every((b, i) => buf[i] === b)) throw new Error('not a PNG (bad signature)');
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at < buf.length;) {
    const length = buf.readUInt32BE(at);
    const type = buf.toString('ascii', at + 4, at + 8);
    const data = buf.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [bitDepth, colourType, , , interlace] = [data[8], data[9], data[10], data[11], data[12]];
      if (bitDepth !== 8 || (colourType !== 2 && colourType !== 6) || interlace !== 0) {
        throw new Error(`PNG: expected 8-bit RGB(A) non-interlaced, got depth ${bitDepth} type ${colourType}`);
      }
      channels = colourType === 6 ? 4 : 3;
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0;
      let predictor = 0;
      if (filter === 1) predictor = a;
      else if (filter === 2) predictor = b;
      else if (filter === 3) predictor = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`PNG: unknown filter ${filter} on row ${y}`);
      pixels[y * stride + x] = (line[x]! + predictor) & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

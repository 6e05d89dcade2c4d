// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * NumPy `.npz` archives as `numpy.savez` writes them: a ZIP file (PKWARE APPNOTE) whose members
 * `<name>.npy` are stored uncompressed (method 0), each with its CRC-32. `numpy.load` returns a
 * mapping from `<name>` to the array. No ZIP64: archives stay below 4 GiB.
 */
import zlib from 'node:zlib';
import { writeFileAtomic } from './atomic.js';
import { encodeNpy, type NpyData } from './npy.js';

/** One member of an archive: the array under `name` (without `.npy`) and its shape. */
export interface NpzMember {
  name: string;
  data: NpyData;
  shape: readonly number[];
}

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL = 0x06054b50;
const VERSION = 20; // 2.0: what a stored member needs
// 1980-01-01 00:00 in MS-DOS time/date: a fixed stamp keeps the archive's bytes reproducible.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const LIMIT = 0xffffffff;

/** The bytes of an `.npz` archive holding `members` in order. */
export function encodeNpz(members: readonly NpzMember[]): Buffer[] {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  const names = new Set<string>();
  for (const m of members) {
    if (!/^[A-Za-z0-9_.-]+$/.test(m.name) || names.has(m.name)) {
      throw new RangeError(`encodeNpz: member name ${JSON.stringify(m.name)} is not a new plain file name`);
    }
    names.add(m.name);
    const fileName = Buffer.from(`${m.name}.npy`, 'latin1');
    const body = encodeNpy(m.data, m.shape);
    if (body.length >= LIMIT || offset >= LIMIT) throw new RangeError('encodeNpz: archive exceeds 4 GiB (no ZIP64)');
    const crc = zlib.crc32(body);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL_HEADER, 0);
    local.writeUInt16LE(VERSION, 4);
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(body.length, 22);
    local.writeUInt16LE(fileName.length, 26);
    local.writeUInt16LE(0, 28); // extra field
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(CENTRAL_HEADER, 0);
    entry.writeUInt16LE(VERSION, 4); // made by
    entry.writeUInt16LE(VERSION, 6); // needed
    entry.writeUInt16LE(0, 8);
    entry.writeUInt16LE(0, 10);
    entry.writeUInt16LE(DOS_TIME, 12);
    entry.writeUInt16LE(DOS_DATE, 14);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(body.length, 20);
    entry.writeUInt32LE(body.length, 24);
    entry.writeUInt16LE(fileName.length, 28);
    // extra, comment, disk number, internal and external attributes: all zero
    entry.writeUInt32LE(offset, 42);
    central.push(entry, fileName);
    parts.push(local, fileName, body);
    offset += local.length + fileName.length + body.length;
  }
  const centralBytes = central.reduce((n, b) => n + b.length, 0);
  if (offset + centralBytes >= LIMIT) throw new RangeError('encodeNpz: archive exceeds 4 GiB (no ZIP64)');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(END_OF_CENTRAL, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(centralBytes, 12);
  end.writeUInt32LE(offset, 16);
  return [...parts, ...central, end];
}

/** Writes an `.npz` archive atomically (temporary name, fsync, rename). */
export function writeNpz(file: string, members: readonly NpzMember[]): void {
  writeFileAtomic(file, encodeNpz(members));
}

// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Logging for every process: pino JSON lines on stderr (stdout stays free for results such as
 * `compare --json`), pretty-printed when stderr is a terminal.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** @default 'info', or the SPIKESHARD_LOG_LEVEL environment variable */
  level: LevelWithSilent;
  /** Pretty output; @default whether stderr is a TTY */
  pretty: boolean;
}

export function defaultLogLevel(): LevelWithSilent {
  const fromEnv = process.env['SPIKESHARD_LOG_LEVEL'];
  const levels: LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  return levels.find((l) => l === fromEnv) ?? 'info';
}

export function createLogger(options: Partial<LoggerOptions> = {}): Logger {
  const level = options.level ?? defaultLogLevel();
  const wantPretty = options.pretty ?? process.stderr.isTTY;
  if (wantPretty) {
    return pino(
      { level },
      pretty({ destination: 2, sync: true, colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname' }),
    );
  }
  return pino({ level }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that drops everything; for library calls made from tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** Memory fields of a log line, in MB (see memoryFields). */
export interface MemoryFields {
  rssMB: number;
  peakRssMB: number;
  rssAnonMB?: number;
  peakSinceMB?: number;
  arrayBuffersMB: number;
  heapMB: number;
}

/**
 * The process's resident memory now and its peak so far, in MB, for log lines at stage ends: the
 * peak only grows, so the first stage whose line shows the sort's final peak is where it was reached.
 * On Linux also `rssAnonMB`, the anonymous part of `rssMB` (heaps, typed arrays, malloc): the rest
 * is file pages (the code, mapped files) that the kernel can drop, so it is the part that tells
 * whether the process holds memory. Absent where /proc/self/status is not readable.
 * `arrayBuffersMB` is what JavaScript holds in ArrayBuffers (typed arrays, Buffers, those the native
 * core returns) and `heapMB` the V8 heap in use: with `rssAnonMB` they tell JavaScript-held memory,
 * some of it garbage not yet collected, from native allocations (malloc, thread arenas).
 * `peakSinceMB` (Linux, with SPIKESHARD_MEMORY_WINDOWS=1) is the largest RSS since the previous
 * call: each call resets the kernel's high-water mark (VmHWM, through /proc/self/clear_refs), so the
 * lines of a sort say which stage or learning round reached which peak. Opt-in because the reset
 * also resets what getrusage and `time -v` report as the process's peak; `peakRssMB` and
 * peakRssKb() then take the largest of the windows' peaks instead.
 */
export function memoryFields(): MemoryFields {
  const usage = process.memoryUsage();
  const fields: MemoryFields = {
    rssMB: Math.round(usage.rss / 1e6),
    peakRssMB: 0,
    arrayBuffersMB: Math.round(usage.arrayBuffers / 1e6),
    heapMB: Math.round(usage.heapUsed / 1e6),
  };
  const status = procStatusKb();
  if (status.RssAnon !== undefined) fields.rssAnonMB = Math.round((status.RssAnon * 1024) / 1e6);
  if (process.env['SPIKESHARD_MEMORY_WINDOWS'] === '1' && status.VmHWM !== undefined && resetPeak()) {
    fields.peakSinceMB = Math.round((status.VmHWM * 1024) / 1e6);
    windowsPeakKb = Math.max(windowsPeakKb, status.VmHWM);
  }
  fields.peakRssMB = Math.round((peakRssKb() * 1024) / 1e6);
  return fields;
}

/** The largest VmHWM read before a reset (memoryFields with SPIKESHARD_MEMORY_WINDOWS=1), in kB. */
let windowsPeakKb = 0;

/** The process's peak RSS so far in kB, whether or not memoryFields has reset the kernel's mark. */
export function peakRssKb(): number {
  return Math.max(windowsPeakKb, process.resourceUsage().maxRSS);
}

/** The kB fields of /proc/self/status that memoryFields reads; empty off Linux or when unreadable. */
function procStatusKb(): { RssAnon?: number; VmHWM?: number } {
  if (process.platform !== 'linux') return {};
  let text: string;
  try {
    text = readFileSync('/proc/self/status', 'latin1');
  } catch {
    return {};
  }
  const out: { RssAnon?: number; VmHWM?: number } = {};
  for (const key of ['RssAnon', 'VmHWM'] as const) {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
    if (m !== null) out[key] = Number(m[1]);
  }
  return out;
}

/** Resets VmHWM to the current RSS (clear_refs value 5); false where the kernel refuses. */
function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

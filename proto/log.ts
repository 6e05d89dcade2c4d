// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Logging for every process: pino JSON lines on stderr (stdout stays free for results such as
 * `compare --json`), pretty-printed when stderr is a terminal.
 */
import { readFileSync } from 'node:fs';
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

/**
 * The process's resident memory now and its peak so far, in MB, for log lines at stage ends: the
 * peak only grows, so the first stage whose line shows the sort's final peak is where it was reached.
 * On Linux also `rssAnonMB`, the anonymous part of `rssMB` (heaps, typed arrays, malloc): the rest
 * is file pages (the code, mapped files) that the kernel can drop, so it is the part that tells
 * whether the process holds memory. Absent where /proc/self/status is not readable.
 */
export function memoryFields(): { rssMB: number; peakRssMB: number; rssAnonMB?: number } {
  const fields: { rssMB: number; peakRssMB: number; rssAnonMB?: number } = {
    rssMB: Math.round(process.memoryUsage.rss() / 1e6),
    peakRssMB: Math.round((process.resourceUsage().maxRSS * 1024) / 1e6),
  };
  const anonKb = rssAnonKb();
  if (anonKb !== null) fields.rssAnonMB = Math.round((anonKb * 1024) / 1e6);
  return fields;
}

/** RssAnon of /proc/self/status in kB; null off Linux (or when it cannot be read). */
function rssAnonKb(): number | null {
  if (process.platform !== 'linux') return null;
  try {
    const m = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'latin1'));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

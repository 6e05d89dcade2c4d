// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Logging for every process: pino JSON lines on stderr (stdout stays free for results such as
 * `compare --json`), pretty-printed when stderr is a terminal.
 */
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
 */
export function memoryFields(): { rssMB: number; peakRssMB: number } {
  return {
    rssMB: Math.round(process.memoryUsage.rss() / 1e6),
    peakRssMB: Math.round((process.resourceUsage().maxRSS * 1024) / 1e6),
  };
}

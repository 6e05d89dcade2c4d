// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Progress for long work. On a terminal: one redrawn bar on stderr. Elsewhere (SLURM logs,
 * pipes): a log line at most every `intervalMs` with the rate and the estimated time left.
 */
import type { Logger } from '../proto/log.js';

export interface ProgressOptions {
  /** What is being counted, e.g. 'batches' or 'seconds simulated'. */
  unit: string;
  /** @default whether stderr is a TTY */
  tty: boolean;
  /** Minimum time between log lines when not on a terminal. @default 10000 */
  intervalMs: number;
  /** Injected clock for tests. @default Date.now */
  now: () => number;
}

export class Progress {
  private done = 0;
  private readonly started: number;
  private lastReport: number;
  private readonly options: ProgressOptions;

  constructor(
    private readonly log: Logger,
    private readonly label: string,
    private readonly total: number,
    options: Partial<ProgressOptions> = {},
  ) {
    this.options = {
      unit: options.unit ?? 'items',
      tty: options.tty ?? process.stderr.isTTY,
      intervalMs: options.intervalMs ?? 10_000,
      now: options.now ?? Date.now,
    };
    this.started = this.options.now();
    this.lastReport = this.started;
  }

  /** Adds `n` finished units and reports if it is time to. */
  advance(n = 1): void {
    this.done += n;
    const now = this.options.now();
    if (this.options.tty) {
      if (now - this.lastReport >= 100 || this.done >= this.total) {
        this.lastReport = now;
        process.stderr.write(`\r${this.line(now)}\x1b[K`);
      }
    } else if (now - this.lastReport >= this.options.intervalMs) {
      this.lastReport = now;
      this.log.info(this.fields(now), `${this.label}: ${this.line(now)}`);
    }
  }

  /** Ends the bar (terminal) and logs a summary line. */
  finish(): void {
    const now = this.options.now();
    if (this.options.tty) process.stderr.write('\n');
    this.log.info(this.fields(now), `${this.label}: done, ${this.done} ${this.options.unit}`);
  }

  fields(now: number): { done: number; total: number; perSecond: number; etaS: number | null } {
    const elapsedS = Math.max(1e-3, (now - this.started) / 1000);
    const perSecond = this.done / elapsedS;
    const etaS = perSecond > 0 ? Math.max(0, (this.total - this.done) / perSecond) : null;
    return { done: this.done, total: this.total, perSecond, etaS };
  }

  line(now: number): string {
    const { perSecond, etaS } = this.fields(now);
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const width = 30;
    const filled = Math.round(frac * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const eta = etaS === null ? '?' : formatDuration(etaS);
    return `[${bar}] ${(frac * 100).toFixed(0)}% ${this.done}/${this.total} ${this.options.unit}, ${perSecond.toFixed(2)}/s, ${eta} left`;
  }
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

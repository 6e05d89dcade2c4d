// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * Progress for long work. On a terminal: a bar on stderr, redrawn in place; when several rounds
 * run at once (probes sorted together) their bars share one line. Elsewhere (SLURM logs, pipes):
 * a log line at most every `intervalMs` with the rate and the estimated time left.
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
  /** Where terminal bars are drawn. @default stderr */
  write: (text: string) => void;
  /** Terminal width for the shared bar line. @default stderr's columns, or 120 */
  columns: () => number;
}

/** Bars on screen now, in the order they started; one line holds them all. */
const active: Progress[] = [];

export interface ProgressFields {
  done: number;
  total: number;
  /** Items taken from an earlier run (not counted in the rate). */
  loaded: number;
  perSecond: number;
  etaS: number | null;
}

export class Progress {
  private done = 0;
  private loaded = 0;
  private readonly started: number;
  private lastReport: number;
  private readonly options: ProgressOptions;
  private readonly prefix: string;

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
      write: options.write ?? ((t) => process.stderr.write(t)),
      columns: options.columns ?? (() => process.stderr.columns || 120),
    };
    this.started = this.options.now();
    this.lastReport = this.started;
    const probe = (log.bindings() as { probe?: unknown }).probe;
    this.prefix = typeof probe === 'string' ? `${probe} ` : '';
    if (this.options.tty) active.push(this);
  }

  /** Counts `n` units finished by an earlier run: they show as done but do not enter the rate. */
  skip(n: number): void {
    this.loaded += n;
    this.done += n;
  }

  /** Adds `n` finished units and reports if it is time to. */
  advance(n = 1): void {
    this.done += n;
    const now = this.options.now();
    if (this.options.tty) {
      if (now - this.lastReport >= 100 || this.done >= this.total) {
        this.lastReport = now;
        this.draw(now);
      }
    } else if (now - this.lastReport >= this.options.intervalMs) {
      this.lastReport = now;
      this.log.info(this.fields(now), `${this.label}: ${this.line(now)}`);
    }
  }

  /** Ends the bar (terminal) and logs a summary line. */
  finish(): void {
    const now = this.options.now();
    if (this.options.tty) {
      const at = active.indexOf(this);
      if (at >= 0) active.splice(at, 1);
      // Leave the line clean for the summary below; the remaining bars redraw on their next advance.
      this.options.write('\r\x1b[K');
    }
    const fields = this.fields(now);
    const from = this.loaded > 0 ? ` (${this.loaded} from the run folder, ${this.done - this.loaded} computed)` : '';
    this.log.info(
      { ...fields, computed: this.done - this.loaded },
      `${this.label}: done, ${this.done} ${this.options.unit}${from}, ${fields.perSecond.toFixed(2)}/s`,
    );
  }

  private draw(now: number): void {
    const parts =
      active.length > 1 ? active.map((p) => p.compact(now)) : [`${this.prefix}${this.label} ${this.line(now)}`];
    let text = parts.join(' | ');
    const width = Math.max(20, this.options.columns() - 1);
    if (text.length > width) text = text.slice(0, width - 1) + '…';
    this.options.write(`\r${text}\x1b[K`);
  }

  fields(now: number): ProgressFields {
    const elapsedS = Math.max(1e-3, (now - this.started) / 1000);
    const perSecond = (this.done - this.loaded) / elapsedS;
    const etaS = perSecond > 0 ? Math.max(0, (this.total - this.done) / perSecond) : null;
    return { done: this.done, total: this.total, loaded: this.loaded, perSecond, etaS };
  }

  /** `[####------] 40% 12/30 batches, 2.10/s, 9s left` */
  line(now: number): string {
    const { perSecond, etaS } = this.fields(now);
    const eta = etaS === null ? '?' : formatDuration(etaS);
    return `${bar(this.fraction(), 30)} ${this.percent()} ${this.done}/${this.total} ${this.options.unit}, ${perSecond.toFixed(2)}/s, ${eta} left`;
  }

  /** The short form used when several bars share the line: `imec1 extraction [###---] 40% 9s`. */
  compact(now: number): string {
    const { etaS } = this.fields(now);
    return `${this.prefix}${this.label} ${bar(this.fraction(), 10)} ${this.percent()} ${etaS === null ? '?' : formatDuration(etaS)}`;
  }

  private fraction(): number {
    return this.total > 0 ? Math.min(1, this.done / this.total) : 1;
  }

  private percent(): string {
    return `${(this.fraction() * 100).toFixed(0)}%`;
  }
}

function bar(fraction: number, width: number): string {
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

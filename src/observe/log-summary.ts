/**
 * Keeps refusal lines bounded under a flood. Junk traffic (datagrams from many source ports,
 * connections that never route) would otherwise write one warn line each: here each kind of line
 * is let through in full for its first SUMMARY_BURST occurrences in an interval, so an admin still
 * sees examples with their details, and the rest of that interval becomes one summary line with
 * the count. The events themselves are counted by the metrics either way; only the log is bounded.
 *
 * A kind is the triple (line, listener, kind): `of` is the message of the summarised lines
 * ('connection closed', 'flow closed', 'limit reached: connection refused'), `kind` their close
 * reason or limit kind. The listener is part of it so that a flood on one listener does not hide
 * the refusals of another; the triples are bounded by the rule file (listener names and fixed
 * vocabularies), so the state here is too.
 *
 * Windows are fixed: one starts at the first occurrence of a kind and lasts SUMMARY_INTERVAL_MS;
 * its summary is written when it ends (a timer that does not hold the process), or at `flush`
 * (drain, exit). So a kind writes at most SUMMARY_BURST + 1 lines per interval, whatever arrives.
 */
import type { Logger } from './logger.js';

/** Lines of one kind written in full per interval before the rest are counted instead. */
export const SUMMARY_BURST = 10;
/** Length of a summary window: at most one summary line per kind in this time. */
export const SUMMARY_INTERVAL_MS = 60_000;
export const SUMMARY_MESSAGE = 'refusals summarised';

/** The fields of the summary line (the README's table lists exactly these). */
export const SUMMARY_FIELDS = ['of', 'listener', 'kind', 'suppressed', 'written', 'interval_ms'] as const;
export type SummaryField = (typeof SUMMARY_FIELDS)[number];

/** Time and timers, injectable so tests can drive the windows with a fake clock. */
export interface SummaryClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** Runs `fn` once after `ms`, without keeping the process alive; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

export const realClock: SummaryClock = {
  now: () => performance.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

export type SummaryLevel = 'warn' | 'info';

export interface LogSummaryOptions {
  readonly burst?: number;
  readonly intervalMs?: number;
  readonly clock?: SummaryClock;
}

interface Window {
  readonly of: string;
  readonly listener: string;
  readonly kind: string;
  readonly level: SummaryLevel;
  readonly start: number;
  written: number;
  suppressed: number;
  cancel: (() => void) | undefined;
}

export class LogSummary {
  private readonly windows = new Map<string, Window>();
  private readonly burst: number;
  private readonly intervalMs: number;
  private readonly clock: SummaryClock;

  constructor(
    private readonly log: Logger,
    opts: LogSummaryOptions = {},
  ) {
    this.burst = opts.burst ?? SUMMARY_BURST;
    this.intervalMs = opts.intervalMs ?? SUMMARY_INTERVAL_MS;
    this.clock = opts.clock ?? realClock;
  }

  /**
   * One line of this kind is about to be written: true if it should be, in full; false if it is
   * counted into the window's summary instead. At `debug` every line is written (an admin who
   * turned debug on wants each one).
   */
  admit(of: string, listener: string, kind: string, level: SummaryLevel = 'warn'): boolean {
    if (this.log.isLevelEnabled('debug')) return true;
    const now = this.clock.now();
    const key = `${of}\n${listener}\n${kind}`;
    let w = this.windows.get(key);
    if (w !== undefined && now - w.start >= this.intervalMs) {
      // Its timer has not run yet (a busy event loop, a fake clock): the window is over all the same.
      this.end(key, w);
      w = undefined;
    }
    if (w === undefined) {
      this.forgetQuietWindows(now);
      w = { of, listener, kind, level, start: now, written: 0, suppressed: 0, cancel: undefined };
      this.windows.set(key, w);
    }
    if (w.written < this.burst) {
      w.written++;
      return true;
    }
    if (w.suppressed++ === 0) {
      const ending = w;
      w.cancel = this.clock.after(Math.max(0, w.start + this.intervalMs - now), () => {
        if (this.windows.get(key) === ending) this.end(key, ending);
      });
    }
    return false;
  }

  /** Writes every pending summary now (drain, exit): counts are never lost, windows start afresh. */
  flush(): void {
    for (const [key, w] of [...this.windows]) this.end(key, w);
  }

  private end(key: string, w: Window): void {
    this.windows.delete(key);
    w.cancel?.();
    if (w.suppressed === 0) return;
    this.log[w.level](
      { of: w.of, listener: w.listener, kind: w.kind, suppressed: w.suppressed, written: w.written, interval_ms: this.intervalMs } satisfies Record<SummaryField, unknown>,
      SUMMARY_MESSAGE,
    );
  }

  /**
   * Windows that ended with nothing to summarise have no timer: drop them when a new one opens,
   * so kinds that stopped (a listener a reload removed) leave nothing behind.
   */
  private forgetQuietWindows(now: number): void {
    for (const [key, w] of this.windows) if (w.suppressed === 0 && now - w.start >= this.intervalMs) this.windows.delete(key);
  }
}

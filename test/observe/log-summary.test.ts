/** The log summary on a fake clock: bursts in full, one summary per interval per kind, counts that add up. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { LogSummary, SUMMARY_BURST, SUMMARY_FIELDS, SUMMARY_INTERVAL_MS, SUMMARY_MESSAGE, type SummaryClock } from '../../src/observe/log-summary.js';
import { LogCapture } from '../helpers/net.js';
import { REPO_ROOT } from '../helpers/interop.js';

/** Time moves only when told; timers run in due order as it passes them. */
class FakeClock implements SummaryClock {
  private t = 1000;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }
  get pending(): number {
    return this.timers.filter((t) => t.live).length;
  }
  /** Advances by `ms`, running each timer that falls due at its own time. */
  advance(ms: number, runTimers = true): void {
    const end = this.t + ms;
    for (;;) {
      const due = runTimers ? this.timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at)[0] : undefined;
      if (due === undefined) break;
      this.t = Math.max(this.t, due.at);
      due.live = false;
      due.fn();
    }
    this.timers = this.timers.filter((t) => t.live);
    this.t = end;
  }
}

function setup(level = 'info', opts: { burst?: number; intervalMs?: number } = {}): { clock: FakeClock; logs: LogCapture; summary: LogSummary } {
  const clock = new FakeClock();
  const logs = new LogCapture(level);
  return { clock, logs, summary: new LogSummary(logs.logger, { clock, ...opts }) };
}

const summaries = (logs: LogCapture): Record<string, unknown>[] => logs.lines.filter((l) => l['msg'] === SUMMARY_MESSAGE);

describe('log summary', () => {
  it('writes the first lines of a kind in full, then one summary with the count when the interval ends', () => {
    const { clock, logs, summary } = setup();
    const admitted = Array.from({ length: 1000 }, () => summary.admit('flow closed', 'udp', 'no-route'));
    assert.equal(admitted.filter(Boolean).length, SUMMARY_BURST);
    assert.deepEqual(admitted.slice(0, SUMMARY_BURST), Array(SUMMARY_BURST).fill(true));
    assert.equal(summaries(logs).length, 0, 'nothing is summarised before the interval ends');
    clock.advance(SUMMARY_INTERVAL_MS - 1);
    assert.equal(summaries(logs).length, 0);
    clock.advance(1);
    const [line, ...more] = summaries(logs);
    assert.equal(more.length, 0);
    assert.equal(line!['level'], 40, 'warn, like the lines it stands for');
    assert.deepEqual(
      Object.fromEntries(SUMMARY_FIELDS.map((f) => [f, line![f]])),
      { of: 'flow closed', listener: 'udp', kind: 'no-route', suppressed: 1000 - SUMMARY_BURST, written: SUMMARY_BURST, interval_ms: SUMMARY_INTERVAL_MS },
    );
    // The next window starts with a fresh burst, so an admin sees new examples.
    assert.equal(summary.admit('flow closed', 'udp', 'no-route'), true);
    assert.equal(clock.pending, 0, 'no timer while nothing is suppressed');
  });

  it('keeps kinds apart: per line, listener and reason', () => {
    const { clock, logs, summary } = setup('info', { burst: 2 });
    const keys: [string, string, string][] = [
      ['connection closed', 'a', 'no-route'],
      ['connection closed', 'b', 'no-route'],
      ['connection closed', 'a', 'proxy-refused'],
      ['flow closed', 'a', 'no-route'],
    ];
    for (const [i, k] of keys.entries()) for (let n = 0; n < 3 + i; n++) summary.admit(...k);
    clock.advance(SUMMARY_INTERVAL_MS);
    const got = summaries(logs).map((l) => [l['of'], l['listener'], l['kind'], l['suppressed']]);
    assert.deepEqual(got.sort(), keys.map(([of, listener, kind], i) => [of, listener, kind, 1 + i]).sort());
  });

  it('a window that ended is summarised at the next line of its kind even if its timer has not run yet', () => {
    const { clock, logs, summary } = setup('info', { burst: 1 });
    summary.admit('connection closed', 'l', 'no-sni');
    summary.admit('connection closed', 'l', 'no-sni');
    clock.advance(SUMMARY_INTERVAL_MS, false);
    assert.equal(summary.admit('connection closed', 'l', 'no-sni'), true);
    assert.deepEqual(summaries(logs).map((l) => l['suppressed']), [1]);
    clock.advance(SUMMARY_INTERVAL_MS);
    assert.equal(summaries(logs).length, 1, 'the stale timer writes nothing twice');
  });

  it('flush writes what is pending at once and leaves nothing for the timer', () => {
    const { clock, logs, summary } = setup('info', { burst: 1 });
    for (let i = 0; i < 5; i++) summary.admit('connection closed', 'l', 'tunnel-denied');
    summary.admit('connection closed', 'l', 'no-route');
    summary.flush();
    assert.deepEqual(summaries(logs).map((l) => [l['kind'], l['suppressed']]), [['tunnel-denied', 4]]);
    clock.advance(10 * SUMMARY_INTERVAL_MS);
    assert.equal(summaries(logs).length, 1);
    assert.equal(summary.admit('connection closed', 'l', 'tunnel-denied'), true, 'a fresh window after a flush');
  });

  it('the summary of info lines (UDP evictions) is at info', () => {
    const { clock, logs, summary } = setup('info', { burst: 1 });
    summary.admit('flow closed', 'u', 'evicted', 'info');
    summary.admit('flow closed', 'u', 'evicted', 'info');
    clock.advance(SUMMARY_INTERVAL_MS);
    assert.equal(summaries(logs)[0]!['level'], 30);
  });

  it('at debug every line is written', () => {
    const { clock, logs, summary } = setup('debug', { burst: 1 });
    for (let i = 0; i < 50; i++) assert.equal(summary.admit('connection closed', 'l', 'no-route'), true);
    clock.advance(SUMMARY_INTERVAL_MS);
    assert.equal(summaries(logs).length, 0);
  });

  it('any arrival pattern: at most burst full lines per window, summaries an interval apart, counts add up', () => {
    const kinds = ['no-route', 'proxy-refused', 'no-sni'];
    const event = fc.record({ gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 3 * SUMMARY_INTERVAL_MS })), kind: fc.integer({ min: 0, max: kinds.length - 1 }), timers: fc.boolean() });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 400 }), fc.integer({ min: 1, max: 5 }), (events, burst) => {
        const { clock, logs, summary } = setup('info', { burst });
        const full: { at: number; kind: string }[] = [];
        const summarised: { at: number; kind: string; n: number; written: number }[] = [];
        const seen = new Map<string, number>();
        let logged = 0;
        const collect = (): void => {
          for (const l of logs.lines.slice(logged)) summarised.push({ at: clock.now(), kind: l['kind'] as string, n: l['suppressed'] as number, written: l['written'] as number });
          logged = logs.lines.length;
        };
        for (const e of events) {
          clock.advance(e.gapMs, e.timers);
          collect();
          const kind = kinds[e.kind]!;
          seen.set(kind, (seen.get(kind) ?? 0) + 1);
          if (summary.admit('connection closed', 'l', kind)) full.push({ at: clock.now(), kind });
          collect();
        }
        summary.flush();
        collect();
        for (const kind of kinds) {
          const f = full.filter((x) => x.kind === kind);
          const s = summarised.filter((x) => x.kind === kind);
          assert.equal(f.length + s.reduce((n, x) => n + x.n, 0), seen.get(kind) ?? 0, `${kind}: every line is written or counted`);
          for (const x of s) assert.ok(x.written === burst && x.n > 0, 'a summary follows a full burst and counts something');
          // Summaries of one kind are an interval apart (the last may come early, at flush).
          for (let i = 1; i < s.length - 1; i++) assert.ok(s[i]!.at - s[i - 1]!.at >= SUMMARY_INTERVAL_MS);
          // Full lines: never more than `burst` inside any window of one interval that starts at one of them.
          for (const x of f) assert.ok(f.filter((y) => y.at >= x.at && y.at < x.at + SUMMARY_INTERVAL_MS).length <= 2 * burst);
        }
      }),
      { seed: 15_09, numRuns: 300 },
    );
  });

  it('README: the summary line table lists exactly its fields', () => {
    const readme = readFileSync(`${REPO_ROOT}README.md`, 'utf8');
    const at = readme.indexOf(`message \`${SUMMARY_MESSAGE}\``);
    assert.ok(at >= 0, 'the Logs section describes the summary line');
    const table = readme.slice(at).split('\n\n')[1] ?? '';
    const documented = [...table.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(documented.sort(), [...SUMMARY_FIELDS].sort());
    assert.ok(readme.includes(`first **${SUMMARY_BURST}**`) && readme.includes(`**${SUMMARY_INTERVAL_MS / 1000} s**`), 'the README gives the burst and the window');
  });
});
